import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Reads an SSE stream the way EventSource does, for `herald tail` and the tests: it follows
/// `retry:`, remembers the last id, and resumes with `Last-Event-ID` after every drop.
public struct SSEClient: Sendable {
    public enum Stop: Error { case noContent }

    public let url: String
    public var headers: [(String, String)] = []
    public var lastEventId: String?
    public var httpClient: HTTPClient

    public init(url: String, lastEventId: String? = nil, httpClient: HTTPClient = .shared) {
        self.url = url
        self.lastEventId = lastEventId
        self.httpClient = httpClient
    }

    /// One connection: calls `onEvent` for each event until the server ends the stream.
    /// Returns the retry delay the server asked for. Throws `Stop.noContent` on 204.
    public mutating func connectOnce(timeout: TimeAmount = .hours(24 * 365),
                                     onEvent: (SSEParser.Event) async throws -> Void) async throws -> Int? {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "text/event-stream")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let lastEventId { request.headers.add(name: "Last-Event-ID", value: lastEventId) }
        let response = try await httpClient.execute(request, timeout: timeout)
        if response.status == .noContent { throw Stop.noContent }
        guard response.status == .ok else {
            let body = try? await response.body.collect(upTo: 64 * 1024)
            throw SSEClientError(status: Int(response.status.code), body: body.map { String(buffer: $0) } ?? "")
        }
        var parser = SSEParser()
        for try await chunk in response.body {
            for event in parser.feed(chunk.readableBytesView) {
                // The id as of this event, not the parser's: the chunk may hold later events
                // that this client has not handled yet when it stops.
                if !event.id.isEmpty { lastEventId = event.id }
                try await onEvent(event)
            }
        }
        return parser.retryMilliseconds
    }

    /// Follows the stream forever, reconnecting with the last id after errors or ends.
    public mutating func follow(onState: (String) -> Void = { _ in },
                                onEvent: (SSEParser.Event) async throws -> Void) async throws {
        var retry = 3000
        var failures = 0
        while !Task.isCancelled {
            do {
                if let asked = try await connectOnce(onEvent: onEvent) { retry = asked }
                failures = 0
                onState("stream ended; reconnecting from id \(lastEventId ?? "none")")
            } catch Stop.noContent {
                onState("server answered 204: nothing more to follow")
                return
            } catch let error as SSEClientError where error.status < 500 && error.status != 429 {
                throw error
            } catch {
                failures += 1
                onState("connection failed (\(error)); retrying from id \(lastEventId ?? "none")")
            }
            // Backoff grows with consecutive failures, starting from the server's retry.
            let delay = min(retry * (1 << min(failures, 4)), 30_000)
            try await Task.sleep(for: .milliseconds(failures == 0 ? min(retry, 1000) : delay))
        }
    }
}

public struct SSEClientError: Error, CustomStringConvertible {
    public var status: Int
    public var body: String
    public var description: String { "HTTP \(status): \(body.trimmingCharacters(in: .whitespacesAndNewlines))" }
}
