import GRDB

/// The rows derived state reads and writes inside the transaction that stores an event
/// (DESIGN §6): jobs by channel and key, alerts by id. `EventSemantics` and `AlertBook` work
/// through this, so the same rules run on either store: SQLite reads the rows as asked,
/// PostgreSQL loads those a batch can touch before it runs them (`PrefetchedStateRows`).
protocol DerivedStateRows {
    func job(channel: String, key: String) throws -> JobRecord?
    mutating func save(_ job: JobRecord, eventId: Int64) throws
    func alert(_ id: String) throws -> AlertRecord?
    mutating func save(_ alert: AlertRecord) throws
}

/// The rows in the SQLite writer's transaction.
struct SQLiteStateRows: DerivedStateRows {
    let db: Database

    func job(channel: String, key: String) throws -> JobRecord? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT \(JobRecord.columns) FROM jobs WHERE channel = ? AND key = ?"),
                         arguments: [channel, key]).map(JobRecord.init)
    }

    func save(_ job: JobRecord, eventId: Int64) throws {
        try db.cachedStatement(sql: """
            INSERT OR REPLACE INTO jobs(\(JobRecord.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [job.channel, job.key, job.state, job.progress, job.message, job.done, job.total,
                                     job.startedAt, job.updatedAt, job.rate, job.etaSeconds, eventId,
                                     job.isTerminal ? eventId : nil])
    }

    func alert(_ id: String) throws -> AlertRecord? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT \(AlertRecord.columns) FROM alerts WHERE id = ?"),
                         arguments: [id]).map(AlertRecord.init)
    }

    func save(_ alert: AlertRecord) throws {
        try db.cachedStatement(sql: "INSERT OR REPLACE INTO alerts(\(AlertRecord.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            .execute(arguments: [alert.id, alert.channel, alert.key, alert.rule, alert.severity, alert.message, alert.value,
                                 alert.threshold, alert.state, alert.raisedAt, alert.clearedAt, alert.ackedAt, alert.lastEventId])
    }
}
