import Logging
import PostgresNIO

/// Derived-state rows for one PostgreSQL append transaction. The rules (`EventSemantics`) are
/// synchronous and PostgreSQL is not, so the rows a batch can touch are loaded before the rules
/// run, under the append lock: no node changes them until this transaction commits, so a rule
/// raises once even when readings reach two nodes at the same moment. The rows changed are
/// written back before the commit. A row asked for but not loaded is a mistake in
/// `EventSemantics.rowsNeeded`, and fails the request rather than answer "no such row".
struct PrefetchedStateRows: DerivedStateRows {
    struct JobKey: Hashable {
        var channel: String
        var key: String
    }

    private var jobs: [JobKey: JobRecord] = [:]
    private var jobsLoaded: Set<JobKey> = []
    private var alerts: [String: AlertRecord] = [:]
    private var alertsLoaded: Set<String> = []
    private var changedJobs: [JobKey: (job: JobRecord, eventId: Int64)] = [:]
    private var changedAlerts: [String: AlertRecord] = [:]

    struct NotLoaded: Error, CustomStringConvertible {
        var row: String
        var description: String { "derived state row \(row) was not loaded for this batch" }
    }

    static func load(_ needed: EventSemantics.RowsNeeded, in connection: PostgresConnection, logger: Logger) async throws -> Self {
        var rows = Self()
        if !needed.jobs.isEmpty {
            let keys = Array(needed.jobs)
            let result = try await connection.query("""
                SELECT \(unescaped: JobRecord.columns) FROM jobs
                WHERE (channel, key) IN (SELECT * FROM unnest(\(keys.map(\.channel))::text[], \(keys.map(\.key))::text[]))
                """, logger: logger)
            for try await row in result {
                let job = try JobRecord(postgres: row)
                rows.jobs[JobKey(channel: job.channel, key: job.key)] = job
            }
            rows.jobsLoaded = needed.jobs
        }
        if !needed.alerts.isEmpty {
            let result = try await connection.query("""
                SELECT \(unescaped: AlertRecord.columns) FROM alerts WHERE id = ANY(\(Array(needed.alerts))::text[])
                """, logger: logger)
            for try await row in result {
                let alert = try AlertRecord(postgres: row)
                rows.alerts[alert.id] = alert
            }
            rows.alertsLoaded = needed.alerts
        }
        return rows
    }

    func job(channel: String, key: String) throws -> JobRecord? {
        let id = JobKey(channel: channel, key: key)
        guard jobsLoaded.contains(id) else { throw NotLoaded(row: "jobs(\(channel), \(key))") }
        return jobs[id]
    }

    mutating func save(_ job: JobRecord, eventId: Int64) throws {
        let id = JobKey(channel: job.channel, key: job.key)
        var saved = job
        saved.lastEventId = eventId
        saved.terminalEventId = job.isTerminal ? eventId : nil
        jobs[id] = saved
        jobsLoaded.insert(id)
        changedJobs[id] = (saved, eventId)
    }

    func alert(_ id: String) throws -> AlertRecord? {
        guard alertsLoaded.contains(id) else { throw NotLoaded(row: "alerts(\(id))") }
        return alerts[id]
    }

    mutating func save(_ alert: AlertRecord) throws {
        alerts[alert.id] = alert
        alertsLoaded.insert(alert.id)
        changedAlerts[alert.id] = alert
    }

    /// Before the commit: every row the rules changed.
    func write(in connection: PostgresConnection, logger: Logger) async throws {
        for (job, _) in changedJobs.values {
            try await connection.query("""
                INSERT INTO jobs(\(unescaped: JobRecord.columns)) VALUES (\(job.channel), \(job.key), \(job.state), \(job.progress),
                    \(job.message), \(job.done), \(job.total), \(job.startedAt), \(job.updatedAt), \(job.rate), \(job.etaSeconds),
                    \(job.lastEventId), \(job.terminalEventId))
                ON CONFLICT (channel, key) DO UPDATE SET state = excluded.state, progress = excluded.progress,
                    message = excluded.message, done = excluded.done, total = excluded.total, started_at = excluded.started_at,
                    updated_at = excluded.updated_at, rate = excluded.rate, eta_seconds = excluded.eta_seconds,
                    last_event_id = excluded.last_event_id, terminal_event_id = excluded.terminal_event_id
                """, logger: logger)
        }
        for alert in changedAlerts.values {
            try await connection.query("""
                INSERT INTO alerts(\(unescaped: AlertRecord.columns)) VALUES (\(alert.id), \(alert.channel), \(alert.key),
                    \(alert.rule), \(alert.severity), \(alert.message), \(alert.value), \(alert.threshold), \(alert.state),
                    \(alert.raisedAt), \(alert.clearedAt), \(alert.ackedAt), \(alert.lastEventId))
                ON CONFLICT (id) DO UPDATE SET channel = excluded.channel, key = excluded.key, rule = excluded.rule,
                    severity = excluded.severity, message = excluded.message, value = excluded.value,
                    threshold = excluded.threshold, state = excluded.state, raised_at = excluded.raised_at,
                    cleared_at = excluded.cleared_at, acked_at = excluded.acked_at, last_event_id = excluded.last_event_id
                """, logger: logger)
        }
    }
}

extension JobRecord {
    /// A row of `SELECT \(JobRecord.columns) FROM jobs` on PostgreSQL.
    init(postgres row: PostgresRow) throws {
        let cells = try row.decode((String, String, String, Double?, String?, Double?, Double?, Int64, Int64,
                                    Double?, Double?, Int64, Int64?).self)
        self.init(channel: cells.0, key: cells.1, state: cells.2, startedAt: cells.7, updatedAt: cells.8)
        (progress, message, done, total) = (cells.3, cells.4, cells.5, cells.6)
        (rate, etaSeconds, lastEventId, terminalEventId) = (cells.9, cells.10, cells.11, cells.12)
    }
}

extension AlertRecord {
    /// A row of `SELECT \(AlertRecord.columns) FROM alerts` on PostgreSQL.
    init(postgres row: PostgresRow) throws {
        let cells = try row.decode((String, String, String?, String?, String, String?, Double?, Double?, String,
                                    Int64?, Int64?, Int64?, Int64).self)
        self.init(id: cells.0, channel: cells.1, key: cells.2, rule: cells.3, severity: cells.4, state: cells.8)
        (message, value, threshold) = (cells.5, cells.6, cells.7)
        (raisedAt, clearedAt, ackedAt, lastEventId) = (cells.9, cells.10, cells.11, cells.12)
    }
}
