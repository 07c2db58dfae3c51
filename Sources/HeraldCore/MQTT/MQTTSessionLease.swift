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
        // The bridge reads the sources' memory from the store first: no term before it is ready.
        while log.phase != .ready {
            if case .failed = log.phase { return }  // the log's own service reports why
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(100)) } } catch { return }
        }
        runtime.mqttLink.withLock { $0 = .standby }
        // `NodeLease` reports each change once, alternating, so the stream holds one or two at most.
        let (changes, changed) = AsyncStream.makeStream(of: Bool.self)
        let lease = NodeLease(log: log) { changed.yield($0) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { changed.finish() }
                try await lease.run()
            }
            var term: Term?
            for await holding in changes {
                if holding {
                    term = Term(runtime: runtime)
                } else if let ending = term {
                    await ending.end()
                    term = nil
                    runtime.mqttLink.withLock { $0 = .standby }
                }
            }
            await term?.end()
            try await group.waitForAll()
        }
    }

    /// The bridge while this node holds the lease; a bridge that fails (the database away while
    /// it restores the sources' memory, say) is made again until the term ends.
    private struct Term {
        let task: Task<Void, Never>
        let ending: AsyncStream<Void>.Continuation

        init(runtime: HeraldRuntime) {
            let (ended, ending) = AsyncStream.makeStream(of: Void.self)
            self.ending = ending
            let stop: @Sendable () async -> Void = {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { for await _ in ended {} }
                    group.addTask { try? await gracefulShutdown() }
                    await group.next()
                    group.cancelAll()
                }
            }
            task = Task {
                while !Task.isCancelled {
                    do {
                        try await MQTTBridge(runtime: runtime).run(until: stop)
                        return
                    } catch {
                        runtime.logger.error("mqtt bridge failed; starting it again", metadata: ["error": "\(error)"])
                        try? await Task.sleep(for: .seconds(1))
                    }
                }
            }
        }

        func end() async {
            ending.finish()
            task.cancel()
            await task.value
        }
    }
}
