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
