import Logging
import ServiceLifecycle

/// What one node does for all (notifications out, the stale and offline watchers) on
/// PostgreSQL: every node sees every commit, so each would send the same notification and
/// raise the same `stale` event. The node holding the duties lease runs them, new ones for
/// each term; another takes over when it dies or loses the database. A notification sent but
/// not yet marked sent when a holder dies is sent again by the next (at least once, with the
/// same idempotency key, as after a crash on one node); a holder that shuts down finishes what
/// it is sending before it lets the lease go.
struct LeasedDuties: Service {
    let runtime: HeraldRuntime
    let log: PostgresEventLog

    /// Builds the duties once, so a target that cannot be made (a mail server's settings, an
    /// MQTT target's files) stops start-up as it does on SQLite, instead of a holder that runs nothing.
    init(runtime: HeraldRuntime, log: PostgresEventLog) throws {
        _ = try runtime.duties()
        self.runtime = runtime
        self.log = log
    }

    func run() async throws {
        let logger = runtime.logger
        try await NodeLease.runTerms(log: log, role: .duties, onStandby: { runtime.dutiesState.withLock { $0 = .standby } }) { ended in
            // The last holder's last events (a `stale`, an `offline`, a notification's dead
            // letter) reach this node's watchers through the feed first, so none is repeated.
            guard await caughtUp() else { return }
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
                        while !Task.isCancelled && !Task.isShuttingDownGracefully {
                            do {
                                try await duty.run()
                                return
                            } catch where !Task.isCancelled && !Task.isShuttingDownGracefully {
                                logger.error("duty failed; running it again", metadata: ["duty": "\(type(of: duty))", "error": "\(error)"])
                                try? await Task.sleep(for: .seconds(1))
                            } catch {}
                        }
                    }
                }
                await ended()
                // The lease lost: another node may be taking over, so stop now. At shutdown the
                // duties finish what they are doing on their own.
                if !Task.isShuttingDownGracefully { group.cancelAll() }
            }
        }
    }

    /// Waits until this node has handed on every event committed before the term began; false
    /// if the term ended first (its task cancelled, or shutdown).
    private func caughtUp() async -> Bool {
        var head: Int64?
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            if head == nil { head = try? await log.headId() }
            if let head, log.gate.publishedThrough >= head { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }
}
