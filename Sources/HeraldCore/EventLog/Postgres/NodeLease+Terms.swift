import Synchronization
import ServiceLifecycle

extension NodeLease {
    /// Runs a lease for `role` once `log` is ready, and `term` for each stretch this node holds
    /// it. `term` gets `ended`, which returns when the stretch ends, and must return soon after:
    ///
    /// - the lease let go (the database lost): the term's task is cancelled too, since another
    ///   node may already be taking over;
    /// - a graceful shutdown: the term drains on its own (a delivery in flight is finished and
    ///   marked sent) and only then is the lease let go, so the next holder starts after it; a
    ///   lease lost while it drains cancels it after all.
    ///
    /// `onStandby` runs when the log is ready and after each term.
    static func runTerms(log: PostgresEventLog, role: Role, onStandby: @escaping @Sendable () -> Void = {},
                         term: @escaping @Sendable (_ ended: @escaping @Sendable () async -> Void) async -> Void) async throws {
        // Terms read the store first: none before it is ready.
        while log.phase != .ready {
            if case .failed = log.phase { return }  // the log's own service reports why
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(100)) } } catch { return }
        }
        onStandby()
        // `NodeLease` reports each change once, alternating, and the shutdown comes once: the
        // stream holds three at most.
        let (changes, changed) = AsyncStream.makeStream(of: Change.self)
        let lease = NodeLease(log: log, role: role) { changed.yield(.holding($0)) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { changed.finish() }
                try await lease.run()
            }
            group.addTask {
                do { try await gracefulShutdown() } catch { return }
                changed.yield(.shuttingDown)
            }
            var current: Term?
            var draining = false
            for await change in changes {
                switch change {
                case .holding(true):
                    if !draining { current = Term(term) }
                case .holding(false):
                    // Also while draining: another node may take over now, so the term stops.
                    await current?.cancel()
                    current = nil
                    if !draining { onStandby() }
                case .shuttingDown:
                    draining = true
                    guard let finishing = current else { break }
                    finishing.signalEnd()
                    group.addTask {
                        await finishing.task.value
                        changed.yield(.drained)
                    }
                case .drained:
                    current = nil
                }
                if draining && current == nil { break }
            }
            group.cancelAll()  // lets the lease go, now that no term runs
            try await group.waitForAll()
        }
    }

    private enum Change: Sendable {
        case holding(Bool)
        case shuttingDown
        /// The term ended on its own after the shutdown began.
        case drained
    }

    /// One stretch of holding the lease: `term` in a task of its own, ended by `end`.
    private struct Term {
        let task: Task<Void, Never>
        let ending = TermEnding()

        init(_ term: @escaping @Sendable (_ ended: @escaping @Sendable () async -> Void) async -> Void) {
            let ending = ending
            // `ended` may be awaited any number of times (a bridge made again after a failure
            // waits again); each wait returns at the end, at shutdown, or when its task is cancelled.
            let waitForEnd: @Sendable () async -> Void = {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { await ending.wait() }
                    group.addTask { try? await gracefulShutdown() }
                    await group.next()
                    group.cancelAll()
                }
            }
            // The task inherits the service's graceful shutdown, which the term's work follows.
            task = Task { await term(waitForEnd) }
        }

        /// Tells the term it has ended; its work finishes on its own.
        func signalEnd() { ending.end() }

        /// Ends the term now (the lease is lost) and waits for its work to stop.
        func cancel() async {
            ending.end()
            task.cancel()
            await task.value
        }
    }
}

/// The end of a term, for any number of waiters, each of which may also be cancelled.
private final class TermEnding: Sendable {
    private struct State {
        var ended = false
        var nextWaiter = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        /// Waiters cancelled before they were registered.
        var cancelled: Set<Int> = []
    }

    private let state = Mutex(State())

    func end() {
        let waiters = state.withLock { state in
            state.ended = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state in
                    if state.ended || state.cancelled.remove(id) != nil { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                guard let waiter = state.waiters.removeValue(forKey: id) else {
                    state.cancelled.insert(id)
                    return nil as CheckedContinuation<Void, Never>?
                }
                return waiter
            }
            waiter?.resume()
        }
    }
}
