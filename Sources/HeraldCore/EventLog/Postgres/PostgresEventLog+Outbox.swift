import PostgresNIO

/// The notification outbox on PostgreSQL (`NotifyStore`), by the same rules as on SQLite. Rows
/// are written in the append transaction, under the append lock, so `seq` follows commit order;
/// one node at a time delivers them (`LeasedDuties`), so a notification goes out once however
/// many nodes stored alerts.
extension PostgresEventLog {
    func outboxPage(target: String, now: Int64, perLane: Int) async throws -> [[OutboxItem]] {
        let rows = try await pooled { connection in
            try await Self.outboxItems(try await connection.query("""
                SELECT \(unescaped: OutboxItem.columns) FROM (
                    SELECT *, row_number() OVER (PARTITION BY lane ORDER BY seq) AS n FROM notify_outbox
                    WHERE target = \(target) AND NOT (attempts = 0 AND next_at > \(now))) AS owed
                WHERE n <= \(perLane) ORDER BY seq
                """, logger: self.logger))
        }
        return OutboxItem.byLane(rows)
    }

    func outboxNextHeld(target: String, now: Int64) async throws -> Int64? {
        try await pooled { connection in
            try await self.optionalInt(connection.query("""
                SELECT min(next_at) FROM notify_outbox WHERE target = \(target) AND attempts = 0 AND next_at > \(now)
                """, logger: self.logger))
        }
    }

    func outboxLatest(of item: OutboxItem) async throws -> (OutboxItem, folded: Int) {
        let rows = try await pooled { connection in
            try await Self.outboxItems(try await connection.query("""
                SELECT \(unescaped: OutboxItem.columns) FROM notify_outbox
                WHERE target = \(item.target) AND lane = \(item.lane) AND subject = \(item.subject) AND seq >= \(item.seq) ORDER BY seq
                """, logger: self.logger))
        }
        return (rows.last ?? item, max(rows.count - 1, 0))
    }

    func lastSent(target: String, subject: String) async throws -> Int64? {
        try await pooled { connection in
            try await self.optionalInt(connection.query("""
                SELECT sent_at FROM notify_sent WHERE target = \(target) AND subject = \(subject)
                """, logger: self.logger))
        }
    }

    func outboxDelivered(_ item: OutboxItem, at time: Int64) async throws {
        try await pooled { connection in
            try await connection.withTransaction(logger: self.logger) { connection in
                try await self.deleteThrough(item, in: connection)
                try await connection.query("""
                    INSERT INTO notify_sent(target, subject, sent_at) VALUES (\(item.target), \(item.subject), \(time))
                    ON CONFLICT (target, subject) DO UPDATE SET sent_at = excluded.sent_at
                    """, logger: self.logger)
            }
        }
    }

    func outboxReschedule(_ item: OutboxItem, nextAt: Int64, error: String?) async throws {
        try await pooled { connection in
            if let error {
                try await connection.query("""
                    UPDATE notify_outbox SET attempts = attempts + 1, next_at = \(nextAt), last_error = \(error) WHERE seq = \(item.seq)
                    """, logger: self.logger)
            } else {
                try await connection.query("UPDATE notify_outbox SET next_at = \(nextAt) WHERE seq = \(item.seq)", logger: self.logger)
            }
            return ()
        }
    }

    func outboxRemove(_ item: OutboxItem) async throws {
        try await pooled { connection in try await self.deleteThrough(item, in: connection) }
    }

    private func deleteThrough(_ item: OutboxItem, in connection: PostgresConnection) async throws {
        try await connection.query("""
            DELETE FROM notify_outbox WHERE target = \(item.target) AND lane = \(item.lane) AND subject = \(item.subject) AND seq <= \(item.seq)
            """, logger: logger)
    }

    func outboxOrphans(keeping targets: Set<String>) async throws -> [OutboxItem] {
        try await pooled { connection in
            try await Self.outboxItems(try await connection.query("""
                SELECT \(unescaped: OutboxItem.columns) FROM notify_outbox WHERE NOT (target = ANY(\(Array(targets))::text[])) ORDER BY seq
                """, logger: self.logger))
        }
    }

    func outboxSummaries(only: String?) async throws -> [String: OutboxSummary] {
        try await pooled { connection in
            var summaries: [String: OutboxSummary] = [:]
            let rows = try await connection.query("""
                SELECT target, count(*), min(created_at),
                       (SELECT last_error FROM notify_outbox i WHERE i.target = o.target AND last_error IS NOT NULL ORDER BY seq LIMIT 1)
                FROM notify_outbox o WHERE \(only)::text IS NULL OR target = \(only) GROUP BY target
                """, logger: self.logger)
            for try await (target, owed, oldest, lastError) in rows.decode((String, Int64, Int64?, String?).self) {
                summaries[target] = OutboxSummary(owed: Int(owed), oldestCreatedAt: oldest, lastError: lastError)
            }
            return summaries
        }
    }

    // MARK: Web Push subscriptions

    /// The count and the insert share a transaction that locks out other savers (not readers),
    /// so two nodes saving at once cannot pass `limit` together.
    func savePushSubscription(endpoint: String, json: String, limit: Int) async throws -> PushSubscriptionSaved {
        try await pooled { connection in
            try await connection.withTransaction(logger: self.logger) { connection in
                try await connection.query("LOCK TABLE push_subscriptions IN EXCLUSIVE MODE", logger: self.logger)
                var known = false, count: Int64 = 0
                for try await (isKnown, total) in try await connection.query("""
                    SELECT EXISTS (SELECT 1 FROM push_subscriptions WHERE endpoint = \(endpoint)), (SELECT count(*) FROM push_subscriptions)
                    """, logger: self.logger).decode((Bool, Int64).self) { (known, count) = (isKnown, total) }
                if !known, count >= limit { return .full }
                try await connection.query("""
                    INSERT INTO push_subscriptions(endpoint, json, created_at) VALUES (\(endpoint), \(json), \(Clock.nowMilliseconds()))
                    ON CONFLICT (endpoint) DO UPDATE SET json = excluded.json
                    """, logger: self.logger)
                return known ? .replaced : .created
            }
        }
    }

    @discardableResult
    func deletePushSubscription(endpoint: String) async throws -> Bool {
        try await pooled { connection in
            try await connection.withTransaction(logger: self.logger) { connection in
                var existed = false
                for try await _ in try await connection.query("""
                    DELETE FROM push_subscriptions WHERE endpoint = \(endpoint) RETURNING 1
                    """, logger: self.logger) { existed = true }
                try await connection.query("DELETE FROM notify_outbox WHERE lane = \(endpoint) AND lane != ''", logger: self.logger)
                return existed
            }
        }
    }

    func pushSubscription(endpoint: String) async throws -> String? {
        try await pooled { connection in
            for try await json in try await connection.query("""
                SELECT json FROM push_subscriptions WHERE endpoint = \(endpoint)
                """, logger: self.logger).decode(String.self) { return json }
            return nil
        }
    }

    func pushSubscriptionEndpoints() async throws -> [String] {
        try await pooled { try await self.pushEndpoints(in: $0) }
    }

    /// Oldest first, as on SQLite: the order the writer gives their lanes.
    func pushEndpoints(in connection: PostgresConnection) async throws -> [String] {
        var endpoints: [String] = []
        for try await endpoint in try await connection.query("""
            SELECT endpoint FROM push_subscriptions ORDER BY created_at, endpoint
            """, logger: logger).decode(String.self) { endpoints.append(endpoint) }
        return endpoints
    }

    func pushSubscriptionCount() async throws -> Int {
        try await pooled { connection in
            Int(try await self.optionalInt(connection.query("SELECT count(*) FROM push_subscriptions", logger: self.logger)) ?? 0)
        }
    }

    /// The insert keeps what another node may have stored first; every node then reads that one.
    func keptValue(_ name: String, orMake make: @Sendable () -> String) async throws -> String {
        let read: @Sendable (PostgresConnection) async throws -> String? = { connection in
            for try await value in try await connection.query("SELECT value FROM kept_values WHERE name = \(name)", logger: self.logger)
                .decode(String.self) { return value }
            return nil
        }
        if let value = try await pooled(read) { return value }
        let made = make()
        return try await pooled { connection in
            try await connection.query("INSERT INTO kept_values(name, value) VALUES (\(name), \(made)) ON CONFLICT DO NOTHING",
                                       logger: self.logger)
            guard let value = try await read(connection) else {
                throw PostgresFailure.statement(endpoint: self.endpoint, reason: "kept value \(name) vanished after its insert")
            }
            return value
        }
    }

    // MARK: Written with the events

    /// The rows `events` owe (`NotifyRouting`), in the append transaction.
    func enqueueOwed(_ events: [StoredEvent], in connection: PostgresConnection) async throws {
        let routing = options.notify
        guard !routing.routes.isEmpty else { return }
        let lanes = routing.mayNeedLanes(events) ? try await pushEndpoints(in: connection) : []
        let owed = routing.owed(events, lanes: { lanes })
        guard !owed.isEmpty else { return }
        let now = Clock.nowMilliseconds()
        try await connection.query("""
            INSERT INTO notify_outbox(target, lane, event_id, subject, envelope, created_at, next_at)
            SELECT target, lane, event_id, subject, envelope, \(now), \(now)
            FROM unnest(\(owed.map(\.target))::text[], \(owed.map(\.lane))::text[], \(owed.map(\.event.id))::bigint[],
                        \(owed.map(\.subject))::text[], \(owed.map(\.event.envelope))::text[])
                 WITH ORDINALITY AS owed(target, lane, event_id, subject, envelope, n)
            ORDER BY n
            """, logger: logger)
    }

    private static func outboxItems(_ rows: PostgresRowSequence) async throws -> [OutboxItem] {
        var items: [OutboxItem] = []
        for try await (seq, target, lane, eventId, subject, envelope, createdAt, attempts, nextAt, lastError)
            in rows.decode((Int64, String, String, Int64, String, String, Int64, Int32, Int64, String?).self) {
            items.append(OutboxItem(seq: seq, target: target, lane: lane, eventId: eventId, subject: subject, envelope: envelope,
                                    createdAt: createdAt, attempts: Int(attempts), nextAt: nextAt, lastError: lastError))
        }
        return items
    }

    private func optionalInt(_ rows: PostgresRowSequence) async throws -> Int64? {
        for try await value in rows.decode(Int64?.self) { return value }
        return nil
    }
}
