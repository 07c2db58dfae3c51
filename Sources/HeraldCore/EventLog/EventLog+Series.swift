import GRDB

/// One reading's history downsampled into time buckets (DESIGN §13), and the spans in which it
/// had no data to give: its device offline, or the reading stale.
public struct Series: Sendable, Equatable {
    public struct Bucket: Sendable, Equatable {
        public var start: Int64
        public var min: Double
        public var max: Double
        public var average: Double
        public var count: Int
    }

    public struct Gap: Sendable, Equatable {
        public enum Reason: String, Sendable { case offline, stale }
        public var from: Int64
        public var to: Int64
        public var reason: Reason
    }

    public var buckets: [Bucket]
    public var gaps: [Gap]
    public var unit: String?
}

extension Series {
    /// The spans of a state that opens and closes (stale, offline) within the query's range:
    /// open at its start or not, then each change in time order, as (opens, time); one still
    /// open at the end closes at `to`.
    static func spans(openAtStart: Bool, changes: [(opens: Bool, time: Int64)], query: SeriesQuery) -> [(Int64, Int64)] {
        var openSince: Int64? = openAtStart ? query.from : nil
        var spans: [(Int64, Int64)] = []
        for change in changes {
            if change.opens {
                if openSince == nil { openSince = change.time }
            } else if let since = openSince {
                spans.append((since, change.time))
                openSince = nil
            }
        }
        if let since = openSince { spans.append((since, query.to)) }
        return spans
    }

    /// Whether an `availability` event's data says the device went offline.
    static func isOffline(_ data: String) -> Bool {
        (try? JSONText(validating: Array(data.utf8)))?.value(at: "availability")?.stringValue == "offline"
    }
}

public struct SeriesQuery: Sendable {
    public var channel: String
    public var key: String
    /// A top-level member of the event's data whose numbers are the series; `value` for readings.
    public var field: String
    /// Times in milliseconds, `from` included and `to` excluded.
    public var from: Int64
    public var to: Int64
    public var bucketWidth: Int64

    public init(channel: String, key: String, field: String = "value", from: Int64, to: Int64, points: Int) {
        self.channel = channel
        self.key = key
        self.field = field
        self.from = from
        self.to = to
        let span = max(to - from, 1)
        bucketWidth = (span + Int64(points) - 1) / Int64(points)
    }
}

extension EventLog {
    /// The term of the partial index `events_state_changes` (migration v8), which a query must
    /// repeat word for word for SQLite to use that index.
    static let stateChangeTypes = "type IN ('stale', 'fresh', 'availability')"

    public func series(_ query: SeriesQuery) async throws -> Series {
        try await pool.read { db in
            Series(buckets: try Self.buckets(query, in: db), gaps: try Self.gaps(query, in: db), unit: try Self.unit(query, in: db))
        }
    }

    /// Every stored number of the range in exactly one bucket: `(time - from) / width` is the
    /// bucket, through the (channel, key, time) index.
    private static func buckets(_ query: SeriesQuery, in db: Database) throws -> [Series.Bucket] {
        let statement = try db.cachedStatement(sql: """
            SELECT (time - ?3) / ?5 AS bucket, MIN(v), MAX(v), AVG(v), COUNT(*) FROM (
                SELECT time, json_extract(data, ?6) AS v FROM events
                WHERE channel = ?1 AND key = ?2 AND time >= ?3 AND time < ?4 AND type NOT IN ('stale', 'fresh'))
            WHERE typeof(v) IN ('integer', 'real')
            GROUP BY bucket ORDER BY bucket
            """)
        let path = "$." + query.field
        return try Row.fetchAll(statement, arguments: [query.channel, query.key, query.from, query.to, query.bucketWidth, path]).map { row in
            let bucket: Int64 = row[0]
            return Series.Bucket(start: query.from + bucket * query.bucketWidth, min: row[1], max: row[2], average: row[3], count: row[4])
        }
    }

    /// Stale spans of the key, and offline spans of the device the key is a reading of, clipped
    /// to the range; one still open at `to` ends there.
    private static func gaps(_ query: SeriesQuery, in db: Database) throws -> [Series.Gap] {
        var gaps = try spans(channel: query.channel, key: query.key, types: ["stale", "fresh"], query: query, in: db) { type, _ in
            type == "stale"
        }.map { Series.Gap(from: $0.0, to: $0.1, reason: .stale) }
        if let device = try Row.fetchOne(db, sql: """
            SELECT id, channel FROM devices WHERE substr(?, 1, length(id) + 1) = id || '/' ORDER BY length(id) DESC LIMIT 1
            """, arguments: [query.key]) {
            gaps += try spans(channel: device[1], key: device[0], types: ["availability"], query: query, in: db) { _, data in
                Series.isOffline(data)
            }.map { Series.Gap(from: $0.0, to: $0.1, reason: .offline) }
        }
        return gaps.sorted { ($0.from, $0.to) < ($1.from, $1.to) }
    }

    /// The spans in which the latest event of `types` on (channel, key) was one that `opens`
    /// says begins a gap: the state at `from` (the last such event before it), then each change.
    private static func spans(channel: String, key: String, types: [String], query: SeriesQuery, in db: Database,
                              opens: (String, String) -> Bool) throws -> [(Int64, Int64)] {
        let typeList = types.map { "'\($0)'" }.joined(separator: ", ")
        let before = try Row.fetchOne(db, sql: """
            SELECT type, data FROM events WHERE channel = ? AND key = ? AND time < ? AND \(stateChangeTypes) AND type IN (\(typeList))
            ORDER BY time DESC, id DESC LIMIT 1
            """, arguments: [channel, key, query.from])
        let changes = try Row.fetchAll(db, sql: """
            SELECT type, data, time FROM events WHERE channel = ? AND key = ? AND time >= ? AND time < ? AND \(stateChangeTypes)
            AND type IN (\(typeList)) ORDER BY time, id
            """, arguments: [channel, key, query.from, query.to])
        return Series.spans(openAtStart: before.map { opens($0[0], $0[1]) } == true,
                            changes: changes.map { (opens($0[0], $0[1]), $0[2]) }, query: query)
    }

    /// The unit of the newest event in the range that names one.
    private static func unit(_ query: SeriesQuery, in db: Database) throws -> String? {
        try String.fetchOne(db, sql: """
            SELECT json_extract(data, '$.unit') AS unit FROM events
            WHERE channel = ? AND key = ? AND time >= ? AND time < ? AND unit IS NOT NULL
            ORDER BY time DESC LIMIT 1
            """, arguments: [query.channel, query.key, query.from, query.to])
    }
}
