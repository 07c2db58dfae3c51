import Logging
import PostgresNIO

/// Reads. Each one sees a single snapshot: the head with the events below it, so a stream
/// knows exactly how far a read covered. Because appends commit in id order (see
/// `PostgresEventLog+Append.swift`), a snapshot that shows head h shows every event up to h.
extension PostgresEventLog {
    static let columns = "id, channel, type, key, time, data, source"

    /// Up to `limit` events with id > `after` that match, ascending, and the head as of the
    /// same snapshot.
    public func events(after: Int64, matching filter: EventFilter, limit: Int) async throws -> EventLog.Page {
        try await snapshotRead { connection in
            try await self.page(after: after, head: try await self.head(connection), matching: filter, limit: limit, in: connection)
        }
    }

    /// A page of events in (after, head], in the caller's snapshot (which read `head`).
    func page(after: Int64, head: Int64, matching filter: EventFilter, limit: Int,
              in connection: PostgresConnection) async throws -> EventLog.Page {
        let channels = try await channels(matching: filter, in: connection)
        guard !channels.isEmpty else { return (head, []) }
        let rows = try await connection.query("""
            SELECT \(unescaped: Self.columns) FROM events
            WHERE id > \(after) AND id <= \(head) AND channel = ANY(\(channels)::text[])
              AND (\(filter.key)::text IS NULL OR key = \(filter.key))
            ORDER BY id LIMIT \(limit)
            """, logger: logger)
        return (head, try await Self.decode(rows))
    }

    /// Jobs: unfinished first (newest update first), then finished ones; as on SQLite.
    public func jobs(channel: String? = nil, key: String? = nil) async throws -> [JobRecord] {
        try await pooled { try await self.jobs(channel: channel, key: key, in: $0) }
    }

    func jobs(channel: String? = nil, key: String? = nil, unfinishedOnly: Bool = false,
              in connection: PostgresConnection) async throws -> [JobRecord] {
        let rows = try await connection.query("""
            SELECT \(unescaped: JobRecord.columns) FROM jobs
            WHERE (\(channel)::text IS NULL OR channel = \(channel)) AND (\(key)::text IS NULL OR key = \(key))
              AND (NOT \(unfinishedOnly) OR terminal_event_id IS NULL)
            ORDER BY terminal_event_id IS NOT NULL, updated_at DESC LIMIT 1000
            """, logger: logger)
        var jobs: [JobRecord] = []
        for try await row in rows { jobs.append(try JobRecord(postgres: row)) }
        return jobs
    }

    /// Alerts that are raised, most severe and newest first; with `all`, cleared ones too.
    public func alerts(all: Bool = false) async throws -> [AlertRecord] {
        try await pooled { try await self.alerts(all: all, in: $0) }
    }

    func alerts(all: Bool = false, in connection: PostgresConnection) async throws -> [AlertRecord] {
        let rows = try await connection.query("""
            SELECT \(unescaped: AlertRecord.columns) FROM alerts WHERE \(all) OR state = 'raised'
            ORDER BY state = 'raised' DESC, CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,
                     last_event_id DESC LIMIT 1000
            """, logger: logger)
        var alerts: [AlertRecord] = []
        for try await row in rows { alerts.append(try AlertRecord(postgres: row)) }
        return alerts
    }

    /// Whether an append could be stored now: the server answers and takes writes (a standby
    /// in recovery, or a database set read-only, does not). Asked by `/readyz`.
    public func isWritable() async -> Bool {
        do {
            return try await pooled { connection in
                let rows = try await connection.query("""
                    SELECT NOT pg_is_in_recovery() AND current_setting('default_transaction_read_only') = 'off'
                    """, logger: self.logger)
                for try await writable in rows.decode(Bool.self) { return writable }
                return false
            }
        } catch {
            return false
        }
    }

    /// The id of the terminal event of the job `key` on a channel the filter takes, if it finished.
    public func terminalEventId(matching filter: EventFilter) async throws -> Int64? {
        guard let key = filter.key else { return nil }
        return try await jobs(key: key).first { $0.terminalEventId != nil && filter.matches(channel: $0.channel) }?.terminalEventId
    }

    /// Work on a pooled connection (every read, and the writes that take no event id: sessions),
    /// refused before the log is ready, failures in words.
    func pooled<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try requireReady()
        do {
            // A deadline, as on Herald's own connections (`WatchedConnection`): a read the library
            // leaves waiting fails instead of holding its caller for ever.
            return try await GuardedOutcome<T>().run(deadline: Self.pooledDeadline, endpoint: endpoint, giveUp: {}) {
                try await self.client.withConnection { try await body($0) }
            }
        } catch {
            throw PostgresFailure.from(error, endpoint: endpoint)
        }
    }

    /// Longest pooled work may wait for its connection and its answers.
    static let pooledDeadline: Duration = .seconds(30)

    /// The last id committed, or 0 for an empty log.
    public func headId() async throws -> Int64 {
        try await pooled { try await self.head($0) }
    }

    /// Every event in (after, through], with an optional key, ascending: the feed's catch-up
    /// and the appender's fill-in of other nodes' commits.
    func events(after: Int64, through: Int64, key: String? = nil, limit: Int,
                in connection: PostgresConnection) async throws -> [StoredEvent] {
        let rows = try await connection.query("""
            SELECT \(unescaped: Self.columns) FROM events
            WHERE id > \(after) AND id <= \(through) AND (\(key)::text IS NULL OR key = \(key))
            ORDER BY id LIMIT \(limit)
            """, logger: logger)
        return try await Self.decode(rows)
    }

    /// The names of the channels the filter takes, read in the caller's snapshot (a channel is
    /// recorded in the transaction of its first event, so none is missing). Matched here, not
    /// in SQL, so that selectors mean exactly what they mean to the hub (`#` skips `$status`).
    func channels(matching filter: EventFilter, in connection: PostgresConnection) async throws -> [String] {
        var names: [String] = []
        for try await name in try await connection.query("SELECT name FROM channels", logger: logger).decode(String.self)
        where filter.matches(channel: name) {
            names.append(name)
        }
        return names
    }

    /// `body` on a pooled connection, in one read-only snapshot: how every read that names a head starts.
    func snapshotRead<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await pooled { connection in try await self.inSnapshot(connection, body) }
    }

    /// Runs `body` in one read-only REPEATABLE READ transaction: its statements share a snapshot.
    func inSnapshot<T: Sendable>(_ connection: PostgresConnection,
                                         _ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
        do {
            let value = try await body(connection)
            try await connection.query("COMMIT", logger: logger)
            return value
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
    }

    static func decode(_ rows: PostgresRowSequence) async throws -> [StoredEvent] {
        var events: [StoredEvent] = []
        for try await (id, channel, type, key, time, data, source)
            in rows.decode((Int64, String, String, String?, Int64, String, String?).self) {
            events.append(StoredEvent(id: id, draft: EventDraft(channel: channel, type: type, key: key,
                                                                 time: time, data: data, source: source)))
        }
        return events
    }
}
