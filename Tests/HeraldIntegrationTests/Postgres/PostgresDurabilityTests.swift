import Foundation
@testable import HeraldCore
import PostgresNIO
import Testing

@Suite(.serialized) struct PostgresDurabilityTests {
    /// A database set to synchronous_commit = off acknowledges commits a crash of PostgreSQL can
    /// lose, head row and all, so ids a client holds would be handed out again. Herald's own
    /// connections and its pool set it on for themselves, whatever the database says.
    @Test func heraldsConnectionsCommitDurablyWhateverTheDatabaseSays() async throws {
        let server = try await PostgresServer()
        let url = try await server.makeDatabase("lazy")
        try await server.psql("ALTER DATABASE lazy SET synchronous_commit = off")
        #expect(try await server.psql("SHOW synchronous_commit", database: "lazy") == "off\n")
        let node = try PostgresNode(url: url)
        try await node.waitUntilReady()
        let logger = node.log.logger
        let show: @Sendable (PostgresConnection) async throws -> String = { connection in
            for try await value in try await connection.query("SHOW synchronous_commit", logger: logger).decode(String.self) {
                return value
            }
            return "nothing"
        }
        let own = try await node.log.connect()
        let onOwn = try await own.run { try await show($0) }
        let jit = try await own.run { connection in
            for try await value in try await connection.query("SHOW jit", logger: logger).decode(String.self) { return value }
            return "nothing"
        }
        await own.close()
        #expect(onOwn == "on", "the writer's, the feed's and the lease's connections")
        #expect(jit == "off", "no JIT compilation for Herald's short statements")
        #expect(try await node.log.pooled { try await show($0) } == "on", "the pool's connections")
        #expect(try await node.log.append([EventDraft(channel: "c", data: "{}")]).map(\.id) == [1])
        await node.stop()
        await server.stop()
    }
}
