import PostgresNIO

/// Retention on PostgreSQL (`EventRetention`), by the same rules as on SQLite: by count and age
/// per channel, always keeping the latest event of every key, and recent terminal job events and
/// alert events. Any node may prune; two pruning at once delete the same rows, which is harmless.
extension PostgresEventLog: EventRetention {
    @discardableResult
    public func prune(_ policy: EventLog.RetentionPolicy, now: Int64, batch: Int) async throws -> Int {
        let oldestAllowed = policy.maxAgeMilliseconds.map { now - $0 } ?? Int64.min
        let keepSince = now - policy.keepTerminalMilliseconds
        let alertsChannel = options.semantics.alertsChannel
        let channels = try await pooled { connection in
            var names: [String] = []
            for try await name in try await connection.query("SELECT name FROM channels ORDER BY name", logger: self.logger)
                .decode(String.self) { names.append(name) }
            return names
        }
        var total = 0
        for channel in channels {
            while true {
                // One transaction per batch, so no lock is held for long.
                let (count, highest) = try await pooled { connection in
                    try await connection.withTransaction(logger: self.logger) { connection -> (Int, Int64?) in
                        let rows = try await connection.query("""
                            WITH cutoff AS (
                                SELECT coalesce((SELECT id FROM events WHERE channel = \(channel)
                                                 ORDER BY id DESC LIMIT 1 OFFSET \(policy.maxEventsPerChannel)), 0) AS id
                            ), doomed AS (
                                SELECT id FROM events
                                WHERE channel = \(channel) AND (id <= (SELECT id FROM cutoff) OR time < \(oldestAllowed))
                                  AND id NOT IN (SELECT max(id) FROM events WHERE channel = \(channel) GROUP BY key)
                                  AND id NOT IN (SELECT terminal_event_id FROM jobs
                                                 WHERE terminal_event_id IS NOT NULL AND updated_at >= \(keepSince))
                                  AND NOT (channel = \(alertsChannel) AND time >= \(keepSince))
                                ORDER BY id LIMIT \(batch)
                            ), deleted AS (
                                DELETE FROM events WHERE id IN (SELECT id FROM doomed) RETURNING id
                            )
                            SELECT count(*), max(id) FROM deleted
                            """, logger: self.logger)
                        var outcome: (Int64, Int64?) = (0, nil)
                        for try await row in rows.decode((Int64, Int64?).self) { outcome = row }
                        guard let highest = outcome.1 else { return (0, nil) }
                        try await connection.query("""
                            INSERT INTO meta(name, value) VALUES ('pruned_through', \(highest))
                            ON CONFLICT (name) DO UPDATE SET value = greatest(meta.value, excluded.value)
                            """, logger: self.logger)
                        return (Int(outcome.0), highest)
                    }
                }
                if let highest { options.onPrune(highest) }
                total += count
                if count < batch { break }
            }
        }
        return total
    }

    /// The highest id retention deleted, in the caller's snapshot (0 before any).
    func prunedThrough(_ connection: PostgresConnection) async throws -> Int64 {
        for try await value in try await connection.query("SELECT value FROM meta WHERE name = 'pruned_through'", logger: logger)
            .decode(Int64.self) { return value }
        return 0
    }
}
