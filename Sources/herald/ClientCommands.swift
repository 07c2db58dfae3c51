import ArgumentParser
import AsyncHTTPClient
import Foundation
import HeraldCore
import NIOCore

struct Tail: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Follow events as they arrive; resumes by itself after a drop or a restart.")

    @Argument(help: "Channel selectors, e.g. sensors 'jobs/#' (default: every channel).")
    var selectors: [String] = []
    @Option(help: "Start after this event id (default: the most recent events).")
    var since: String?
    @Option(help: "Only events about this key.")
    var key: String?
    @Flag(help: "Print each event's JSON envelope on one line.")
    var json = false
    @OptionGroup var server: ServerOption
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        var query = (selectors.isEmpty ? ["#"] : selectors).map { "channel=" + percentEncoded($0) }
        if let key { query.append("key=" + percentEncoded(key)) }
        let url = server.endpoint("/sse?" + query.joined(separator: "&"))
        let shown = String(url.prefix { $0 != "?" })  // the query is the selectors the user typed; keeps the line short
        try await connection.withClient(command: "tail") { http in
            var client = SSEClient(url: url, lastEventId: since, httpClient: http)
            client.headers = server.headers
            do {
                try await client.follow(onReconnect: { next in
                    let wait = Self.seconds(next.retryMilliseconds)
                    switch next.reason {
                    case .ended: complain("tail", "stream ended; reconnecting from id \(next.lastEventId ?? "none") in \(wait)")
                    case .failed(let error): complain("tail", failureLine(error, url: shown) + "; retrying in \(wait)")
                    }
                }, onEvent: { event in
                    // Unbuffered, so `herald tail | grep` shows events as they come.
                    FileHandle.standardOutput.write(Data(((json ? event.data : Self.line(for: event)) + "\n").utf8))
                })
                complain("tail", "the server answered 204: nothing more to follow")
            } catch let error as SSEClientError {
                complain("tail", failureLine(error, url: shown))
                throw ExitCode.failure
            }
        }
    }

    /// `3 s`, `0.5 s`: a `retry:` in the unit people read.
    static func seconds(_ milliseconds: Int) -> String {
        milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : String(format: "%g s", Double(milliseconds) / 1000)
    }

    /// `#4711 sensors reading greenhouse/temp {"value":21.5}` — the data, with the envelope's fields up front.
    static func line(for event: SSEParser.Event) -> String {
        guard let json = try? JSONText(validating: Array(event.data.utf8)),
              let members = try? json.objectMembers() else {
            return "\(event.type) \(event.data)"
        }
        let fields = Dictionary(members.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        let parts = [
            "#" + (fields["id"]?.singleLine ?? event.id),
            fields["time"]?.stringValue ?? "",
            fields["channel"]?.stringValue ?? event.type,
            fields["type"]?.stringValue ?? "",
            fields["key"]?.stringValue ?? "-",
            fields["data"]?.singleLine ?? event.data,
        ]
        return parts.joined(separator: " ")
    }
}

struct Publish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Publish one event over HTTP and print its id.")

    @Argument(help: "Channel name.")
    var channel: String
    @Argument(help: "The event's data as JSON, e.g. '{\"value\": 21.5}'.")
    var data: String
    @Option(help: "Event type (default: message).")
    var type: String?
    @Option(help: "The key the event is about.")
    var key: String?
    @OptionGroup var server: ServerOption

    func run() async throws {
        do { _ = try JSONText(validating: Array(data.utf8)) } catch {
            throw ValidationError("data is not valid JSON: \(error)")
        }
        var body = "{\"data\":" + data
        if let type { body += ",\"type\":" + JSONText.quoted(type) }
        if let key { body += ",\"key\":" + JSONText.quoted(key) }
        body += "}"
        var request = HTTPClientRequest(url: server.endpoint("/api/channels/\(percentEncoded(channel))/events"))
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
        print(try await send(request, server, command: "publish"))
    }
}

struct Channels: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List channels with their event counts and ids.")

    @OptionGroup var server: ServerOption
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let answer = try await connection.withClient(command: "channels") { http in
            try await send(HTTPClientRequest(url: server.endpoint("/api/channels")), server, command: "channels", client: http)
        }
        guard let members = try? JSONText(validating: Array(answer.utf8)).objectMembers(),
              let list = try? members.first(where: { $0.key == "channels" })?.value.arrayElements() else {
            print(answer)
            return
        }
        print("CHANNEL".padding(toLength: 28, withPad: " ", startingAt: 0) + "EVENTS    FIRST       LAST        SUBSCRIBERS  LAST EVENT")
        for item in list {
            let fields = Dictionary((try? item.objectMembers())?.map { ($0.key, $0.value) } ?? [], uniquingKeysWith: { a, _ in a })
            func column(_ name: String, _ width: Int) -> String {
                let text = fields[name].map { $0.stringValue ?? $0.singleLine } ?? ""
                return text.padding(toLength: max(width, text.count + 1), withPad: " ", startingAt: 0)
            }
            print(column("name", 28) + column("count", 10) + column("firstId", 12) + column("lastId", 12)
                  + column("subscribers", 13) + column("lastTime", 0))
        }
    }
}

/// Sends a request and returns the body; a failure is told on one line of stderr (the server's
/// JSON error as its message) and ends the command with status 1.
func send(_ request: HTTPClientRequest, _ server: ServerOption, command: String,
          client: HTTPClient = .shared) async throws -> String {
    var request = request
    for (name, value) in server.headers { request.headers.add(name: name, value: value) }
    do {
        let response = try await client.execute(request, timeout: .seconds(30))
        let body = String(buffer: try await response.body.collect(upTo: 16 * 1024 * 1024))
        guard (200..<300).contains(response.status.code) else {
            throw SSEClientError(status: Int(response.status.code), reason: response.status.reasonPhrase, body: body)
        }
        return body.trimmingCharacters(in: .whitespacesAndNewlines)
    } catch {
        complain(command, failureLine(error, url: request.url))
        throw ExitCode.failure
    }
}

func percentEncoded(_ text: String) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~:")
    return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
}
