import PostgresNIO

/// One reading's history in time buckets, with its gaps (DESIGN §13), as on SQLite
/// (`EventLog+Series.swift`): event data is JSON text, read here as `jsonb`.
extension PostgresEventLog: SeriesStore {
    public func series(_ query: SeriesQuery) async throws -> Series {
        try await snapshotRead { connection in
            Series(buckets: try await self.buckets(query, in: connection), gaps: try await self.gaps(query, in: connection),
                   unit: try await self.unit(query, in: connection))
        }
    }

    /// Every number of the range in exactly one bucket, `(time - from) / width`, through the
    /// (channel, key, time) index. As SQLite's json_extract does, a boolean counts as 1 or 0
    /// and anything else that is not a number is left out.
    private func buckets(_ query: SeriesQuery, in connection: PostgresConnection) async throws -> [Series.Bucket] {
        let rows = try await connection.query("""
            SELECT bucket, min(v), max(v), avg(v), count(*) FROM (
                SELECT (time - \(query.from)) / \(query.bucketWidth) AS bucket,
                       CASE jsonb_typeof(data::jsonb -> \(query.field))
                           WHEN 'number' THEN (data::jsonb ->> \(query.field))::double precision
                           WHEN 'boolean' THEN CASE WHEN (data::jsonb ->> \(query.field)) = 'true' THEN 1.0 ELSE 0.0 END
                       END AS v
                FROM events
                WHERE channel = \(query.channel) AND key = \(query.key) AND time >= \(query.from) AND time < \(query.to)
                  AND type NOT IN ('stale', 'fresh')
            ) AS picked
            WHERE v IS NOT NULL
            GROUP BY bucket ORDER BY bucket
            """, logger: logger)
        var buckets: [Series.Bucket] = []
        for try await (bucket, low, high, average, count) in rows.decode((Int64, Double, Double, Double, Int64).self) {
            buckets.append(Series.Bucket(start: query.from + bucket * query.bucketWidth, min: low, max: high,
                                         average: average, count: Int(count)))
        }
        return buckets
    }

    private func gaps(_ query: SeriesQuery, in connection: PostgresConnection) async throws -> [Series.Gap] {
        var gaps = try await spans(channel: query.channel, key: query.key, types: ["stale", "fresh"], query: query,
                                   in: connection) { type, _ in type == "stale" }
            .map { Series.Gap(from: $0.0, to: $0.1, reason: .stale) }
        let devices = try await connection.query("""
            SELECT id, channel FROM devices WHERE substr(\(query.key), 1, length(id) + 1) = id || '/' ORDER BY length(id) DESC LIMIT 1
            """, logger: logger)
        for try await (id, channel) in devices.decode((String, String).self) {
            gaps += try await spans(channel: channel, key: id, types: ["availability"], query: query, in: connection) { _, data in
                Series.isOffline(data)
            }.map { Series.Gap(from: $0.0, to: $0.1, reason: .offline) }
        }
        return gaps.sorted { ($0.from, $0.to) < ($1.from, $1.to) }
    }

    private func spans(channel: String, key: String, types: [String], query: SeriesQuery, in connection: PostgresConnection,
                       opens: (String, String) -> Bool) async throws -> [(Int64, Int64)] {
        var openAtStart = false
        for try await (type, data) in try await connection.query("""
            SELECT type, data FROM events WHERE channel = \(channel) AND key = \(key) AND time < \(query.from) AND type = ANY(\(types)::text[])
            ORDER BY time DESC, id DESC LIMIT 1
            """, logger: logger).decode((String, String).self) {
            openAtStart = opens(type, data)
        }
        var changes: [(opens: Bool, time: Int64)] = []
        for try await (type, data, time) in try await connection.query("""
            SELECT type, data, time FROM events
            WHERE channel = \(channel) AND key = \(key) AND time >= \(query.from) AND time < \(query.to) AND type = ANY(\(types)::text[])
            ORDER BY time, id
            """, logger: logger).decode((String, String, Int64).self) {
            changes.append((opens(type, data), time))
        }
        return Series.spans(openAtStart: openAtStart, changes: changes, query: query)
    }

    /// The unit of the newest event in the range that names one.
    private func unit(_ query: SeriesQuery, in connection: PostgresConnection) async throws -> String? {
        for try await unit in try await connection.query("""
            SELECT data::jsonb ->> 'unit' FROM events
            WHERE channel = \(query.channel) AND key = \(query.key) AND time >= \(query.from) AND time < \(query.to)
              AND data::jsonb ->> 'unit' IS NOT NULL
            ORDER BY time DESC LIMIT 1
            """, logger: logger).decode(String.self) {
            return unit
        }
        return nil
    }
}
