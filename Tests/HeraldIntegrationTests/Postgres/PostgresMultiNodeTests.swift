import Foundation
import HeraldCore
import Synchronization
import Testing

/// Several nodes on one database: one id order, no gap for readers that follow `id > last`,
/// and every node handing on every node's events once, in id order.
@Suite(.serialized) struct PostgresMultiNodeTests {
    /// The hazard, shown with PostgreSQL alone: with ids from a sequence, a transaction that
    /// took id 1 and commits after the one that took id 2 leaves a reader that already moved
    /// past 2 without 1 for good. (If this stops failing, the test below proves nothing.)
    @Test func aSequenceAloneLetsAReaderSkipAnIdThatCommitsLate() async throws {
        let server = try await PostgresServer()
        _ = try await server.makeDatabase("hazard")
        try await server.psql("CREATE TABLE t(id bigserial PRIMARY KEY)", database: "hazard")
        let early = try PsqlSession(server: server, database: "hazard")
        let late = try PsqlSession(server: server, database: "hazard")
        try early.send("BEGIN; INSERT INTO t DEFAULT VALUES;")  // takes id 1, not committed
        try await eventually("the first insert to take id 1") {
            try await server.psql("SELECT last_value FROM t_id_seq WHERE is_called", database: "hazard") == "1\n"
        }
        try late.send("BEGIN; INSERT INTO t DEFAULT VALUES; COMMIT;")  // id 2, committed first
        try await eventually("id 2 to be visible") { try await server.psql("SELECT count(*) FROM t", database: "hazard") == "1\n" }
        let seenFirst = try await server.psql("SELECT string_agg(id::text, ',') FROM t WHERE id > 0", database: "hazard")
        try early.send("COMMIT;")
        try await eventually("id 1 to be visible") { try await server.psql("SELECT count(*) FROM t", database: "hazard") == "2\n" }
        let seenAfter = try await server.psql("SELECT coalesce(string_agg(id::text, ','), '') FROM t WHERE id > 2", database: "hazard")
        #expect(seenFirst == "2\n")
        #expect(seenAfter == "\n", "a reader past 2 never sees 1")
        early.close()
        late.close()
        await server.stop()
    }

    /// The same race against Herald: node A's transaction is held after it chose its ids (a
    /// test session holds a row it must insert), node B appends meanwhile. B may not become
    /// visible before A, and a reader following `id > last` sees every id exactly once.
    @Test func commitsHeldOutOfOrderNeverLetAReaderSkipAnId() async throws {
        let server = try await PostgresServer()
        let url = try await server.makeDatabase("ordering")
        let nodeA = try PostgresNode(url: url, name: "a")
        let nodeB = try PostgresNode(url: url, name: "b")
        try await nodeA.waitUntilReady()
        try await nodeB.waitUntilReady()
        _ = try await nodeA.log.append([EventDraft(channel: "warm", data: "{}")])  // id 1; both nodes know "warm"
        _ = try await nodeB.log.append([EventDraft(channel: "warm", data: "{}")])  // id 2

        let reader = Reader(log: nodeB.log)
        let readerTask = Task { try await reader.follow(until: 2 + 3 + 1) }

        // An uncommitted insert of channel "held": A's insert of it waits for this session.
        let holder = try PsqlSession(server: server, database: "ordering")
        try holder.send("BEGIN; INSERT INTO channels(name) VALUES ('held');")
        try await eventually("the holder to hold the row") {
            try await server.psql("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.state = 'idle in transaction' AND l.locktype = 'transactionid'", database: "ordering") != "0\n"
        }
        let appendA = Task { try await nodeA.log.append((1...3).map { EventDraft(channel: "held", data: "{\"a\":\($0)}") }) }
        try await eventually("A to wait inside its transaction, holding the append lock") {
            try await server.psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted", database: "ordering") == "1\n"
        }
        let appendB = Task { try await nodeB.log.append([EventDraft(channel: "warm", data: "{\"b\":1}")]) }
        try await eventually("B to wait for the append lock") {
            try await server.psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted", database: "ordering") == "1\n"
        }
        #expect(try await nodeB.log.headId() == 2, "nothing of A's or B's is visible while A is held")
        try holder.send("ROLLBACK;")  // A inserts "held" itself now and commits

        let idsA = try await appendA.value.map(\.id)
        let idsB = try await appendB.value.map(\.id)
        #expect(idsA == [3, 4, 5])
        #expect(idsB == [6])
        let followed = try await readerTask.value
        #expect(followed == [1, 2, 3, 4, 5, 6], "the reader followed id > last and saw every id once")
        for node in [nodeA, nodeB] {
            try await node.waitUntilHandedOn(through: 6)
            #expect(node.handedOnIds == [1, 2, 3, 4, 5, 6])
        }
        holder.close()
        await nodeA.stop()
        await nodeB.stop()
        await server.stop()
    }

    /// Three nodes appending at once: every node hands on every event once, in id order, and
    /// the ids are exactly 1…n.
    @Test func threeNodesAppendingAtOnceEachHandOnEveryEventOnceInOrder() async throws {
        let server = try await PostgresServer()
        let url = try await server.makeDatabase("fanout")
        let nodes = try (0..<3).map { try PostgresNode(url: url, name: "n\($0)") }
        for node in nodes { try await node.waitUntilReady() }
        let perNode = 200
        let sizes = (0..<perNode).map { $0 % 3 + 1 }  // single events and small batches, as HTTP and MQTT send them
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, node) in nodes.enumerated() {
                group.addTask {
                    for (n, size) in sizes.enumerated() {
                        let drafts = (0..<size).map { _ in EventDraft(channel: "n\(index)", data: "{\"n\":\(n)}") }
                        _ = try await node.log.append(drafts)
                    }
                }
            }
            try await group.waitForAll()
        }
        let total = Int64(3 * sizes.reduce(0, +))
        #expect(try await nodes[0].log.headId() == total)
        for node in nodes {
            try await node.waitUntilHandedOn(through: total)
            #expect(node.handedOnIds == Array(1...total))
        }
        for node in nodes { await node.stop() }
        await server.stop()
    }

    /// PostgreSQL restarted while two nodes append: appends fail while it is down and succeed
    /// after; every append that succeeded is handed on by both nodes once, in order.
    @Test func aRestartOfPostgreSQLUnderLoadLosesNothingThatWasAcknowledged() async throws {
        let server = try await PostgresServer()
        let url = try await server.makeDatabase("restart")
        let nodes = try (0..<2).map { try PostgresNode(url: url, name: "r\($0)") }
        for node in nodes { try await node.waitUntilReady() }
        let outcomes = Outcomes()
        let writers = nodes.enumerated().map { index, node in
            Task {
                for n in 0..<400 {
                    do {
                        let stored = try await node.log.append([EventDraft(channel: "r\(index)", data: "{\"n\":\(n)}")])
                        outcomes.acknowledged.withLock { $0 += stored.map(\.id) }
                    } catch {
                        outcomes.failures.withLock { $0 += 1 }
                        try? await Task.sleep(for: .milliseconds(20))
                    }
                    if n == 100 && index == 0 { try await server.restart(downFor: .seconds(1)) }
                }
            }
        }
        for writer in writers { try await writer.value }
        let ids = outcomes.acknowledged.withLock { $0 }.sorted()
        #expect(outcomes.failures.withLock { $0 } > 0, "the restart was felt")
        #expect(ids.count > 400)
        let head = try await nodes[1].log.headId()
        for node in nodes {
            try await node.waitUntilHandedOn(through: head)
            let handedOn = node.handedOnIds
            #expect(handedOn == handedOn.sorted() && Set(handedOn).count == handedOn.count, "in order, once each")
            #expect(Set(ids).isSubset(of: Set(handedOn)), "every acknowledged event reached the node")
        }
        for node in nodes { await node.stop() }
        await server.stop()
    }
}

/// What the writers of the restart test saw.
private final class Outcomes: Sendable {
    let acknowledged = Mutex<[Int64]>([])
    let failures = Mutex(0)
}

/// Follows the log as a stream's catch-up does: `id > last`, never looking back.
private struct Reader {
    let log: PostgresEventLog

    func follow(until count: Int) async throws -> [Int64] {
        var last: Int64 = 0
        var seen: [Int64] = []
        let deadline = ContinuousClock.now + .seconds(60)
        while seen.count < count && ContinuousClock.now < deadline {
            let page = try await log.events(after: last, matching: EventFilter(selectors: .all), limit: 100)
            seen += page.events.map(\.id)
            last = page.head
            try await Task.sleep(for: .milliseconds(2))
        }
        return seen
    }
}
