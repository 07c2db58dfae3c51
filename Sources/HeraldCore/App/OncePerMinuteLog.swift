import Logging
import Synchronization

/// Logs a warning at most once a minute per key, so a chatty bad topic cannot flood the journal.
final class OncePerMinuteLog: Sendable {
    private let last = Mutex<[String: Int64]>([:])

    func warn(_ logger: Logger, key: String, _ message: Logger.Message, metadata: Logger.Metadata) {
        let now = Clock.nowMilliseconds()
        let due = last.withLock { last in
            if let previous = last[key], now - previous < 60_000 { return false }
            if last.count > 10_000 { last.removeAll() }
            last[key] = now
            return true
        }
        if due { logger.warning(message, metadata: metadata) }
    }
}
