import PostgresNIO

/// The reads a stream makes to start, resume and replay (`EventHistory`), each in one snapshot
/// with the head it was read at, as on SQLite.
extension PostgresEventLog: EventHistory {
    /// On PostgreSQL no id is ever lost: an append is acknowledged and published only after its
    /// commit, which is durable (Herald's connections set synchronous_commit on), and ids continue
    /// from the committed head. So a resume is reset for an id from the future (a client of
    /// another database, or of a log that was replaced), one below what retention deleted, or one
    /// in a range the SQLite store this one was copied from had lost (`StoreCopy`).
    public func resume(after lastId: Int64, matching filter: EventFilter,
                       limit: Int) async throws -> (status: ResumeStatus, firstPage: EventLog.Page?) {
        try await snapshotRead { connection in
            let (head, oldest) = try await self.bounds(connection)
            if lastId > head { return (.reset(.future, (oldestId: oldest, headId: head)), nil) }
            for try await _ in try await connection.query("""
                SELECT 1 FROM lost_ranges WHERE \(lastId) > after_id AND \(lastId) < before_id LIMIT 1
                """, logger: self.logger) {
                return (.reset(.lost, (oldestId: oldest, headId: head)), nil)
            }
            if lastId < (try await self.prunedThrough(connection)) { return (.reset(.evicted, (oldestId: oldest, headId: head)), nil) }
            return (.exact, try await self.page(after: lastId, head: head, matching: filter, limit: limit, in: connection))
        }
    }

    /// The newest `count` matching events, ascending, and the head as of the same read.
    public func recentEvents(matching filter: EventFilter, count: Int) async throws -> (head: Int64, events: [StoredEvent]) {
        try await snapshotRead { connection in
            let head = try await self.head(connection)
            let channels = try await self.channels(matching: filter, in: connection)
            guard count > 0, !channels.isEmpty else { return (head, []) }
            let rows = try await connection.query("""
                SELECT \(unescaped: Self.columns) FROM events
                WHERE id <= \(head) AND channel = ANY(\(channels)::text[]) AND (\(filter.key)::text IS NULL OR key = \(filter.key))
                ORDER BY id DESC LIMIT \(count)
                """, logger: self.logger)
            return (head, try await Self.decode(rows).reversed())
        }
    }

    /// The id after which the `count` most recent matching events begin (0 when fewer match).
    public func recentStart(matching filter: EventFilter, count: Int) async throws -> Int64 {
        try await snapshotRead { connection in
            let head = try await self.head(connection)
            let channels = try await self.channels(matching: filter, in: connection)
            guard count > 0, !channels.isEmpty else { return head }
            let rows = try await connection.query("""
                SELECT id FROM events
                WHERE id <= \(head) AND channel = ANY(\(channels)::text[]) AND (\(filter.key)::text IS NULL OR key = \(filter.key))
                ORDER BY id DESC LIMIT 1 OFFSET \(count - 1)
                """, logger: self.logger)
            for try await id in rows.decode(Int64.self) { return id - 1 }
            return 0
        }
    }

    /// The latest event of every (channel, key) that matches, and the head of the same snapshot.
    public func snapshot(matching filter: EventFilter) async throws -> (lastEventId: Int64, events: [StoredEvent]) {
        try await snapshotRead { connection in
            let head = try await self.head(connection)
            return (head, try await self.latestPerKey(matching: filter, head: head, in: connection))
        }
    }

    /// The snapshot with unfinished jobs, raised alerts and devices, all from one snapshot.
    public func fullSnapshot(matching filter: EventFilter) async throws -> Snapshot {
        try await snapshotRead { connection in
            let head = try await self.head(connection)
            var snapshot = Snapshot(lastEventId: head, events: try await self.latestPerKey(matching: filter, head: head, in: connection),
                                    jobs: [], alerts: [])
            snapshot.jobs = try await self.jobs(unfinishedOnly: true, in: connection).filter { filter.matches(channel: $0.channel) }
            snapshot.alerts = try await self.alerts(in: connection).filter { filter.matches(channel: $0.channel) }
            snapshot.devices = try await self.devices(id: nil, withReadings: true, in: connection)
                .filter { filter.matches(channel: $0.description.channel) }
            return snapshot
        }
    }

    /// The latest event of every (channel, key) the filter takes, in id order, in the caller's snapshot.
    private func latestPerKey(matching filter: EventFilter, head: Int64, in connection: PostgresConnection) async throws -> [StoredEvent] {
        let channels = try await channels(matching: filter, in: connection)
        guard !channels.isEmpty else { return [] }
        let rows = try await connection.query("""
            SELECT DISTINCT ON (channel, key) \(unescaped: Self.columns) FROM events
            WHERE id <= \(head) AND channel = ANY(\(channels)::text[]) AND (\(filter.key)::text IS NULL OR key = \(filter.key))
            ORDER BY channel, key, id DESC
            """, logger: logger)
        return try await Self.decode(rows).sorted { $0.id < $1.id }
    }

    /// Every channel with its count, first and last id and newest time, by name.
    public func channelStats() async throws -> [EventLog.ChannelStats] {
        try await pooled { connection in
            var stats: [EventLog.ChannelStats] = []
            let rows = try await connection.query("""
                SELECT channel, count(*), min(id), max(id), max(time) FROM events GROUP BY channel ORDER BY channel
                """, logger: self.logger)
            for try await (name, count, first, last, time) in rows.decode((String, Int64, Int64, Int64, Int64).self) {
                stats.append(EventLog.ChannelStats(name: name, count: Int(count), firstId: first, lastId: last, lastTime: time))
            }
            return stats
        }
    }

    /// The head and the oldest stored id (head + 1 for an empty log), in the caller's snapshot.
    private func bounds(_ connection: PostgresConnection) async throws -> (head: Int64, oldest: Int64) {
        let head = try await head(connection)
        for try await oldest in try await connection.query("SELECT min(id) FROM events", logger: logger).decode(Int64?.self) {
            return (head, oldest ?? head + 1)
        }
        return (head, head + 1)
    }
}
