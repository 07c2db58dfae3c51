import Logging
import ServiceLifecycle

/// Sends keepalive comments on every stream and, on shutdown, ends all streams so that clients
/// reconnect (with Last-Event-ID) instead of holding the HTTP server open.
struct HubService: Service {
    let hub: Hub
    let interval: Duration

    func run() async throws {
        await withGracefulShutdownHandler {
            while !Task.isShuttingDownGracefully {
                do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) } } catch { break }
                hub.keepalive()
            }
        } onGracefulShutdown: {
            hub.finishAll()
        }
        hub.finishAll()
    }
}

/// Runs retention every `interval`.
struct RetentionService: Service {
    let log: EventLog
    let policy: EventLog.RetentionPolicy
    let interval: Duration
    let logger: Logger

    func run() async throws {
        while true {
            do {
                let deleted = try await log.prune(policy)
                if deleted > 0 { logger.info("retention pruned events", metadata: ["count": "\(deleted)"]) }
            } catch {
                logger.error("retention failed", metadata: ["error": "\(error)"])
            }
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) } } catch { return }
            if Task.isShuttingDownGracefully { return }
        }
    }
}
