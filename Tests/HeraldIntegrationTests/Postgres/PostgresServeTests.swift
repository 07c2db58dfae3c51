import AsyncHTTPClient
import Foundation
import HeraldCore
import NIOCore
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

    /// Three nodes; publishes go to whichever node answers, and a follower per node moves to the
    /// next node whenever its own dies, resuming with Last-Event-ID. Nodes are SIGKILLed and
    /// started again three times; every follower ends with every stored event, once and in order.
    @Test func followersOnEveryNodeResumeThroughKillsOfNodesWithEveryEventOnceInOrder() async throws {
        let server = try await PostgresServer()
        let url = try await server.makeDatabase()
        var nodes: [HeraldInstance] = []
        for _ in 0..<3 { nodes.append(try await HeraldInstance(dir: try TempDir(), store: url)) }
        for node in nodes { try await node.waitUntilReady() }
        let bases = nodes.map(\.baseURL)
        let stop = Flag()
        let acknowledged = Gathered<Int64>()

        let publisher = Task {
            // A node that refused is left alone for a second (the HTTP client spends its whole
            // deadline retrying a refused connect), as a load balancer would mark it down.
            var downUntil = bases.map { _ in ContinuousClock.now }
            var n = 0
            while !stop.isSet, n < 100_000 {
                let index = n % bases.count
                n += 1
                guard downUntil[index] <= .now else { continue }
                // Never retried: a publish cut by a kill may or may not be stored, and the log says which.
                do {
                    acknowledged.append(try await publishOnce(to: bases[index], "sensors/loop", "{\"data\":{\"n\":\(n)}}"))
                } catch {
                    downUntil[index] = .now + .seconds(1)
                }
            }
        }
        let seen = bases.map { _ in Gathered<Int64>() }
        let resets = Gathered<Int>()
        let followers = bases.indices.map { start in
            Task {
                var node = start
                while !Task.isCancelled {
                    let after = String(seen[start].all.last ?? 0)
                    var client = SSEClient(url: bases[node] + Self.path, lastEventId: after, httpClient: testHTTPClient)
                    do {
                        _ = try await client.connectOnce(timeout: .seconds(30)) { event in
                            if event.type == "$reset" { resets.append(start) } else if let id = Int64(event.id) { seen[start].append(id) }
                        }
                    } catch {}
                    node = (node + 1) % bases.count  // its node went away (or ended the stream): the next one
                    try? await Task.sleep(for: .milliseconds(50))
                }
            }
        }

        for round in 0..<3 {
            try await Task.sleep(for: .milliseconds(Int.random(in: 400...1_000)))
            let before = acknowledged.count
            let victim = nodes[round % nodes.count]
            await victim.process.stop(SIGKILL)
            try await eventually("publishes answered by the other nodes after kill \(round)") { acknowledged.count > before + 5 }
            try await victim.restart()
            try await victim.waitUntilReady()
        }
        try await eventually("more publishes after the last restart") { acknowledged.count > 50 }
        let survivor = nodes[1]
        let headBefore = try await survivor.allEvents(channel: "sensors/loop").last?.id ?? 0
        try await eventually("publishes to pass id \(headBefore)") { (acknowledged.all.max() ?? 0) > headBefore }
        stop.set()
        await publisher.value
        let stored = try await survivor.allEvents(channel: "sensors/loop").map(\.id)
        #expect(Set(acknowledged.all).isSubset(of: Set(stored)), "every acknowledged publish is stored")
        #expect(stored == stored.sorted() && Set(stored).count == stored.count)
        for (index, follower) in seen.enumerated() {
            try await eventually("follower \(index) to reach id \(stored.last ?? 0) (at \(follower.all.last ?? 0))") {
                follower.all.last == stored.last
            }
            #expect(follower.all == stored, "follower \(index): every event once, in order, through the kills")
        }
        for follower in followers { follower.cancel() }
        for follower in followers { await follower.value }
        #expect(resets.all.isEmpty, "a resume was not exact: followers \(resets.all) got $reset")
        for node in nodes { await node.process.stop() }
        await server.stop()
    }

    /// The shipped HAProxy configuration (Systemd/haproxy.cfg, only its ports changed) in front of
    /// two nodes: a client that follows a stream as EventSource does keeps every event, once and
    /// in order, when the node serving it is killed, and publishes through the front go on.
    @Test func behindTheShippedHAProxyConfigAStreamSurvivesTheKillOfItsNode() async throws {
        let server = try await PostgresServer()
        let url = try await server.makeDatabase()
        let nodes = [try await HeraldInstance(dir: try TempDir(), store: url),
                     try await HeraldInstance(dir: try TempDir(), store: url)]
        for node in nodes { try await node.waitUntilReady() }
        let dir = try TempDir()
        let front = try freePort()
        let config = try String(contentsOfFile: repositoryRoot + "/Systemd/haproxy.cfg", encoding: .utf8)
            .replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:\(front)")
            .replacingOccurrences(of: "127.0.0.1:8081", with: "127.0.0.1:\(nodes[0].port)")
            .replacingOccurrences(of: "127.0.0.1:8082", with: "127.0.0.1:\(nodes[1].port)")
        try config.write(toFile: dir.file("haproxy.cfg"), atomically: true, encoding: .utf8)
        let haproxy = try ChildProcess(executable: "/usr/sbin/haproxy", arguments: ["-db", "-f", dir.file("haproxy.cfg")],
                                       logPath: dir.file("haproxy.log"))
        let base = "http://127.0.0.1:\(front)"
        var published: [Int64] = []
        func publish(_ count: Int) async throws {
            for _ in 0..<count {
                let data = "{\"data\":{\"n\":\(published.count)}}"
                var id: Int64?
                // A publish that meets the killed node before HAProxy marks it down is refused, not stored: try again.
                try await eventually("a publish through HAProxy to be stored (haproxy log: \(dir.file("haproxy.log")))") {
                    id = try? await publishOnce(to: base, "sensors/front", data)
                    return id != nil
                }
                published.append(id!)
            }
        }
        try await publish(10)

        let seen = Collected()
        let follower = Task {
            var client = SSEClient(url: base + Self.path, lastEventId: "0", httpClient: testHTTPClient)
            try? await client.follow { seen.append($0) }
        }
        try await eventually("the follower to read the first 10 events") { seen.events.count >= 10 }
        var serving: HeraldInstance?
        try await eventually("to find the node that serves the follower's stream") {
            for node in nodes where try await node.get("/api/channels").body.contains("\"subscribers\":1") { serving = node }
            return serving != nil
        }
        await serving!.process.stop(SIGKILL)
        try await publish(10)
        let last = String(published.last!)
        try await eventually("the follower to reconnect through HAProxy and read every event (\(seen.events.count) so far)") {
            seen.events.last?.id == last
        }
        follower.cancel()
        _ = await follower.result
        let events = seen.events
        #expect(!events.contains { $0.type == "$reset" }, "the resume through HAProxy was not exact")
        #expect(events.compactMap { Int64($0.id) } == published, "every event once, in order, across the node's kill")

        await haproxy.stop()
        for node in nodes { await node.process.stop() }
        await server.stop()
    }

    /// One node holds the broker session and the other stands by; the holder is killed while
    /// QoS 1 messages flow, the other takes the session, and every message is stored once.
    /// `$status` names the node that holds the session, before the kill and after it.
    @Test func theMQTTSessionFailsOverToTheOtherNodeByAKillWithEveryMessageOnce() async throws {
        let server = try await PostgresServer()
        let url = try await server.makeDatabase()
        let broker = try await MosquittoBroker(dir: try TempDir())
        func config(_ n: Int) -> String { "mqtt: { client_id: herald-cluster, keepalive_seconds: 5 }\nserver: { node_name: node-\(n) }\n" }
        let nodes = [try await HeraldInstance(dir: try TempDir(), config: config(0), mqttPort: broker.port, store: url),
                     try await HeraldInstance(dir: try TempDir(), config: config(1), mqttPort: broker.port, store: url)]
        /// The node the latest `$status` event says is connected, as any node reads it.
        func connectedNode(on node: HeraldInstance) async throws -> String? {
            guard let last = try await node.allEvents(channel: "%24status").last, last.type == "connected" else { return nil }
            return (try? JSONText(validating: Array(last.data.utf8)))?.value(at: "node")?.stringValue
        }
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
        try await eventually("$status to name node-\(holder) as connected, read on node-\(standby)") {
            try await connectedNode(on: nodes[standby]) == "node-\(holder)"
        }

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
        try await eventually("$status to name node-\(standby) as connected after the takeover") {
            try await connectedNode(on: nodes[standby]) == "node-\(standby)"
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
