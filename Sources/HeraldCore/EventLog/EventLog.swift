import Foundation
import GRDB
import Logging
import Synchronization

/// The one type that owns Herald's SQLite database: appends (through one writer with group
/// commit, see `EventLog+Writer.swift`), reads for streams and the API, and the id epoch.
public final class EventLog: Sendable {
    public struct Options: Sendable {
        public var path: String
        public var synchronousFull = false
        /// Events waiting for the writer before publishers are told to back off.
        public var queueCapacity = 50_000
        /// Most events written in one transaction.
        public var maxBatch = 2_000
        /// Jobs, alerts and rules, applied as events are stored.
        public var semantics = EventSemantics()
        /// The notifications each stored event owes, written with it (`NotifyRouting`).
        public var notify = NotifyRouting()
        /// Told the highest id retention deleted, inside the transaction that deletes it, so the
        /// hub's recent frames (`RecentFrames`) never answer for a resume the log would reset.
        public var onPrune: @Sendable (Int64) -> Void = { _ in }

        public init(path: String) { self.path = path }
    }

    let pool: DatabasePool
    let queue: AppendQueue
    let options: Options
    let logger: Logger
    /// Called after every commit with the new events in id order, from the writer only.
    let onCommit: @Sendable ([StoredEvent]) -> Void
    let knownChannels = KnownChannels()

    public init(options: Options, logger: Logger, onCommit: @escaping @Sendable ([StoredEvent]) -> Void) throws {
        var config = Configuration()
        config.busyMode = .timeout(5)
        let synchronous = options.synchronousFull ? "FULL" : "NORMAL"
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
        }
        try Self.refuseNewerSchema(at: options.path)
        Self.createPrivately(options.path)
        self.pool = try DatabasePool(path: options.path, configuration: config)
        self.options = options
        self.logger = logger
        self.onCommit = onCommit
        self.queue = AppendQueue(capacity: options.queueCapacity)
        try Self.migrator.migrate(pool)
        try startEpoch()
        // Rule alerts may be the first events of their channel; readers must know it beforehand.
        try pool.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO channels(name) VALUES (?)", arguments: [options.semantics.alertsChannel])
        }
        try knownChannels.load(from: pool)
    }

    /// The database holds every event and the session hashes: a new one is readable by its owner
    /// only, whatever the umask. SQLite gives its -wal and -shm files the database's mode.
    static func createPrivately(_ path: String) {
        guard !path.hasPrefix(":memory:"), !path.hasPrefix("file:") else { return }
        let fd = open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }  // it exists, or SQLite will say why it cannot be opened
        fchmod(fd, 0o600)
        close(fd)
    }

    /// A database written by a newer Herald is refused before anything opens it for writing,
    /// so the file is left exactly as it was.
    static func refuseNewerSchema(at path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        var readOnly = Configuration()
        readOnly.readonly = true
        // immutable=1: no locks, no -shm or -wal file created beside it.
        let uriPath = path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? path
        let probe = try DatabaseQueue(path: "file:\(uriPath)?immutable=1", configuration: readOnly)
        defer { try? probe.close() }
        let (superseded, applied) = try probe.read { db in
            (try migrator.hasBeenSuperseded(db), try migrator.appliedIdentifiers(db))
        }
        guard superseded else { return }
        let unknown = applied.subtracting(migrator.migrations).sorted().joined(separator: ", ")
        throw StoreError(description: "the database \(path) was written by a newer Herald (unknown migrations: \(unknown)); "
                         + "upgrade Herald or point store.path at another file")
    }

    // MARK: Reads

    static let columns = "id, channel, type, key, time, data, source"

    /// Up to `limit` events with id > `after` that match, ascending, and the log's head as of
    /// the same read (so a stream knows how far this read covered, matching or not).
    public func events(after: Int64, matching filter: EventFilter, limit: Int) async throws -> Page {
        try await pool.read { db in try self.page(after: after, matching: filter, limit: limit, in: db) }
    }

    /// Events and the head they were read at: the head tells how far the read covered.
    public typealias Page = (head: Int64, events: [StoredEvent])

    func page(after: Int64, matching filter: EventFilter, limit: Int, in db: Database) throws -> Page {
        let head = try Self.head(db)
        guard let clause = try clause(for: filter, in: db) else { return (head, []) }
        let events = try Self.events(db, """
            SELECT \(Self.columns) FROM events WHERE id > ? \(clause.sql) ORDER BY id LIMIT ?
            """, clause, arguments: [after] + clause.arguments + [limit])
        return (head, events)
    }

    /// The newest `count` matching events, ascending, and the head as of the same read.
    public func recentEvents(matching filter: EventFilter, count: Int) async throws -> (head: Int64, events: [StoredEvent]) {
        try await pool.read { db in
            let head = try Self.head(db)
            guard count > 0, let clause = try self.clause(for: filter, in: db) else { return (head, []) }
            let events = try Self.events(db, """
                SELECT \(Self.columns) FROM events WHERE 1 \(clause.sql) ORDER BY id DESC LIMIT ?
                """, clause, arguments: clause.arguments + [count])
            return (head, events.reversed())
        }
    }

    /// The id after which the `count` most recent matching events begin (0 when fewer match):
    /// a stream replays from there in pages, so a large `replay=` is never held whole in memory.
    public func recentStart(matching filter: EventFilter, count: Int) async throws -> Int64 {
        try await pool.read { db in
            let head = try Self.head(db)
            guard count > 0 else { return head }
            guard let clause = try self.clause(for: filter, in: db) else { return head }
            let sql = "SELECT id FROM events WHERE 1 \(clause.sql) ORDER BY id DESC LIMIT 1 OFFSET ?"
            let statement = clause.hasChannelList ? try db.makeStatement(sql: sql) : try db.cachedStatement(sql: sql)
            let oldest = try Int64.fetchOne(statement, arguments: clause.arguments + [count - 1])
            return oldest.map { $0 - 1 } ?? 0
        }
    }

    /// The latest event of every (channel, key) that matches, and the newest id of the log,
    /// read in one transaction so a stream from that id continues the snapshot exactly.
    public func snapshot(matching filter: EventFilter) async throws -> (lastEventId: Int64, events: [StoredEvent]) {
        try await pool.read { db in (try Self.head(db), try latestPerKey(matching: filter, in: db)) }
    }

    /// The latest event of every (channel, key) the filter takes, in id order; call after a
    /// first read in the transaction (see `clause(for:in:)`).
    private func latestPerKey(matching filter: EventFilter, in db: Database) throws -> [StoredEvent] {
        guard let clause = try clause(for: filter, in: db) else { return [] }
        return try Self.events(db, """
            SELECT \(Self.columns) FROM events WHERE id IN (
                SELECT max(id) FROM events WHERE 1 \(clause.sql) GROUP BY channel, key
            ) ORDER BY id
            """, clause, arguments: clause.arguments)
    }

    /// The filter as SQL. Call it after a first read (the head), so the transaction has its snapshot:
    /// the writer records a channel before committing its first event, so every event this
    /// snapshot can see has a known channel, and a wildcard replay cannot skip one.
    private func clause(for filter: EventFilter, in db: Database) throws -> SQLClause? {
        return filter.sqlClause(channels: knownChannels.names)
    }

    /// Jobs: unfinished first (newest update first), then finished ones.
    public func jobs(channel: String? = nil, key: String? = nil) async throws -> [JobRecord] {
        try await pool.read { db in try Self.jobs(channel: channel, key: key, in: db) }
    }

    static func jobs(channel: String? = nil, key: String? = nil, unfinishedOnly: Bool = false, in db: Database) throws -> [JobRecord] {
        var conditions: [String] = []
        var arguments = StatementArguments()
        if let channel { conditions.append("channel = ?"); arguments += [channel] }
        if let key { conditions.append("key = ?"); arguments += [key] }
        if unfinishedOnly { conditions.append("terminal_event_id IS NULL") }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return try Row.fetchAll(db, sql: """
            SELECT \(JobRecord.columns) FROM jobs \(filter)
            ORDER BY terminal_event_id IS NOT NULL, updated_at DESC LIMIT 1000
            """, arguments: arguments).map(JobRecord.init)
    }

    /// Alerts that are raised (active), most severe and newest first; with `all`, cleared ones too.
    public func alerts(all: Bool = false) async throws -> [AlertRecord] {
        try await pool.read { db in try Self.alerts(all: all, in: db) }
    }

    static func alerts(all: Bool = false, in db: Database) throws -> [AlertRecord] {
        try Row.fetchAll(db, sql: """
            SELECT \(AlertRecord.columns) FROM alerts \(all ? "" : "WHERE state = 'raised'")
            ORDER BY state = 'raised' DESC, CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,
                     last_event_id DESC LIMIT 1000
            """).map(AlertRecord.init)
    }

    /// The snapshot with job and alert state, all from one read transaction.
    public func fullSnapshot(matching filter: EventFilter) async throws -> Snapshot {
        try await pool.read { db in
            let head = try Self.head(db)
            var snapshot = Snapshot(lastEventId: head, events: try latestPerKey(matching: filter, in: db), jobs: [], alerts: [])
            snapshot.jobs = try Self.jobs(unfinishedOnly: true, in: db).filter { filter.matches(channel: $0.channel) }
            snapshot.alerts = try Self.alerts(in: db).filter { filter.matches(channel: $0.channel) }
            snapshot.devices = try Self.devices(in: db).filter { filter.matches(channel: $0.description.channel) }
            return snapshot
        }
    }

    /// The id of the terminal event of the job `key` on a channel the filter takes, if it finished.
    public func terminalEventId(matching filter: EventFilter) async throws -> Int64? {
        guard let key = filter.key else { return nil }
        return try await pool.read { db in
            try Self.jobs(key: key, in: db).first { $0.terminalEventId != nil && filter.matches(channel: $0.channel) }?.terminalEventId
        }
    }

    public struct ChannelStats: Sendable, Equatable {
        public var name: String
        public var count: Int
        public var firstId: Int64
        public var lastId: Int64
        public var lastTime: Int64
    }

    public func channelStats() async throws -> [ChannelStats] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT channel, count(*), min(id), max(id), max(time) FROM events GROUP BY channel ORDER BY channel
                """).map { ChannelStats(name: $0[0], count: $0[1], firstId: $0[2], lastId: $0[3], lastTime: $0[4]) }
        }
    }

    /// The last id handed out (not necessarily still stored), or 0 for an empty log.
    public func headId() async throws -> Int64 {
        try await pool.read { try Self.head($0) }
    }

    /// Runs `sql`, a query for `columns` built around `clause`, through `RawStatement.events`.
    /// Every stream's start reads its history: compiling the statement anew each time was a
    /// large part of the server's CPU per SSE connect, so it is cached unless the clause has a
    /// list of channels (see `SQLClause`).
    private static func events(_ db: Database, _ sql: String, _ clause: SQLClause,
                               arguments: StatementArguments) throws -> [StoredEvent] {
        let statement = clause.hasChannelList ? try db.makeStatement(sql: sql) : try db.cachedStatement(sql: sql)
        return try RawStatement(statement: statement, db: db).events(arguments)
    }

    static func head(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT seq FROM sqlite_sequence WHERE name = 'events'")) ?? 0
    }

    /// Whether the database answers and accepts a write lock; for `/readyz`.
    public func isWritable() async -> Bool {
        do {
            try await pool.write { db in try db.execute(sql: "UPDATE meta SET value = value WHERE name = 'state'") }
            return true
        } catch {
            return false
        }
    }
}

public struct Snapshot: Sendable {
    public var lastEventId: Int64
    public var events: [StoredEvent]
    public var jobs: [JobRecord]
    public var alerts: [AlertRecord]
    public var devices: [DeviceRecord] = []

    public var json: String {
        "{\"lastEventId\":\(lastEventId),\"events\":[" + events.map(\.envelope).joined(separator: ",")
            + "],\"jobs\":[" + jobs.map(\.json).joined(separator: ",")
            + "],\"alerts\":[" + alerts.map(\.json).joined(separator: ",")
            + "],\"devices\":[" + devices.map(\.json).joined(separator: ",") + "]}"
    }
}

public struct StoreError: Error, CustomStringConvertible {
    public var description: String
}

/// Channel names seen in the log, so that wildcard selectors can become an SQL `IN` list.
final class KnownChannels: Sendable {
    private let storage = Mutex<Set<String>>([])

    var names: Set<String> { storage.withLock { $0 } }

    func load(from pool: DatabasePool) throws {
        let names = try pool.read { try String.fetchAll($0, sql: "SELECT name FROM channels") }
        storage.withLock { $0 = Set(names) }
    }

    /// Records names and returns those that are new (to be inserted by the caller's transaction).
    func unseen(_ channels: some Sequence<String>) -> [String] {
        storage.withLock { set in channels.filter { !set.contains($0) } }
    }

    func add(_ channels: [String]) {
        storage.withLock { $0.formUnion(channels) }
    }

    /// For names added inside a transaction that then failed to commit.
    func remove(_ channels: [String]) {
        storage.withLock { $0.subtract(channels) }
    }
}
