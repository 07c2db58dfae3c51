import Foundation
@testable import HeraldCore
import Synchronization
import Testing

/// The MQTT session lease: one holder at a time, and a standby takes over when the holder dies
/// or loses the database.
@Suite(.serialized) struct NodeLeaseTests {
    /// A lease on a node, recording every change it announced.
    private final class LeaseOnNode: Sendable {
        let node: PostgresNode
        let lease: NodeLease
        private let record = ChangeRecord()
        private let task: Task<Void, any Error>

        init(url: String, name: String) throws {
            node = try PostgresNode(url: url, name: name)
            let record = self.record
            var options = NodeLease.Options()
            options.interval = .milliseconds(200)
            lease = NodeLease(log: node.log, role: .mqttSession, options: options) { holding in record.changes.withLock { $0.append(holding) } }
            let lease = self.lease
            task = Task { try await lease.run() }
        }

        var changes: [Bool] { record.changes.withLock { $0 } }

        func stop() async {
            task.cancel()
            _ = await task.result
            await node.stop()
        }
    }

    @Test func oneNodeHoldsAndAStandbyTakesOverWhenItStops() async throws {
        let server = try await PostgresServer()
        let url = try await server.makeDatabase()
        let nodes = try (0..<3).map { try LeaseOnNode(url: url, name: "l\($0)") }
        for node in nodes { try await node.node.waitUntilReady() }
        try await eventually("one of three nodes to hold the lease") { nodes.filter(\.lease.isHolding).count == 1 }
        let holder = nodes.first(where: \.lease.isHolding)!
        try await Task.sleep(for: .seconds(1))
        #expect(nodes.filter(\.lease.isHolding).count == 1, "still one holder after several rounds")
        await holder.stop()
        #expect(holder.changes == [true, false])
        let standbys = nodes.filter { $0 !== holder }
        try await eventually("a standby to take the lease") { standbys.filter(\.lease.isHolding).count == 1 }
        for node in standbys { await node.stop() }
        await server.stop()
    }

    /// Another process holding the lease is killed with SIGKILL: PostgreSQL ends its session,
    /// which frees the lock, and the standby takes it.
    @Test func aHolderKilledWithSIGKILLFreesTheLeaseForTheStandby() async throws {
        let server = try await PostgresServer()
        let url = try await server.makeDatabase("killed")
        // A first node so the schema exists; then the foreign holder, then the standby.
        let standby = try LeaseOnNode(url: url, name: "standby")
        try await standby.node.waitUntilReady()
        try await eventually("the standby to hold the free lease first") { standby.lease.isHolding }
        await standby.stop()

        // Idle after taking the lock, as a node's lease connection is between its checks.
        let holder = try PsqlSession(server: server, database: "killed")
        try holder.send("SELECT pg_advisory_lock(\(PostgresSchema.LockKey.mqttSession));")
        try await eventually("the foreign holder to take the lock") {
            try await server.psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted", database: "killed") == "1\n"
        }
        let successor = try LeaseOnNode(url: url, name: "successor")
        try await successor.node.waitUntilReady()
        try await Task.sleep(for: .seconds(1))
        #expect(!successor.lease.isHolding, "the lease is taken while the holder lives")
        holder.kill()
        try await eventually("the successor to take the lease after the SIGKILL") { successor.lease.isHolding }
        await successor.stop()
        await server.stop()
    }

    /// The holder's lease connection is ended by the server (what losing the database looks
    /// like from the node): it lets go, and afterwards exactly one node holds again.
    @Test func aHolderThatLosesTheDatabaseLetsGo() async throws {
        let server = try await PostgresServer()
        let url = try await server.makeDatabase("lost")
        let nodes = try (0..<2).map { try LeaseOnNode(url: url, name: "n\($0)") }
        for node in nodes { try await node.node.waitUntilReady() }
        try await eventually("one of two nodes to hold the lease") { nodes.filter(\.lease.isHolding).count == 1 }
        let holder = nodes.first(where: \.lease.isHolding)!
        try await server.psql("""
            SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted
            """, database: "lost")
        try await eventually("the holder to notice and let go") { holder.changes.count >= 2 }
        #expect(Array(holder.changes.prefix(2)) == [true, false])
        try await eventually("one node to hold the lease again") { nodes.filter(\.lease.isHolding).count == 1 }
        for node in nodes { await node.stop() }
        await server.stop()
    }
}

private final class ChangeRecord: Sendable {
    let changes = Mutex<[Bool]>([])
}
