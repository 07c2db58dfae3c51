import GRDB

/// A notification owed to one target (one subscription, for Web Push), as the outbox holds it.
struct OutboxItem: Sendable, Equatable {
    var seq: Int64
    var target: String
    var lane: String
    var eventId: Int64
    var subject: String
    var envelope: String
    var createdAt: Int64
    var attempts: Int
    var nextAt: Int64
    var lastError: String?

    static let columns = "seq, target, lane, event_id, subject, envelope, created_at, attempts, next_at, last_error"

    /// Rows in `seq` order, grouped by lane, the lanes in the order of their first row: what
    /// `outboxPage` answers on either store.
    static func byLane(_ rows: [OutboxItem]) -> [[OutboxItem]] {
        var lanes: [String: [OutboxItem]] = [:], order: [String] = []
        for row in rows {
            if lanes[row.lane] == nil { order.append(row.lane) }
            lanes[row.lane, default: []].append(row)
        }
        return order.map { lanes[$0]! }
    }
}

extension OutboxItem {
    init(row: Row) {
        self.init(seq: row[0], target: row[1], lane: row[2], eventId: row[3], subject: row[4], envelope: row[5],
                  createdAt: row[6], attempts: row[7], nextAt: row[8], lastError: row[9])
    }
}

/// What `GET /api/notify` and the gauges show of one target's outbox.
public struct OutboxSummary: Sendable, Equatable {
    public var owed = 0
    public var oldestCreatedAt: Int64?
    public var lastError: String?
}

/// The notification outbox on SQLite (`NotifyStore`): rows are written by the writer with their
/// events (`NotifyRouting`) and taken here by the delivery services, on GRDB's threads.
extension EventLog {
    /// Up to `perLane` rows of each of `target`'s lanes, in order, leaving out the rows a rate
    /// limit holds back (never tried, not due): one read for a run of deliveries, not one each.
    func outboxPage(target: String, now: Int64, perLane: Int) async throws -> [[OutboxItem]] {
        try await pool.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT \(OutboxItem.columns) FROM (
                    SELECT *, ROW_NUMBER() OVER (PARTITION BY lane ORDER BY seq) AS n FROM notify_outbox
                    WHERE target = ? AND NOT (attempts = 0 AND next_at > ?))
                WHERE n <= ? ORDER BY seq
                """, arguments: [target, now, perLane]).map(OutboxItem.init)
            return OutboxItem.byLane(rows)
        }
    }

    /// When the next row of `target` a rate limit holds back comes due, if any.
    func outboxNextHeld(target: String, now: Int64) async throws -> Int64? {
        try await pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT MIN(next_at) FROM notify_outbox WHERE target = ? AND attempts = 0 AND next_at > ?",
                               arguments: [target, now])
        }
    }

    /// The newest row of the same alert in the same lane, and how many older ones it stands for:
    /// a rate limit sends only the latest state of what changed in its window.
    func outboxLatest(of item: OutboxItem) async throws -> (OutboxItem, folded: Int) {
        try await pool.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT \(OutboxItem.columns) FROM notify_outbox WHERE target = ? AND lane = ? AND subject = ? AND seq >= ? ORDER BY seq
                """, arguments: [item.target, item.lane, item.subject, item.seq]).map(OutboxItem.init)
            return (rows.last ?? item, max(rows.count - 1, 0))
        }
    }

    /// When `subject` last went out to `target`.
    func lastSent(target: String, subject: String) async throws -> Int64? {
        try await pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT sent_at FROM notify_sent WHERE target = ? AND subject = ?", arguments: [target, subject])
        }
    }

    /// Sent: the row (and the older rows of its alert it folded) are no longer owed.
    func outboxDelivered(_ item: OutboxItem, at time: Int64) async throws {
        try await pool.write { db in
            try Self.deleteThrough(item, in: db)
            try db.execute(sql: "INSERT OR REPLACE INTO notify_sent(target, subject, sent_at) VALUES (?, ?, ?)",
                           arguments: [item.target, item.subject, time])
        }
    }

    /// Tried and failed for now: tried again at `nextAt`. A rate limit's hold sets `nextAt` only.
    func outboxReschedule(_ item: OutboxItem, nextAt: Int64, error: String?) async throws {
        try await pool.write { db in
            if let error {
                try db.execute(sql: "UPDATE notify_outbox SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE seq = ?",
                               arguments: [nextAt, error, item.seq])
            } else {
                try db.execute(sql: "UPDATE notify_outbox SET next_at = ? WHERE seq = ?", arguments: [nextAt, item.seq])
            }
        }
    }

    /// Given up (the caller has stored its `$deadletter` event first): no longer owed, nor are
    /// the older rows of its alert it stood for.
    func outboxRemove(_ item: OutboxItem) async throws {
        try await pool.write { db in try Self.deleteThrough(item, in: db) }
    }

    /// The row and the older rows of its alert in its lane: what one delivery stands for.
    private static func deleteThrough(_ item: OutboxItem, in db: Database) throws {
        try db.execute(sql: "DELETE FROM notify_outbox WHERE target = ? AND lane = ? AND subject = ? AND seq <= ?",
                       arguments: [item.target, item.lane, item.subject, item.seq])
    }

    /// Rows of targets no longer configured: given up at start, so none waits forever unseen.
    func outboxOrphans(keeping targets: Set<String>) async throws -> [OutboxItem] {
        try await pool.read { db in
            let kept = Array(repeating: "?", count: targets.count).joined(separator: ",")
            return try Row.fetchAll(db, sql: "SELECT \(OutboxItem.columns) FROM notify_outbox WHERE target NOT IN (\(kept)) ORDER BY seq",
                                    arguments: StatementArguments(Array(targets))).map(OutboxItem.init)
        }
    }

    /// Per target, or for `only` that one (a delivery service's gauges).
    func outboxSummaries(only: String?) async throws -> [String: OutboxSummary] {
        try await pool.read { db in
            var summaries: [String: OutboxSummary] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT target, COUNT(*), MIN(created_at),
                       (SELECT last_error FROM notify_outbox i WHERE i.target = o.target AND last_error IS NOT NULL ORDER BY seq LIMIT 1)
                FROM notify_outbox o WHERE ?1 IS NULL OR target = ?1 GROUP BY target
                """, arguments: [only]) {
                summaries[row[0]] = OutboxSummary(owed: row[1], oldestCreatedAt: row[2], lastError: row[3])
            }
            return summaries
        }
    }

    // MARK: Web Push subscriptions

    /// Stores (or replaces) a browser's subscription; `json` is what it sent, re-serialized. A
    /// new one beyond `limit` is refused, in the same transaction that counts them.
    func savePushSubscription(endpoint: String, json: String, limit: Int) async throws -> PushSubscriptionSaved {
        try await pool.write { db in
            let known = try Bool.fetchOne(db, sql: "SELECT 1 FROM push_subscriptions WHERE endpoint = ?", arguments: [endpoint]) ?? false
            if !known, try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM push_subscriptions") ?? 0 >= limit { return .full }
            try db.execute(sql: """
                INSERT INTO push_subscriptions(endpoint, json, created_at) VALUES (?, ?, ?)
                ON CONFLICT(endpoint) DO UPDATE SET json = excluded.json
                """, arguments: [endpoint, json, Clock.nowMilliseconds()])
            return known ? .replaced : .created
        }
    }

    /// Removes a subscription and what it was owed; returns whether there was one.
    @discardableResult
    func deletePushSubscription(endpoint: String) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM push_subscriptions WHERE endpoint = ?", arguments: [endpoint])
            let existed = db.changesCount > 0
            try db.execute(sql: "DELETE FROM notify_outbox WHERE lane = ? AND lane != ''", arguments: [endpoint])
            return existed
        }
    }

    func pushSubscription(endpoint: String) async throws -> String? {
        try await pool.read { db in
            try String.fetchOne(db, sql: "SELECT json FROM push_subscriptions WHERE endpoint = ?", arguments: [endpoint])
        }
    }

    func pushSubscriptionEndpoints() async throws -> [String] {
        try await pool.read { db in try Self.pushEndpoints(in: db) }
    }

    /// Oldest first: the order the writer gives their lanes (`NotifyRouting`).
    static func pushEndpoints(in db: Database) throws -> [String] {
        try String.fetchAll(db, sql: "SELECT endpoint FROM push_subscriptions ORDER BY created_at, endpoint")
    }

    func pushSubscriptionCount() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM push_subscriptions") ?? 0 }
    }

    /// A value kept in `meta` (the VAPID key), made by `make` the first time it is asked for.
    func keptValue(_ name: String, orMake make: @Sendable () -> String) async throws -> String {
        try await pool.write { db in
            if let value = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE name = ?", arguments: [name]) { return value }
            let value = make()
            try db.execute(sql: "INSERT INTO meta(name, value) VALUES (?, ?)", arguments: [name, value])
            return value
        }
    }
}
