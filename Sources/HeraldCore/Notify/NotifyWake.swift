import Synchronization

/// Wakes a delivery service when the writer has committed something it may owe, or at shutdown.
/// A wake that comes while the service is busy is kept, so none is missed between a read of the
/// outbox and the wait that follows it. One service waits on a wake at a time.
final class NotifyWake: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
        /// Set when the current wait's timeout (or its task's cancellation) came first: a waiter
        /// that registers after that returns at once instead of waiting for the next signal.
        var waitEnded = false
    }

    private let state = Mutex(State())

    func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else { state.pending = true; return nil }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns at the next signal (or at once if one came since the last wait), after `timeout`,
    /// or when the task is cancelled.
    func wait(upTo timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let ready = self.state.withLock { state in
                        if state.pending { state.pending = false; return true }
                        if state.waitEnded { return true }
                        state.waiter = continuation
                        return false
                    }
                    if ready { continuation.resume() }
                }
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            let waiter = state.withLock { state in
                state.waitEnded = true
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
            group.cancelAll()
        }
        state.withLock { $0.waitEnded = false }
    }
}
