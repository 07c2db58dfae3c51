import AsyncHTTPClient
import Foundation
import HeraldCore
import NIOCore

/// Herald as a real process on a free loopback port with its own database.
final class HeraldInstance: @unchecked Sendable {  // `process` is replaced only by the owning test
    let dir: TempDir
    let port: Int
    var process: ChildProcess
    let arguments: [String]
    let environment: [String: String]
    var baseURL: String { "http://127.0.0.1:\(port)" }
    var database: String { dir.file("herald.sqlite") }

    /// `store`: an SQLite file in `dir` unless given (a postgres:// URL, say).
    init(dir: TempDir, config: String? = nil, mqttPort: Int? = nil, store: String? = nil,
         environment: [String: String] = [:]) async throws {
        self.dir = dir
        self.port = try freePort()
        var arguments = ["serve", "--listen", "127.0.0.1:\(port)", "--db", store ?? dir.file("herald.sqlite"),
                         "--mqtt", mqttPort.map { "mqtt://127.0.0.1:\($0)" } ?? "none"]
        if let config {
            try config.write(toFile: dir.file("herald.yaml"), atomically: true, encoding: .utf8)
            arguments += ["--config", dir.file("herald.yaml")]
        }
        self.arguments = arguments
        self.environment = environment
        self.process = try ChildProcess(executable: heraldBinary, arguments: arguments,
                                        logPath: dir.file("herald.log"), environment: environment)
        try await waitUntilHealthy()
    }

    func waitUntilHealthy() async throws {
        // Each try is short, so a try that meets the process still starting leaves room for more.
        // Sixty seconds: a whole suite on two cores starts dozens of servers at once.
        do {
            try await eventually("herald to answer /healthz", seconds: 60) {
                try await self.get("/healthz", timeout: .seconds(5)).status == 200
            }
        } catch {
            // The temporary folder goes with the test: what the process said is kept in the failure.
            let state = process.isRunning ? "still running" : "exited"
            throw TestFailure("\(error) — herald on port \(port) \(state); its log:\n\(process.log.suffix(4000))")
        }
    }

    /// Waits until `/readyz` answers 200: on PostgreSQL, once the database is reached and migrated.
    func waitUntilReady() async throws {
        try await eventually("herald on port \(port) to answer /readyz with 200") {
            try await self.get("/readyz", timeout: .seconds(5)).status == 200
        }
    }

    /// Starts the process again on the same port and database; `healthy: false` does not wait for
    /// it to answer (for a process expected to die first).
    func restart(environment extra: [String: String]? = nil, healthy: Bool = true) async throws {
        if process.isRunning { await process.stop() }
        process = try ChildProcess(executable: heraldBinary, arguments: arguments,
                                   logPath: dir.file("herald.log"), environment: extra ?? environment)
        if healthy { try await waitUntilHealthy() }
    }

    func get(_ path: String, headers: [(String, String)] = [], timeout: TimeAmount = .seconds(30)) async throws -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: baseURL + path)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await executeRetryingClosedConnection(request, timeout: timeout)
        return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 64 << 20)))
    }

    func post(_ path: String, _ body: String) async throws -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await executeRetryingClosedConnection(request)
        return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 20)))
    }

    /// A DELETE with a JSON body; its status.
    func delete(_ path: String, _ body: String) async throws -> Int {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .DELETE
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
        return Int(try await executeRetryingClosedConnection(request).status.code)
    }

    /// Publishes and returns the id Herald answered with.
    func publish(_ channel: String, _ json: String) async throws -> Int64 {
        let answer = try await post("/api/channels/\(channel)/events", json)
        guard answer.status == 200, let id = Envelope.int(answer.body, "id") else {
            throw TestFailure("publish answered \(answer.status): \(answer.body)")
        }
        return id
    }

    /// Every stored event on the given selector, by paging `/api/events`.
    func allEvents(channel: String = "%23") async throws -> [Envelope] {
        var events: [Envelope] = []
        var after: Int64 = 0
        while true {
            let page = try await get("/api/events?channel=\(channel)&after=\(after)&limit=10000")
            let batch = try Envelope.list(page.body, "events")
            events += batch
            guard batch.count == 10_000, let last = batch.last else { return events }
            after = last.id
        }
    }

    /// Reads a stream until `stop` says so; a stream idle for 30 s fails (the client's read timeout).
    func stream(_ path: String, lastEventId: String? = nil, headers: [(String, String)] = [],
                until stop: @escaping @Sendable ([SSEParser.Event]) -> Bool) async throws -> [SSEParser.Event] {
        var client = SSEClient(url: baseURL + path, lastEventId: lastEventId, httpClient: testHTTPClient)
        client.headers = headers
        let collected = Collected()
        struct Done: Error {}
        do {
            _ = try await client.connectOnce { event in
                collected.append(event)
                if stop(collected.events) { throw Done() }
            }
        } catch is Done {}
        return collected.events
    }
}

/// One POST to `base`, never sent twice: a request Herald committed just before it was killed
/// would be stored again if retried (Herald has no idempotency key), which is the client's doing.
func publishOnce(to base: String, _ channel: String, _ json: String, timeout: TimeAmount = .seconds(5)) async throws -> Int64 {
    var request = HTTPClientRequest(url: base + "/api/channels/\(channel)/events")
    request.method = .POST
    request.headers.add(name: "Content-Type", value: "application/json")
    request.body = .bytes(ByteBuffer(string: json))
    let response = try await testHTTPClient.execute(request, timeout: timeout)
    let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
    guard response.status.code == 200, let id = Envelope.int(body, "id") else { throw TestFailure("publish answered \(response.status): \(body)") }
    return id
}

/// Herald closes a connection after a stream ends; a pooled connection can be picked just as that
/// close arrives. Like a browser, try such a request once more on a new connection.
func executeRetryingClosedConnection(_ request: HTTPClientRequest, timeout: TimeAmount = .seconds(30)) async throws -> HTTPClientResponse {
    do {
        return try await testHTTPClient.execute(request, timeout: timeout)
    } catch let error as HTTPClientError where error == .remoteConnectionClosed {
        return try await testHTTPClient.execute(request, timeout: timeout)
    } catch let error as ChannelError where error == .ioOnClosedChannel {
        return try await testHTTPClient.execute(request, timeout: timeout)
    }
}

/// Reads time out after 30 s without a byte, so a test waiting for an event that never comes fails
/// instead of hanging, while a publish of 10,000 events on a loaded two-core machine still gets
/// its answer (5 s was not always enough with the whole suite running).
let testHTTPClient = HTTPClient(
    eventLoopGroup: HTTPClient.defaultEventLoopGroup,
    configuration: .init(timeout: .init(connect: .seconds(5), read: .seconds(30))))

/// Events gathered by a callback.
final class Collected: @unchecked Sendable {  // guarded by `lock`
    private let lock = NSLock()
    private var items: [SSEParser.Event] = []
    func append(_ event: SSEParser.Event) { lock.withLock { items.append(event) } }
    var events: [SSEParser.Event] { lock.withLock { items } }
}

/// The parts of an event envelope the tests look at.
struct Envelope: Sendable, Equatable {
    var id: Int64
    var channel: String
    var type: String
    var key: String?
    var data: String

    init(json: String) throws {
        let members = try JSONText(validating: Array(json.utf8)).objectMembers()
        let fields = Dictionary(members.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        guard let id = fields["id"].flatMap({ Int64($0.singleLine) }), let channel = fields["channel"]?.stringValue else {
            throw TestFailure("not an envelope: \(json)")
        }
        self.id = id
        self.channel = channel
        self.type = fields["type"]?.stringValue ?? ""
        self.key = fields["key"]?.stringValue
        self.data = fields["data"]?.singleLine ?? ""
    }

    static func int(_ json: String, _ name: String) -> Int64? {
        (try? JSONText(validating: Array(json.utf8)).objectMembers())?.first { $0.key == name }.flatMap { Int64($0.value.singleLine) }
    }

    static func list(_ json: String, _ name: String) throws -> [Envelope] {
        guard let array = try JSONText(validating: Array(json.utf8)).objectMembers().first(where: { $0.key == name }) else {
            throw TestFailure("no \(name) in \(json)")
        }
        return try array.value.arrayElements().map { try Envelope(json: $0.singleLine) }
    }
}
