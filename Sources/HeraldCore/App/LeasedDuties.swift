import Logging
import ServiceLifecycle

/// What one node does for all (notifications out, the stale and offline watchers) on
/// PostgreSQL: every node sees every commit, so each would send the same notification and
/// raise the same `stale` event. The node holding the duties lease runs them, new ones for
/// each term; another takes over when it dies or loses the database. A notification sent but
/// not yet marked sent when a holder dies is sent again by the next (at least once, with the
/// same idempotency key, as after a crash on one node).
struct LeasedDuties: Service {
    let runtime: HeraldRuntime
    let log: PostgresEventLog

    func run() async throws {
        let logger = runtime.logger
        try await NodeLease.runTerms(log: log, role: .duties, onStandby: { runtime.dutiesState.withLock { $0 = .standby } }) { ended in
            runtime.dutiesState.withLock { $0 = .running }
            let duties: [any Service]
            do { duties = try runtime.duties() } catch {
                logger.error("duties not started", metadata: ["error": "\(error)"])
                return await ended()
            }
            await withTaskGroup(of: Void.self) { group in
                for duty in duties {
                    group.addTask {
                        // A duty that fails (a watcher's first read while the database is away)
                        // runs again after a pause, for as long as the term lasts.
                        while !Task.isCancelled {
                            do {
                                try await duty.run()
                                return
                            } catch where !Task.isCancelled {
                                logger.error("duty failed; running it again", metadata: ["duty": "\(type(of: duty))", "error": "\(error)"])
                                try? await Task.sleep(for: .seconds(1))
                            } catch {}
                        }
                    }
                }
                await ended()
                group.cancelAll()
            }
        }
    }
}
