import NIOCore
import PostgresNIO
import Synchronization

/// One of Herald's own PostgreSQL connections (the writer's, the feed's, the lease's), with a
/// guard on everything run through it.
///
/// postgres-nio 1.33.2 can leave a statement waiting for ever when the server ends the
/// connection just as the statement is sent: seen with `BEGIN` sent while PostgreSQL shut down
/// (57P01), whose future never completed, so the writer and every publisher behind it waited
/// for good. So work on these connections goes through `run`, which fails it once the
/// connection has closed under it (after a short grace, so that the library's own error, which
/// says more, wins when it comes), when its deadline passes, or when the calling task is
/// cancelled. Giving up closes the connection, so it is never used again while the abandoned
/// work might still be on it; the abandoned task stays suspended, which costs a little memory
/// in a case that should not happen at all.
final class WatchedConnection: Sendable {
    let raw: PostgresConnection
    let endpoint: String
    private let pending = Mutex<(next: Int, waiting: [Int: any GuardedOutcomeFailing])>((0, [:]))

    /// How long work may stay pending once the connection has closed.
    static let closeGrace: TimeAmount = .seconds(1)

    init(_ raw: PostgresConnection, endpoint: String) {
        self.raw = raw
        self.endpoint = endpoint
        raw.closeFuture.whenComplete { [weak self] _ in
            raw.eventLoop.scheduleTask(in: Self.closeGrace) { [weak self] in self?.failPending() }
        }
    }

    var isClosed: Bool { raw.isClosed }

    func close() async { try? await raw.close() }

    /// Runs `body` and returns what it returns, or throws when the connection closes under it,
    /// `deadline` passes or the task is cancelled (see the type's comment).
    @discardableResult
    func run<T: Sendable>(deadline: Duration? = nil,
                          _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let outcome = GuardedOutcome<T>()
        let key = pending.withLock { state in
            defer { state.next += 1 }
            state.waiting[state.next] = outcome
            return state.next
        }
        defer { _ = pending.withLock { $0.waiting.removeValue(forKey: key) } }
        if raw.isClosed { failPending() }
        let raw = raw
        return try await outcome.run(deadline: deadline, endpoint: endpoint, giveUp: { raw.closeSoon() }) {
            try await body(raw)
        }
    }

    private func failPending() {
        let waiting = pending.withLock { Array($0.waiting.values) }
        let failure = PostgresFailure.unreachable(endpoint: endpoint, reason: "the connection closed while a statement was waiting")
        for outcome in waiting { outcome.fail(failure) }
    }
}

protocol GuardedOutcomeFailing: Sendable {
    func fail(_ error: any Error)
}

/// The one result of a guarded run: the first of the work, the close, the deadline and the
/// cancellation to arrive; the others find it taken.
final class GuardedOutcome<T: Sendable>: GuardedOutcomeFailing {
    private enum State {
        /// Not awaited yet; a result that arrives this early is kept for `install`.
        case notAwaited(early: Result<T, any Error>?)
        case awaited(CheckedContinuation<T, any Error>)
        case finished
    }

    private let state = Mutex(State.notAwaited(early: nil))

    func install(_ continuation: CheckedContinuation<T, any Error>) {
        let early: Result<T, any Error>? = state.withLock { state in
            switch state {
            case .notAwaited(nil):
                state = .awaited(continuation)
                return nil
            case .notAwaited(let result?):
                state = .finished
                return result
            case .awaited, .finished:
                preconditionFailure("GuardedOutcome: awaited twice")
            }
        }
        if let early { continuation.resume(with: early) }
    }

    /// Settles the outcome; false if it was settled already.
    @discardableResult
    func finish(_ result: Result<T, any Error>) -> Bool {
        let (settled, continuation): (Bool, CheckedContinuation<T, any Error>?) = state.withLock { state in
            switch state {
            case .notAwaited(nil):
                state = .notAwaited(early: result)
                return (true, nil)
            case .awaited(let continuation):
                state = .finished
                return (true, continuation)
            case .notAwaited(.some), .finished:
                return (false, nil)
            }
        }
        continuation?.resume(with: result)
        return settled
    }

    func fail(_ error: any Error) { finish(.failure(error)) }

    /// Runs `work` in a task of its own and waits for the outcome: the work's result, or a
    /// failure when `deadline` passes or the caller is cancelled, after which `giveUp` runs (and
    /// `late` with what the work returns after all).
    func run(deadline: Duration?, endpoint: String, giveUp: @escaping @Sendable () -> Void,
             late: @escaping @Sendable (T) async -> Void = { _ in },
             _ work: @escaping @Sendable () async throws -> T) async throws -> T {
        let timer = deadline.map { limit in
            Task {
                try await Task.sleep(for: limit)
                if finish(.failure(PostgresFailure.unreachable(endpoint: endpoint, reason: "no answer within \(limit)"))) { giveUp() }
            }
        }
        defer { timer?.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                install(continuation)
                Task {
                    do {
                        let value = try await work()
                        if !finish(.success(value)) { await late(value) }
                    } catch {
                        finish(.failure(error))
                    }
                }
            }
        } onCancel: {
            if finish(.failure(CancellationError())) { giveUp() }
        }
    }
}

extension PostgresConnection {
    /// Starts closing without waiting (from places that cannot await: timers, cancellation).
    func closeSoon() { (close() as EventLoopFuture<Void>).whenComplete { _ in } }
}
