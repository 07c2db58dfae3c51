import Logging
import ServiceLifecycle

/// What the watchers (stale sensors, devices offline) share: their events are appended like any
/// other, and one that cannot be stored is logged, not retried, since the next check finds it due again.
enum WatcherAppends {
    static func append(_ drafts: [EventDraft], to log: any HeraldStore, logger: Logger, what: String) async {
        guard !drafts.isEmpty else { return }
        do {
            _ = try await log.append(drafts)
        } catch {
            logger.warning("\(what) events not stored", metadata: ["error": "\(error)", "count": "\(drafts.count)"])
        }
    }

    /// Appends what `check` finds due, once a second until Herald stops.
    static func everySecond(to log: any HeraldStore, logger: Logger, what: String, _ check: () -> [EventDraft]) async {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await append(check(), to: log, logger: logger, what: what)
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) } } catch { break }
        }
    }
}
