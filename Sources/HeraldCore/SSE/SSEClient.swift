import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Reads an SSE stream the way EventSource does, for `herald tail` and the tests: it follows
/// `retry:`, remembers the last id, and resumes with `Last-Event-ID` after every drop.
public struct SSEClient: Sendable {
    public enum Stop: Error { case noContent }

    /// What `follow` tells before each wait: why it reconnects, after how long, from which id.
    public struct Reconnect: Sendable {
        public enum Reason: Sendable { case ended, failed(any Error) }
        public var reason: Reason
        public var retryMilliseconds: Int
        public var lastEventId: String?
    }

    public let url: String
    public var headers: [(String, String)] = []
    public var lastEventId: String?
    /// The reconnection delay: the last `retry:` any connection carried, 3 s until one does (as EventSource).
    public private(set) var retryMilliseconds = 3000
    public var httpClient: HTTPClient

    public init(url: String, lastEventId: String? = nil, httpClient: HTTPClient = .shared) {
        self.url = url
        self.lastEventId = lastEventId
        self.httpClient = httpClient
    }

    /// One connection: calls `onEvent` for each event until the server ends the stream.
    /// Returns the retry delay this connection asked for. Throws `Stop.noContent` on 204.
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
            throw SSEClientError(status: Int(response.status.code), reason: response.status.reasonPhrase,
                                 body: body.map { String(buffer: $0) } ?? "")
        }
        var parser = SSEParser()
        for try await chunk in response.body {
            let events = parser.feed(chunk.readableBytesView)
            // Kept before the events are handled: a connection that fails later still leaves it.
            if let asked = parser.retryMilliseconds { retryMilliseconds = asked }
            for event in events {
                // The id as of this event, not the parser's: the chunk may hold later events
                // that this client has not handled yet when it stops.
                if !event.id.isEmpty { lastEventId = event.id }
                try await onEvent(event)
            }
        }
        return parser.retryMilliseconds
    }

    /// Follows the stream until the server answers 204, reconnecting with the last id after an
    /// end or an error. Each wait is exactly `retryMilliseconds`, as EventSource waits: the server
    /// chose it. A 4xx other than 429 is thrown, since asking again gets the same answer.
    public mutating func follow(onReconnect: (Reconnect) -> Void = { _ in },
                                onEvent: (SSEParser.Event) async throws -> Void) async throws {
        while !Task.isCancelled {
            let reason: Reconnect.Reason
            do {
                _ = try await connectOnce(onEvent: onEvent)
                reason = .ended
            } catch Stop.noContent {
                return
            } catch let error as SSEClientError where error.status < 500 && error.status != 429 {
                throw error
            } catch {
                reason = .failed(error)
            }
            onReconnect(Reconnect(reason: reason, retryMilliseconds: retryMilliseconds, lastEventId: lastEventId))
            try await Task.sleep(for: .milliseconds(retryMilliseconds))
        }
    }
}

/// A stream request answered with a status other than 200 or 204.
public struct SSEClientError: Error, CustomStringConvertible {
    public var status: Int
    public var reason: String
    public var body: String

    public init(status: Int, reason: String, body: String) {
        self.status = status
        self.reason = reason
        self.body = body
    }

    /// What the body says, on one line: Herald's JSON error as `error: detail`; of any other
    /// text (a proxy's HTML page) a short excerpt, or nothing when it only repeats the status.
    public var message: String? {
        if let members = try? JSONText(validating: Array(body.utf8)).objectMembers() {
            let fields = Dictionary(members.map { ($0.key, $0.value.stringValue ?? $0.value.singleLine) },
                                    uniquingKeysWith: { a, _ in a })
            let parts = [fields["error"], fields["detail"]].compactMap { $0 }.filter { !$0.isEmpty }
            if !parts.isEmpty { return Self.excerpt(parts.joined(separator: ": ")) }
        }
        var text = body
        if text.range(of: "<html", options: .caseInsensitive) != nil || text.hasPrefix("<") {
            // A page's title is its one-line summary; its markup is noise on a terminal.
            guard let open = text.range(of: "<title>", options: .caseInsensitive),
                  let close = text.range(of: "</title>", options: .caseInsensitive, range: open.upperBound..<text.endIndex)
            else { return nil }
            text = String(text[open.upperBound..<close.lowerBound])
        }
        let line = Self.excerpt(text)
        return line.isEmpty || line == "\(status) \(reason)" || line == "\(status)" ? nil : line
    }

    public var description: String { "\(status) \(reason)" + (message.map { ": " + $0 } ?? "") }

    /// Whitespace and control characters collapsed to single spaces, cut to 120 characters.
    static func excerpt(_ text: String) -> String {
        let words = text.unicodeScalars.split { CharacterSet.whitespacesAndNewlines.union(.controlCharacters).contains($0) }
        let line = words.map { String(String.UnicodeScalarView($0)) }.joined(separator: " ")
        return line.count <= 120 ? line : String(line.prefix(119)) + "…"
    }
}
