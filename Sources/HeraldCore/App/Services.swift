import Logging
import ServiceLifecycle

/// Sends keepalive comments on every stream and, on shutdown, ends all streams so that clients
/// reconnect (with Last-Event-ID) instead of holding the HTTP server open.
///
/// It stops before the HTTP server does (services stop in reverse order), and waits, a few
/// seconds at most, until the streams have ended. Only then does the server close its
/// connections: an HTTP/2 connection with no stream left ends with SwiftNIO's two GOAWAYs, the
/// second naming the last stream it served, instead of a GOAWAY that names none and a close
/// under streams still open; on HTTP/1.1 each stream ends with its terminating chunk.
struct HubService: Service {
    let hub: Hub
    let interval: Duration
    let streams: ConnectionLimits
    var endGrace: Duration = .seconds(3)

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
        let deadline = ContinuousClock.now + endGrace
        while streams.inUse > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}

/// Runs retention every `interval`.
struct RetentionService: Service {
    let log: any EventRetention
    let policy: EventLog.RetentionPolicy
    let interval: Duration
    let logger: Logger

    func run() async throws {
        while true {
            // The first pruning waits an interval too: nothing about it is urgent, and on
            // PostgreSQL the database may not have been reached yet at start.
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) } } catch { return }
            if Task.isShuttingDownGracefully { return }
            do {
                let deleted = try await log.prune(policy, now: Clock.nowMilliseconds(), batch: 1_000)
                if deleted > 0 { logger.info("retention pruned events", metadata: ["count": "\(deleted)"]) }
            } catch {
                logger.error("retention failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
