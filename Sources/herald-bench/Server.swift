import ArgumentParser
import NIOCore

enum ServerKind: String, ExpressibleByArgument, Sendable {
    case herald
    case nchan
}

/// Where a run subscribes and publishes, for the server under test. Only loopback addresses are
/// accepted: this tool generates load and must never point at another machine.
struct ServerOptions: ParsableArguments {
    @Option(help: "The server under test: herald or nchan.")
    var server: ServerKind = .herald

    @Option(help: "Base URL (loopback only).")
    var url = "http://127.0.0.1:8080"

    @Option(name: .customLong("publish-url"),
            help: "Publish to this base URL instead of --url: another Herald node on the same PostgreSQL database (loopback only).")
    var publishURL: String?

    @Option(help: "Channel to publish to and subscribe to.")
    var channel = "bench"

    @Option(name: .customLong("server-pid"), help: "Process(es) whose CPU time and RSS are read from /proc (repeatable).")
    var serverPids: [Int32] = []

    func validate() throws {
        _ = try endpoint()
    }

    func endpoint() throws -> Endpoint {
        var endpoint = try Self.endpoint(url, kind: server, channel: channel)
        if let publishURL { endpoint.publishBase = try Self.endpoint(publishURL, kind: server, channel: channel).base }
        return endpoint
    }

    private static func endpoint(_ url: String, kind server: ServerKind, channel: String) throws -> Endpoint {
        var rest = Substring(url)
        guard rest.hasPrefix("http://") else { throw ValidationError("--url must start with http://") }
        rest = rest.dropFirst("http://".count)
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        let parts = rest.split(separator: ":", maxSplits: 1)
        let host = String(parts.first ?? "")
        guard host == "127.0.0.1" || host == "localhost" else {
            throw ValidationError("only loopback targets are allowed (127.0.0.1 or localhost), got \(host)")
        }
        let port = parts.count == 2 ? Int(parts[1]) : 80
        guard let port, (1...65_535).contains(port) else { throw ValidationError("bad port in --url") }
        return Endpoint(kind: server, host: "127.0.0.1", port: port, channel: channel)
    }
}

/// Paths and bodies for one server kind.
struct Endpoint: Sendable {
    var kind: ServerKind
    var host: String
    var port: Int
    var channel: String

    var base: String { "http://\(host):\(port)" }
    /// Where events are published: `base` unless `--publish-url` names another node.
    var publishBase: String?

    /// The SSE stream of `channel`, starting at the live head (no recent events first).
    var subscribePath: String {
        switch kind {
        case .herald: "/channels/\(channel)/sse?replay=0"
        case .nchan: "/sub/\(channel)"
        }
    }

    var publishURL: String {
        switch kind {
        case .herald: "\(publishBase ?? base)/api/channels/\(channel)/events"
        case .nchan: "\(publishBase ?? base)/pub/\(channel)"
        }
    }

    /// The payload every client recognises: a sequence number and the publish time.
    static func payload(seq: Int, nanos: UInt64) -> String {
        "{\"bseq\":\(seq),\"bts\":\(nanos)}"
    }

    func publishBody(seq: Int, nanos: UInt64) -> String {
        switch kind {
        case .herald: "{\"data\":\(Self.payload(seq: seq, nanos: nanos))}"
        case .nchan: Self.payload(seq: seq, nanos: nanos)
        }
    }
}
