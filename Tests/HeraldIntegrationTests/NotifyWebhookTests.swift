import Crypto
import Foundation
import Testing

/// Webhook and ntfy targets against a real local receiver: refusals, a timeout, recovery, a
/// SIGKILL while deliveries are owed, a permanent refusal, a rate limit, and `herald notify test`.
@Suite struct NotifyWebhookTests {
    static let rules = """
        alert_rules:
          - { name: greenhouse-hot, channel: sensors, key: greenhouse/temp, field: value, above: 30, clear_below: 29, severity: warning }
        """

    static func config(_ dir: TempDir, port: Int, extra: String = "") throws -> String {
        try "topsecret\n".write(toFile: dir.file("hook.secret"), atomically: true, encoding: .utf8)
        return rules + """

            notify:
              - name: ops
                webhook: { url: "http://127.0.0.1:\(port)/hook", secret_file: \(dir.file("hook.secret")) }
                timeout: 1s
            \(extra)
            """
    }

    static func reading(_ herald: HeraldInstance, _ value: Int) async throws {
        _ = try await herald.publish("sensors", #"{"type":"reading","key":"greenhouse/temp","data":{"value":\#(value)}}"#)
    }

    @Test func refusalsAndATimeoutAreRetriedUntilEachSignedEnvelopeArrivesInOrder() async throws {
        let receiver = try ScriptedHTTPServer { index, _ in
            switch index {
            case 0: return .init(bytes: "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 4\r\n\r\nbusy")
            case 1:
                Thread.sleep(forTimeInterval: 2.5)  // Herald gives up on it after 1 s
                return .init(bytes: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            case 2: return .init(bytes: "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n")
            default: return .init(bytes: "HTTP/1.1 204 No Content\r\n\r\n")
            }
        }
        defer { receiver.stop() }
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir, config: try Self.config(dir, port: receiver.port))
        try await Self.reading(herald, 31)
        try await Self.reading(herald, 28)
        let alerts = try await herald.allEvents(channel: "alerts")
        #expect(alerts.map(\.type) == ["raised", "cleared"])
        try await eventually("both alert events delivered: /api/notify owes nothing after \(receiver.requests.count) requests") {
            let answer = try await herald.get("/api/notify")
            return receiver.requests.count >= 5 && answer.body.contains("\"owed\":0")
        }
        let requests = receiver.requests.map(Request.init)
        let envelopes = try await herald.get("/api/events?channel=alerts").body
        for request in requests {
            #expect(request.head.hasPrefix("POST /hook HTTP/1.1"))
            #expect(request.header("content-type") == "application/json")
            let expected = HMAC<SHA256>.authenticationCode(for: Array(request.body.utf8), using: SymmetricKey(data: Array("topsecret".utf8)))
            #expect(request.header("x-herald-signature") == "sha256=" + expected.map { String(format: "%02x", $0) }.joined())
            #expect(envelopes.contains(request.body), "each body is the event's envelope as /api/events gives it")
            #expect(request.header("idempotency-key") == Envelope.int(request.body, "id").map(String.init))
        }
        // In id order, every attempt of one event with the same key: at least once, never reordered.
        let keys = requests.compactMap { $0.header("idempotency-key").flatMap(Int64.init) }
        #expect(keys == keys.sorted())
        #expect(Set(keys) == Set(alerts.map(\.id)))
        // The gauges follow the outbox when the service goes idle, a moment after the last delivery.
        try await eventually("herald_notify_owed{target=\"ops\"} 0 in /metrics") {
            try await herald.get("/metrics").body.contains("herald_notify_owed{target=\"ops\"} 0")
        }
        let metrics = try await herald.get("/metrics").body
        #expect(metrics.contains("herald_notify_sent_total{target=\"ops\"} 2"))
        #expect(!metrics.contains("herald_notify_retries_total{target=\"ops\"} 0"))
    }

    @Test func whatIsOwedToATargetNoLongerConfiguredGoesToDeadletterAtStart() async throws {
        let receiver = try ScriptedHTTPServer { _, _ in .init(bytes: "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n") }
        defer { receiver.stop() }
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir, config: try Self.config(dir, port: receiver.port))
        try await Self.reading(herald, 31)
        try await eventually("one delivery owed and refused") {
            let body = try await herald.get("/api/notify").body
            return body.contains("\"owed\":1") && body.contains("HTTP 503")
        }
        await herald.process.stop()
        try Self.rules.write(toFile: dir.file("herald.yaml"), atomically: true, encoding: .utf8)
        try await herald.restart()
        try await eventually("the owed delivery in $deadletter") {
            try await herald.allEvents(channel: "%24deadletter").contains { $0.type == "notify" && $0.data.contains("no longer configured") }
        }
    }

    @Test func deliveriesOwedAtASIGKILLGoOutAfterTheRestart() async throws {
        let open = LockedFlag()
        let receiver = try ScriptedHTTPServer { _, _ in
            open.value ? .init(bytes: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                : .init(bytes: "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n")
        }
        defer { receiver.stop() }
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir, config: try Self.config(dir, port: receiver.port))
        for value in [31, 28, 31] { try await Self.reading(herald, value) }
        try await eventually("the first delivery refused, three owed") {
            let body = try await herald.get("/api/notify").body
            return body.contains("\"owed\":3") && body.contains("HTTP 503")
        }
        await herald.process.stop(SIGKILL)
        let refusedBefore = receiver.requests.count
        open.value = true
        try await herald.restart()
        try await eventually("the three owed deliveries sent after the restart") {
            try await herald.get("/api/notify").body.contains("\"owed\":0")
        }
        let delivered = receiver.requests.dropFirst(refusedBefore).map(Request.init).compactMap { $0.header("idempotency-key").flatMap(Int64.init) }
        let alerts = try await herald.allEvents(channel: "alerts").map(\.id)
        #expect(Array(Set(delivered)).sorted() == alerts)
        #expect(delivered == delivered.sorted())
    }

    @Test func aPermanentRefusalGoesToDeadletterAndTheNextDeliveryStillGoes() async throws {
        let receiver = try ScriptedHTTPServer { index, _ in
            index == 0 ? .init(bytes: "HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\n\r\nbad payload")
                : .init(bytes: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        }
        defer { receiver.stop() }
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir, config: try Self.config(dir, port: receiver.port))
        try await Self.reading(herald, 31)
        try await Self.reading(herald, 28)
        try await eventually("the raised alert in $deadletter and the cleared one delivered") {
            let dead = try await herald.allEvents(channel: "%24deadletter")
            let owed = try await herald.get("/api/notify").body
            return dead.contains { $0.type == "notify" } && receiver.requests.count >= 2 && owed.contains("\"owed\":0")
        }
        let alerts = try await herald.allEvents(channel: "alerts")
        let dead = try #require(try await herald.allEvents(channel: "%24deadletter").first { $0.type == "notify" })
        #expect(dead.key == "ops")
        #expect(dead.data.contains("HTTP 400: bad payload"))
        #expect(dead.data.contains("\"eventId\":\(alerts[0].id)"))
        #expect(Request(receiver.requests[1]).header("idempotency-key") == String(alerts[1].id))
    }

    @Test func aDeliveryStillRefusedAfterMaxAgeIsGivenUpToDeadletter() async throws {
        let receiver = try ScriptedHTTPServer { _, _ in
            .init(bytes: "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n")
        }
        defer { receiver.stop() }
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir, config: try Self.config(dir, port: receiver.port, extra: "    max_age: 3s"))
        try await Self.reading(herald, 31)
        try await eventually("the delivery given up after max_age") {
            try await herald.allEvents(channel: "%24deadletter").contains { $0.type == "notify" && $0.data.contains("not delivered within max_age") }
        }
        let dead = try #require(try await herald.allEvents(channel: "%24deadletter").first { $0.type == "notify" })
        #expect(dead.data.contains("last: HTTP 503"))
        #expect(receiver.requests.count >= 2)
        try await eventually("nothing owed any more") { try await herald.get("/api/notify").body.contains("\"owed\":0") }
        try await eventually("the expiry counted in herald_notify_failed_total") {
            try await herald.get("/metrics").body.contains("herald_notify_failed_total{target=\"ops\",reason=\"expired\"} 1")
        }
    }

    @Test func aRateLimitSendsOnceAndFoldsTheRestOfItsWindowIntoTheLatest() async throws {
        let receiver = try ScriptedHTTPServer { _, _ in .init(bytes: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") }
        defer { receiver.stop() }
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir, config: try Self.config(dir, port: receiver.port, extra: "    rate_limit: 8s"))
        try await Self.reading(herald, 31)
        try await eventually("the first alert sent") { receiver.requests.count == 1 }
        for value in [28, 31, 28] { try await Self.reading(herald, value) }
        try await eventually("the window's three changes sent as one") { receiver.requests.count == 2 }
        let alerts = try await herald.allEvents(channel: "alerts")
        let folded = Request(receiver.requests[1])
        #expect(folded.header("x-herald-folded") == "2")
        #expect(folded.header("idempotency-key") == String(alerts[3].id))
        #expect(folded.body.contains("\"type\":\"cleared\""))
        try await eventually("nothing more owed") { try await herald.get("/api/notify").body.contains("\"owed\":0") }
        #expect(receiver.requests.count == 2)
    }

    @Test func ntfyGetsTitlePriorityTagsAndTheToken() async throws {
        let receiver = try ScriptedHTTPServer { _, _ in .init(bytes: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}") }
        defer { receiver.stop() }
        let dir = try TempDir()
        try "tk_herald\n".write(toFile: dir.file("ntfy.token"), atomically: true, encoding: .utf8)
        let herald = try await HeraldInstance(dir: dir, config: Self.rules + """

            notify:
              - name: phone
                ntfy: { url: "http://127.0.0.1:\(receiver.port)/greenhouse", token_file: \(dir.file("ntfy.token")) }
            """)
        try await Self.reading(herald, 31)
        try await eventually("ntfy got the alert") { receiver.requests.count == 1 }
        let request = Request(receiver.requests[0])
        #expect(request.head.hasPrefix("POST /greenhouse HTTP/1.1"))
        #expect(request.header("title") == "warning: greenhouse-hot")
        #expect(request.header("priority") == "4")
        #expect(request.header("tags") == "warning,raised,greenhouse-hot")
        #expect(request.header("authorization") == "Bearer tk_herald")
        #expect(request.body == "value of greenhouse/temp is 31, beyond 30")
    }

    @Test func notifyTestSendsOneMadeUpAlertNowAndSaysWhatHappened() async throws {
        let receiver = try ScriptedHTTPServer { index, _ in
            index == 0 ? .init(bytes: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                : .init(bytes: "HTTP/1.1 401 Unauthorized\r\nContent-Length: 9\r\n\r\nwho r u?")
        }
        defer { receiver.stop() }
        let dir = try TempDir()
        try (try Self.config(dir, port: receiver.port) + "\nstore: { path: \(dir.file("herald.sqlite")) }\n")
            .write(toFile: dir.file("herald.yaml"), atomically: true, encoding: .utf8)
        let sent = try await runHerald(["notify", "test", "ops", "--config", dir.file("herald.yaml")], dir: dir)
        #expect(sent.status == 0 && sent.output.contains("ops: sent"), "\(sent.output)")
        let body = Request(try #require(receiver.requests.first)).body
        #expect(body.contains("\"type\":\"raised\"") && body.contains("A test notification from Herald"))
        let refused = try await runHerald(["notify", "test", "ops", "--config", dir.file("herald.yaml")], dir: dir)
        #expect(refused.status == 1 && refused.output.contains("refused: HTTP 401"), "\(refused.output)")
        let unknown = try await runHerald(["notify", "test", "nobody", "--config", dir.file("herald.yaml")], dir: dir)
        #expect(unknown.status == 2 && unknown.output.contains("no notify target named 'nobody' (known: ops)"), "\(unknown.output)")
    }

    /// Runs the binary to its end; its output and exit status.
    func runHerald(_ arguments: [String], dir: TempDir) async throws -> (status: Int32, output: String) {
        let log = dir.file("cli-\(UUID().uuidString).log")
        let child = try ChildProcess(executable: heraldBinary, arguments: arguments, logPath: log)
        try await eventually("herald \(arguments.joined(separator: " ")) to finish", seconds: 60) { !child.isRunning }
        return (child.process.terminationStatus, child.log)
    }
}

/// One request as the receiver read it.
struct Request {
    var head: String
    var body: String

    init(_ raw: String) {
        let parts = raw.components(separatedBy: "\r\n\r\n")
        head = parts[0]
        body = parts.dropFirst().joined(separator: "\r\n\r\n")
    }

    func header(_ name: String) -> String? {
        for line in head.components(separatedBy: "\r\n").dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == name { return parts[1].trimmingCharacters(in: .whitespaces) }
        }
        return nil
    }
}

final class LockedFlag: @unchecked Sendable {  // `flag` is guarded by `lock`
    private let lock = NSLock()
    private var flag = false
    var value: Bool {
        get { lock.withLock { flag } }
        set { lock.withLock { flag = newValue } }
    }
}
