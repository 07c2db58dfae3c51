import Foundation
import HeraldCore
import Testing

/// The PostgreSQL event log against a real server: appends, reads, and what it refuses.
@Suite(.serialized) struct PostgresEventLogTests {
    @Test func appendsGetIdsFromOneAndReadBackInOrder() async throws {
        let server = try await PostgresServer()
        let node = try PostgresNode(url: try await server.makeDatabase())
        try await node.waitUntilReady()

        let first = try await node.log.append([EventDraft(channel: "sensors/a", data: #"{"t":1}"#),
                                               EventDraft(channel: "sensors/b", key: "b", data: #"{"t":2}"#)])
        let second = try await node.log.append([EventDraft(channel: "$status", type: "mqtt", data: #"{"up":true}"#)])
        #expect(first.map(\.id) == [1, 2])
        #expect(second.map(\.id) == [3])
        #expect(try await node.log.headId() == 3)

        let all = try await node.log.events(after: 0, matching: EventFilter(selectors: .all), limit: 100)
        #expect(all.head == 3)
        // `#` does not take Herald's own `$` channels, as on SQLite and in the hub.
        #expect(all.events.map(\.id) == [1, 2])
        #expect(all.events[1].draft == first[1].draft)
        let keyed = try await node.log.events(after: 0, matching: EventFilter(selectors: .all, key: "b"), limit: 100)
        #expect(keyed.events.map(\.id) == [2])
        let status = try await node.log.events(after: 0, matching: EventFilter(selectors: SelectorSet([try Selector("$status")])), limit: 100)
        #expect(status.events.map(\.id) == [3])
        let page = try await node.log.events(after: 1, matching: EventFilter(selectors: .all), limit: 1)
        #expect(page.events.map(\.id) == [2])

        try await node.waitUntilHandedOn(through: 3)
        #expect(node.handedOnIds == [1, 2, 3])
        await node.stop()
        await server.stop()
    }

    @Test func idsContinueAfterARestartOfTheNode() async throws {
        let server = try await PostgresServer()
        let url = try await server.makeDatabase()
        let before = try PostgresNode(url: url)
        try await before.waitUntilReady()
        _ = try await before.log.append((1...5).map { EventDraft(channel: "c", data: "{\"n\":\($0)}") })
        await before.stop()

        let after = try PostgresNode(url: url)
        try await after.waitUntilReady()
        #expect(try await after.log.append([EventDraft(channel: "c", data: "{}")]).map(\.id) == [6])
        try await after.waitUntilHandedOn(through: 6)
        // A node starts handing on after the head it found: older events are history, read from the log.
        #expect(after.handedOnIds == [6])
        await after.stop()
        await server.stop()
    }

    @Test func aDatabaseMigratedByANewerHeraldIsRefusedUntouched() async throws {
        let server = try await PostgresServer()
        let url = try await server.makeDatabase("newer")
        let node = try PostgresNode(url: url)
        try await node.waitUntilReady()
        _ = try await node.log.append([EventDraft(channel: "c", data: "{}")])
        await node.stop()
        try await server.psql("INSERT INTO herald_migrations(name) VALUES ('v99-from-the-future')", database: "newer")
        let tablesBefore = try await server.psql("SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'", database: "newer")

        let refused = try PostgresNode(url: url)
        try await eventually("the node to refuse the newer schema (phase: \(refused.log.phase))") {
            if case .failed(.newerSchema(_, let unknown)) = refused.log.phase { return unknown == ["v99-from-the-future"] }
            return false
        }
        #expect(String(describing: PostgresFailure.newerSchema(location: "127.0.0.1:\(server.port)/newer", unknown: ["v99-from-the-future"]))
                    .contains("written by a newer Herald"))
        #expect(try await server.psql("SELECT count(*) FROM events", database: "newer") == "1\n")
        #expect(try await server.psql("SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'", database: "newer") == tablesBefore)
        await refused.stop()
        await server.stop()
    }

    @Test func aWrongPasswordIsRefusedAtOnceNamingTheServer() async throws {
        let server = try await PostgresServer()
        _ = try await server.makeDatabase("wrongpw")
        let node = try PostgresNode(url: server.url(database: "wrongpw", password: "not-the-password"))
        try await eventually("the node to give up on a refused login (phase: \(node.log.phase))") {
            if case .failed(.refused(let endpoint, _)) = node.log.phase { return endpoint == "127.0.0.1:\(server.port)" }
            return false
        }
        await #expect(throws: PostgresFailure.self) { try await node.log.append([EventDraft(channel: "c", data: "{}")]) }
        await node.stop()
        await server.stop()
    }

    @Test func anUnreachableServerIsWaitedForAndNamed() async throws {
        let port = try freePort()  // nothing listens there
        let node = try PostgresNode(url: "postgres://herald:pw@127.0.0.1:\(port)/herald")
        try await eventually("the node to report the unreachable server (phase: \(node.log.phase))") {
            if case .starting(let attempt, .unreachable(let endpoint, _)?) = node.log.phase {
                return attempt >= 2 && endpoint == "127.0.0.1:\(port)"
            }
            return false
        }
        await #expect {
            try await node.log.append([EventDraft(channel: "c", data: "{}")])
        } throws: { error in
            String(describing: error).contains("PostgreSQL at 127.0.0.1:\(port) cannot be reached")
        }
        await node.stop()
    }

    @Test func theLogWaitsForADatabaseThatStartsLate() async throws {
        let server = try await PostgresServer()
        let url = try await server.makeDatabase()
        await server.stop()
        let node = try PostgresNode(url: url)
        try await eventually("the node to keep trying while the server is down (phase: \(node.log.phase))") {
            if case .starting(let attempt, _) = node.log.phase { return attempt >= 2 }
            return false
        }
        try await server.restart()
        try await node.waitUntilReady()
        #expect(try await node.log.append([EventDraft(channel: "late", data: "{}")]).map(\.id) == [1])
        await node.stop()
        await server.stop()
    }
}
