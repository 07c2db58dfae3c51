import Foundation
import HeraldCore
import Logging
import Testing

/// What one node does for all on PostgreSQL (`LeasedDuties`): notifications out and the stale
/// watcher. Two nodes take publishes and both see every alert, yet each notification goes out
/// once and each silence gives one `stale` event; when the node doing the duties is SIGKILLed,
/// the other takes them over and nothing is missed or sent twice.
@Suite(.serialized) struct PostgresDutiesTests {
    /// Waits until exactly one of `nodes` says in `/readyz` that it runs the duties; returns it.
    static func dutiesHolder(_ nodes: [HeraldInstance]) async throws -> HeraldInstance {
        var holder: HeraldInstance?
        try await eventually("exactly one node to answer /readyz with \"duties\":\"running\"") {
            var running: [HeraldInstance] = []
            for node in nodes where try await node.get("/readyz", timeout: .seconds(5)).body.contains("\"duties\":\"running\"") {
                running.append(node)
            }
            holder = running.first
            return running.count == 1
        }
        return holder!
    }

    /// Two ready nodes on `url`, each with the webhook target of `NotifyWebhookTests` pointed at `receiver`.
    static func webhookNodes(on url: String, receiver: ScriptedHTTPServer, timeout: String = "1s") async throws -> [HeraldInstance] {
        var nodes: [HeraldInstance] = []
        for _ in 0..<2 {
            let dir = try TempDir()
            let config = try NotifyWebhookTests.config(dir, port: receiver.port).replacingOccurrences(of: "timeout: 1s", with: "timeout: \(timeout)")
            nodes.append(try await HeraldInstance(dir: dir, config: config, store: url))
        }
        for node in nodes { try await node.waitUntilReady() }
        return nodes
    }

    @Test func eachNotificationGoesOutOnceFromTwoNodesAndTheOtherNodeTakesOverAfterAKill() async throws {
        let receiver = try ScriptedHTTPServer { _, _ in .init(bytes: "HTTP/1.1 204 No Content\r\n\r\n") }
        defer { receiver.stop() }
        let server = try await PostgresServer()
        let url = try await server.makeDatabase()
        let nodes = try await Self.webhookNodes(on: url, receiver: receiver)
        let holder = try await Self.dutiesHolder(nodes)

        var value = 31
        func readings(_ count: Int, on nodes: [HeraldInstance]) async throws {
            for n in 0..<count {
                try await NotifyWebhookTests.reading(nodes[n % nodes.count], value)
                value = value == 31 ? 28 : 31  // raised, cleared, raised, …
            }
        }
        func deliveredKeys() -> [Int64] { receiver.requests.compactMap { Request($0).header("idempotency-key").flatMap(Int64.init) } }
        func settled(_ survivors: [HeraldInstance], alerts: Int) async throws {
            try await eventually("\(alerts) alert notifications delivered and none owed (\(receiver.requests.count) requests so far)") {
                for node in survivors where !(try await node.get("/api/notify").body.contains("\"owed\":0")) { return false }
                return deliveredKeys().count >= alerts
            }
        }

        // Readings through both nodes: every alert is stored once and notified once, in order.
        try await readings(10, on: nodes)
        try await settled(nodes, alerts: 10)
        var alerts = try await nodes[0].allEvents(channel: "alerts").map(\.id)
        #expect(alerts.count == 10)
        #expect(deliveredKeys() == alerts, "each alert delivered once, in id order, though both nodes saw every one")

        // The node doing the duties dies; the other takes them over and sends what comes next.
        await holder.process.stop(SIGKILL)
        let survivor = nodes.first { $0 !== holder }!
        try await readings(10, on: [survivor])
        #expect(try await Self.dutiesHolder([survivor]) === survivor)
        try await settled([survivor], alerts: 20)
        alerts = try await survivor.allEvents(channel: "alerts").map(\.id)
        #expect(alerts.count == 20)
        #expect(deliveredKeys() == alerts, "nothing sent twice or missed across the takeover")

        await survivor.process.stop()
        await server.stop()
    }

    /// A node stopped (SIGTERM) while a notification is in flight finishes it and marks it sent
    /// before it lets the duties go: the node that takes over does not send it again.
    @Test func aNodeStoppedMidDeliveryFinishesItBeforeTheOtherTakesOver() async throws {
        let receiver = try ScriptedHTTPServer { index, _ in
            if index == 0 { Thread.sleep(forTimeInterval: 3) }  // the first answer comes after the stop
            return .init(bytes: "HTTP/1.1 204 No Content\r\n\r\n")
        }
        defer { receiver.stop() }
        let server = try await PostgresServer()
        let url = try await server.makeDatabase()
        let nodes = try await Self.webhookNodes(on: url, receiver: receiver, timeout: "10s")
        let holder = try await Self.dutiesHolder(nodes)
        let other = nodes.first { $0 !== holder }!
        try await NotifyWebhookTests.reading(other, 31)
        try await eventually("the alert's notification to reach the receiver") { receiver.requests.count == 1 }
        await holder.process.stop()  // SIGTERM, while the receiver has not answered yet
        #expect(try await Self.dutiesHolder([other]) === other)
        try await eventually("nothing owed on the node that took over") {
            try await other.get("/api/notify").body.contains("\"owed\":0")
        }
        let alerts = try await other.allEvents(channel: "alerts").map(\.id)
        #expect(receiver.requests.compactMap { Request($0).header("idempotency-key").flatMap(Int64.init) } == alerts,
                "the notification in flight at the stop went out once")
        await other.process.stop()
        await server.stop()
    }

    @Test func aSilentSensorGoesStaleOnceFromTwoNodesAndFreshAgainAfterTheWatchingNodeDies() async throws {
        let config = """
            routes:
              - { topic: "sensors/+/+", channel: sensors, type: reading, key: "{1}/{2}", stale_after: 1s }
            """
        let server = try await PostgresServer()
        let url = try await server.makeDatabase()
        var nodes: [HeraldInstance] = []
        for _ in 0..<2 { nodes.append(try await HeraldInstance(dir: try TempDir(), config: config, store: url)) }
        for node in nodes { try await node.waitUntilReady() }
        let holder = try await Self.dutiesHolder(nodes)
        let standby = nodes.first { $0 !== holder }!

        func types() async throws -> [String] { try await standby.allEvents(channel: "sensors").map(\.type) }
        func read(on node: HeraldInstance, _ value: Int) async throws {
            _ = try await node.publish("sensors", #"{"type":"reading","key":"a/temp","data":{"value":\#(value)}}"#)
        }
        // Stale, fresh through the other node, stale again: each once, though both nodes saw every reading.
        try await read(on: standby, 1)
        try await eventually("the sensor to go stale") { try await types().contains("stale") }
        try await read(on: holder, 2)
        try await eventually("the sensor to be fresh, then stale again") { try await types() == ["reading", "stale", "reading", "fresh", "stale"] }

        // The watching node dies while the sensor is stale; it speaks again through the other.
        await holder.process.stop(SIGKILL)
        try await read(on: standby, 3)
        #expect(try await Self.dutiesHolder([standby]) === standby)
        try await eventually("the other node to say fresh and then stale (so far: \(try await types()))") {
            try await types().count >= 8
        }
        #expect(try await types() == ["reading", "stale", "reading", "fresh", "stale", "reading", "fresh", "stale"])

        await standby.process.stop()
        await server.stop()
    }
}

/// `herald notify test` on PostgreSQL reads what it needs (the browsers subscribed) from the
/// shared store, and says so when it cannot reach it.
@Suite(.serialized) struct PostgresNotifyTestCommandTests {
    static func config(store: String) throws -> HeraldConfig {
        try ConfigLoader.parse("""
            store: { path: "\(store)" }
            notify:
              - { name: browsers, webpush: { subject: "mailto:ops@example.com" } }
            """)
    }

    @Test func notifyTestReadsTheSubscriptionsFromPostgresOrNamesTheServerItCannotReach() async throws {
        let server = try await PostgresServer()
        let url = try await server.makeDatabase()
        var logger = Logger(label: "test.notify")
        logger.logLevel = .critical  // the waits for the stopped server are expected
        // Generous: on a loaded machine the first connect and the migrations take a while.
        let outcome = try await NotifyTest.send(target: "browsers", config: try Self.config(store: url), logger: logger,
                                                patience: .seconds(120))
        #expect(!outcome.sent && outcome.detail.contains("no browser has subscribed yet"), "\(outcome.detail)")
        await server.stop()
        let unreachable = await #expect(throws: (any Error).self) {
            _ = try await NotifyTest.send(target: "browsers", config: try Self.config(store: url), logger: logger, patience: .seconds(3))
        }
        #expect(String(describing: unreachable).contains("127.0.0.1:\(server.port)"), "\(String(describing: unreachable))")
    }
}
