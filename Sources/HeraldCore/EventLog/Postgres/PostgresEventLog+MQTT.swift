import Dispatch
import PostgresNIO
import Synchronization

/// The MQTT bridge's store on PostgreSQL (`MQTTStore`), for the node that holds the broker
/// session. Requests join the append queue in arrival order, from the network thread, so ids
/// follow the order messages came in, as on SQLite.
extension PostgresEventLog: MQTTStore {
    func submit(_ requests: [AppendItem]) -> PendingAppends {
        let pending = PendingAppends(count: requests.count)
        for (index, item) in requests.enumerated() {
            let request = PostgresAppendQueue.Request(drafts: item.drafts, dedupe: item.dedupe, effects: item.effects) {
                pending.set(index, $0)
            }
            do {
                try requireReady()
                switch queue.submit(request) {
                case .queued: continue
                case .overloaded: throw PostgresFailure.statement(endpoint: endpoint, reason: "too many appends waiting; try again")
                case .closed: throw PostgresFailure.unreachable(endpoint: endpoint, reason: "the event log is closed")
                }
            } catch {
                pending.set(index, .failure(error))
            }
        }
        return pending
    }

    func forgetMQTTReceipts() throws {
        try waitOnThisThread {
            try await self.pooled { connection in
                _ = try await connection.query("DELETE FROM mqtt_receipts", logger: self.logger)
            }
        }
    }

    func sourceMemory(_ source: String) throws -> [String: String] {
        try waitOnThisThread { try await self.sourceMemories([source])[source] ?? [:] }
    }

    /// Runs `work` in a task and blocks this thread until it ends: only for Herald's own threads
    /// (the MQTT network thread), never the cooperative pool, which the task itself needs.
    private func waitOnThisThread<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<T, any Error>?>(nil)
        Task {
            let result: Result<T, any Error>
            do { result = .success(try await work()) } catch { result = .failure(error) }
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return try outcome.withLock { $0! }.get()
    }
}
