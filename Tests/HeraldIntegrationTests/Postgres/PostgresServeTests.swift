import Foundation
import HeraldCore
import Testing

/// `herald serve` on PostgreSQL, as processes: several nodes on one database, publishes spread
/// over them, and clients that resume on any node, through a SIGKILL, with every event once and
/// in order.
@Suite(.serialized) struct PostgresServeTests {
    private static let path = "/sse?channel=sensors/%23"

    @Test func twoNodesServeOneLogAndAStreamResumesExactlyOnTheOtherAfterAKill() async throws {
        let server = try await PostgresServer()
        let url = try await server.makeDatabase()
        let a = try await HeraldInstance(dir: try TempDir(), store: url)
        let b = try await HeraldInstance(dir: try TempDir(), store: url)
        for node in [a, b] { try await node.waitUntilReady() }

        var published: [Int64] = []
        func publish(_ count: Int, on nodes: [HeraldInstance]) async throws {
            for n in 0..<count {
                let node = nodes[n % nodes.count]
                published.append(try await node.publish("sensors/\(node === a ? "a" : "b")", "{\"data\":{\"n\":\(published.count)}}"))
            }
        }
        try await publish(20, on: [a, b])

        // A client on A reads from the start, and live as publishes go on through both nodes.
        let seenOnA = Collected()
        let reader = Task {
            var client = SSEClient(url: a.baseURL + Self.path, lastEventId: "0", httpClient: testHTTPClient)
            _ = try? await client.connectOnce { seenOnA.append($0) }
        }
        try await eventually("the client on A to read the 20 stored events") { seenOnA.events.count >= 20 }
        try await publish(10, on: [b, a])
        try await eventually("the client on A to get 30 events, 10 of them live (\(seenOnA.events.count) so far)") {
            seenOnA.events.count >= 30
        }

        await a.process.stop(SIGKILL)
        _ = await reader.result
        try await publish(10, on: [b])
        let lastOnA = try #require(seenOnA.events.last?.id)
        let target = String(published.last!)
        let resumed = try await b.stream(Self.path, lastEventId: lastOnA) { $0.last?.id == target }
        #expect(!resumed.contains { $0.type == "$reset" }, "the resume on B was not exact: \(resumed.map(\.data))")
        let delivered = (seenOnA.events + resumed).compactMap { Int64($0.id) }
        #expect(delivered == published, "every event once, in id order, across the kill and the switch of node")
        #expect(published == Array(1...Int64(published.count)), "one id order across the nodes, with no gap")

        // A comes back and serves the same log: a client from the start sees the events it missed.
        try await a.restart()
        try await a.waitUntilReady()
        try await publish(5, on: [a, b])
        let last = String(published.last!)
        let everything = try await a.stream(Self.path, lastEventId: "0") { $0.last?.id == last }
        #expect(everything.compactMap { Int64($0.id) } == published)

        await a.process.stop()
        await b.process.stop()
        await server.stop()
    }

    /// One node holds the broker session and the other stands by; the holder is killed while
    /// QoS 1 messages flow, the other takes the session, and every message is stored once.
    @Test func theMQTTSessionFailsOverToTheOtherNodeByAKillWithEveryMessageOnce() async throws {
        let server = try await PostgresServer()
        let url = try await server.makeDatabase()
        let broker = try await MosquittoBroker(dir: try TempDir())
        let config = "mqtt: { client_id: herald-cluster, keepalive_seconds: 5 }\n"
        let nodes = [try await HeraldInstance(dir: try TempDir(), config: config, mqttPort: broker.port, store: url),
                     try await HeraldInstance(dir: try TempDir(), config: config, mqttPort: broker.port, store: url)]
        func links() async throws -> [String] {
            var links: [String] = []
            for node in nodes {
                let answer = try await node.get("/readyz", timeout: .seconds(5))
                links.append((try? JSONText(validating: Array(answer.body.utf8)))?.value(at: "mqtt")?.stringValue ?? "?")
            }
            return links
        }
        var seen: [String] = []
        try await eventually("one node to hold the MQTT session and the other to stand by (last: \(seen))") {
            seen = try await links()
            return seen.sorted() == ["connected", "standby"]
        }
        let holder = seen[0] == "connected" ? 0 : 1
        let standby = 1 - holder

        let batches = 30, perBatch = 10
        let flow = Task {
            for batch in 0..<batches {
                try await broker.publish("sensors/cluster/m", lines: (0..<perBatch).map { "{\"m\":\(batch * perBatch + $0)}" })
                try await Task.sleep(for: .milliseconds(40))
            }
        }
        try await eventually("some messages stored before the kill") {
            try await nodes[standby].allEvents(channel: "sensors").count >= 50
        }
        await nodes[holder].process.stop(SIGKILL)
        try await eventually("the standby to take the MQTT session after the holder's kill") {
            try await nodes[standby].get("/readyz", timeout: .seconds(5)).body.contains("\"mqtt\":\"connected\"")
        }
        try await flow.value
        let total = batches * perBatch
        try await eventually("every message stored (QoS 1, kept for the session while no node held it)") {
            try await nodes[standby].allEvents(channel: "sensors").count >= total
        }
        try await Task.sleep(for: .milliseconds(500))  // a duplicate, if any, would be stored by now
        let stored = try await nodes[standby].allEvents(channel: "sensors").map(\.data)
        #expect(Set(stored) == Set((0..<total).map { "{\"m\":\($0)}" }), "every message is stored")
        #expect(stored.count == total, "\(stored.count) events for \(total) messages: each exactly once")

        await nodes[standby].process.stop()
        await broker.stop(SIGKILL)
        await server.stop()
    }

    @Test func aNodeWaitsForTheDatabaseNotReadyUntilItIsThere() async throws {
        let server = try await PostgresServer()
        let url = try await server.makeDatabase()
        await server.stop()
        let node = try await HeraldInstance(dir: try TempDir(), store: url)
        // Alive but not ready, and a publish is refused with 503 rather than lost or held.
        #expect(try await node.get("/readyz").status == 503)
        #expect(try await node.post("/api/channels/sensors/events", #"{"data":{"t":1}}"#).status == 503)
        try await server.restart()
        try await node.waitUntilReady()
        #expect(try await node.publish("sensors", #"{"data":{"t":2}}"#) == 1)
        #expect(node.process.log.contains("waiting for PostgreSQL"))
        await node.process.stop()
        await server.stop()
    }
}
