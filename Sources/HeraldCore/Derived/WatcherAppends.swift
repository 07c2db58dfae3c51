import Logging
import ServiceLifecycle

/// What the watchers (stale sensors, devices offline) share: their events are appended like any
/// other, and one that cannot be stored is logged and retracted (`retract`), so the next check
/// finds it due again.
enum WatcherAppends {
    /// Returns whether the drafts were stored.
    @discardableResult
    static func append(_ drafts: [EventDraft], to log: any HeraldStore, logger: Logger, what: String) async -> Bool {
        guard !drafts.isEmpty else { return true }
        do {
            _ = try await log.append(drafts)
            return true
        } catch {
            logger.warning("\(what) events not stored", metadata: ["error": "\(error)", "count": "\(drafts.count)"])
            return false
        }
    }

    /// Appends what `check` finds due, once a second until Herald stops (or the task is
    /// cancelled); `check` marks what it returns as reported, and `retract` undoes that for drafts
    /// that were not stored.
    static func everySecond(to log: any HeraldStore, logger: Logger, what: String,
                            retract: ([EventDraft]) -> Void, _ check: () -> [EventDraft]) async {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let due = check()
            if !(await append(due, to: log, logger: logger, what: what)) { retract(due) }
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) } } catch { break }
        }
    }
}
