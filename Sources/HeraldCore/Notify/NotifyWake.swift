import Synchronization

/// Wakes a delivery service when the writer has committed something it may owe, or at shutdown.
/// A wake that comes while the service is busy is kept, so none is missed between a read of the
/// outbox and the wait that follows it.
final class NotifyWake: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
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

    /// Returns at the next signal (or at once if one came since the last wait), or after `timeout`.
    func wait(upTo timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let ready = self.state.withLock { state in
                        if state.pending { state.pending = false; return true }
                        state.waiter = continuation
                        return false
                    }
                    if ready { continuation.resume() }
                }
            }
            group.addTask {
                // Cancelled once a signal came first: then it must not leave one pending.
                do { try await Task.sleep(for: timeout); self.signal() } catch {}
            }
            await group.next()
            group.cancelAll()
        }
    }
}
