import Logging
import ServiceLifecycle

/// MQTT on PostgreSQL: several nodes, one broker session (a fixed client id, persistent, QoS 1).
/// The node that holds the session lease (`NodeLease`) runs the bridge; the others stand by and
/// one takes over when the holder dies or loses the database. A message the holder stored but
/// had not acknowledged comes again to the next holder, and the duplicate check in PostgreSQL
/// stores it once.
struct MQTTSessionLease: Service {
    let runtime: HeraldRuntime
    let log: PostgresEventLog

    func run() async throws {
        try await NodeLease.runTerms(log: log, role: .mqttSession, onStandby: { runtime.mqttLink.withLock { $0 = .standby } }) { ended in
            // A bridge that fails (the database away while it restores the sources' memory, say)
            // is made again until the term ends.
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                do {
                    try await MQTTBridge(runtime: runtime).run(until: ended)
                    return
                } catch where !Task.isCancelled && !Task.isShuttingDownGracefully {
                    runtime.logger.error("mqtt bridge failed; starting it again", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: .seconds(1))
                } catch {}
            }
        }
    }
}
