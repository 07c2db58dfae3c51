import Foundation
@testable import HeraldCore
import PostgresNIO
import Synchronization
import Testing

/// The guard on Herald's own connections: work the library would leave waiting for ever ends
/// with a failure once the connection closes under it, its deadline passes, or its caller stops.
/// The "never answered" work here is a sleep that ignores cancellation, standing in for a
/// statement whose future postgres-nio never completes.
@Suite(.serialized) struct WatchedConnectionTests {
    @Test func workStillWaitingWhenTheServerEndsTheConnectionFails() async throws {
        let server = try await PostgresServer()
        let node = try PostgresNode(url: try await server.makeDatabase())
        try await node.waitUntilReady()
        let connection = try await node.log.connect()
        let backend = try await connection.run { connection in
            for try await pid in try await connection.query("SELECT pg_backend_pid()", logger: node.log.logger).decode(Int32.self) {
                return pid
            }
            return 0
        }
        let ended = Mutex<Result<Void, any Error>?>(nil)
        Task {
            let result = await Result(catching: { try await connection.run { _ in await Self.neverAnswered() } })
            ended.withLock { $0 = result }
        }
        try await server.psql("SELECT pg_terminate_backend(\(backend))")
        try await eventually("the waiting work to end once its connection closed") { ended.withLock { $0 != nil } }
        let result = try #require(ended.withLock { $0 })
        #expect(throws: PostgresFailure.self) { try result.get() }
        #expect(String(describing: result).contains("the connection closed while a statement was waiting"))
        #expect(connection.isClosed)
        await node.stop()
        await server.stop()
    }

    @Test func workPastItsDeadlineFailsAndClosesTheConnection() async throws {
        let server = try await PostgresServer()
        let node = try PostgresNode(url: try await server.makeDatabase())
        try await node.waitUntilReady()
        let connection = try await node.log.connect()
        await #expect {
            try await connection.run(deadline: .milliseconds(300)) { _ in await Self.neverAnswered() }
        } throws: { error in
            String(describing: error).contains("no answer within 0.3 seconds")
        }
        try await eventually("the connection given up on to close") { connection.isClosed }
        await node.stop()
        await server.stop()
    }

    @Test func cancellingTheCallerEndsTheWaitAndClosesTheConnection() async throws {
        let server = try await PostgresServer()
        let node = try PostgresNode(url: try await server.makeDatabase())
        try await node.waitUntilReady()
        let connection = try await node.log.connect()
        let started = Mutex(false)
        let ended = Mutex<Result<Void, any Error>?>(nil)
        let waiting = Task {
            let result = await Result(catching: {
                try await connection.run { _ in
                    started.withLock { $0 = true }
                    await Self.neverAnswered()
                }
            })
            ended.withLock { $0 = result }
        }
        try await eventually("the work to start") { started.withLock { $0 } }
        waiting.cancel()
        try await eventually("the cancelled wait to end") { ended.withLock { $0 != nil } }
        #expect(ended.withLock { $0?.error } is CancellationError)
        try await eventually("the connection given up on to close") { connection.isClosed }
        await node.stop()
        await server.stop()
    }

    /// Waits far longer than any test, and does not end when cancelled.
    private static func neverAnswered() async {
        try? await Task.sleep(for: .seconds(3_600))
        try? await Task.sleep(for: .seconds(3_600))
    }
}

private extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }

    var error: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
