import GRDB

/// Retention by count and age per channel, always keeping the latest event of every key, and
/// recent terminal job events and alert events.
extension EventLog {
    public struct RetentionPolicy: Sendable {
        public var maxEventsPerChannel: Int
        public var maxAgeMilliseconds: Int64?
        /// Terminal job events and alert events younger than this stay, past the limits above.
        public var keepTerminalMilliseconds: Int64

        public init(maxEventsPerChannel: Int, maxAgeMilliseconds: Int64?, keepTerminalMilliseconds: Int64 = 7 * 86_400_000) {
            self.maxEventsPerChannel = maxEventsPerChannel
            self.maxAgeMilliseconds = maxAgeMilliseconds
            self.keepTerminalMilliseconds = keepTerminalMilliseconds
        }
    }

    /// Deletes at most `batch` events per transaction, so the writer is never held for long;
    /// returns how many were deleted in all.
    @discardableResult
    public func prune(_ policy: RetentionPolicy, now: Int64 = Clock.nowMilliseconds(), batch: Int = 1_000) async throws -> Int {
        var total = 0
        let oldestAllowed = policy.maxAgeMilliseconds.map { now - $0 } ?? Int64.min
        let keepSince = now - policy.keepTerminalMilliseconds
        let alertsChannel = options.semantics.alertsChannel
        for channel in knownChannels.names.sorted() {
            while true {
                let deleted = try await pool.write { db -> Int in
                    let cutoff = try Int64.fetchOne(db, sql: """
                        SELECT id FROM events WHERE channel = ? ORDER BY id DESC LIMIT 1 OFFSET ?
                        """, arguments: [channel, policy.maxEventsPerChannel]) ?? 0
                    let ids = try Int64.fetchAll(db, sql: """
                        SELECT id FROM events
                        WHERE channel = ? AND (id <= ? OR time < ?)
                          AND id NOT IN (SELECT max(id) FROM events WHERE channel = ? GROUP BY key)
                          AND id NOT IN (SELECT terminal_event_id FROM jobs
                                         WHERE terminal_event_id IS NOT NULL AND updated_at >= ?)
                          AND NOT (channel = ? AND time >= ?)
                        ORDER BY id LIMIT ?
                        """, arguments: [channel, cutoff, oldestAllowed, channel, keepSince, alertsChannel, keepSince, batch])
                    guard let highest = ids.last else { return 0 }
                    try db.execute(sql: "DELETE FROM events WHERE id IN (\(ids.map(String.init).joined(separator: ",")))")
                    // A resume from below this id may have missed deleted events: it gets `$reset` (evicted).
                    // Both sides are cast: meta.value is TEXT, and SQLite's max() ranks text above any integer.
                    try db.execute(sql: """
                        INSERT INTO meta(name, value) VALUES ('pruned_through', ?)
                        ON CONFLICT(name) DO UPDATE SET value = max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))
                        """, arguments: [highest])
                    self.options.onPrune(highest)
                    return ids.count
                }
                total += deleted
                if deleted < batch { break }
            }
        }
        return total
    }
}
