import Foundation
import GRDB
import Logging
import PostgresNIO

/// `herald store copy`: a gateway's SQLite store into an empty PostgreSQL database, so a site
/// that outgrows one box keeps its history and its ids. Everything the store holds goes, in one
/// PostgreSQL transaction (all or nothing): events with their ids, the head, channels, jobs,
/// alerts and rule state, devices and sources' memory, sessions, the MQTT duplicate check, the
/// notification outbox and Web Push subscriptions with the VAPID key, what retention deleted,
/// and the ranges a power loss lost. A client then resumes on any node with the Last-Event-ID
/// it had, exactly, or is told its id was lost or deleted, as it would have been on SQLite.
public enum StoreCopy {
    public struct Copied: Sendable, Equatable {
        /// Rows per table, in the order copied.
        public var rows: [String: Int] = [:]
        public var headId: Int64 = 0
    }

    enum Kind { case text, integer, real }

    struct Table {
        var name: String
        var columns: [(name: String, kind: Kind)]
        /// A unique order, for reading in pages.
        var order: String
        /// A bigserial column whose sequence continues after the copied rows.
        var serial: String?
    }

    static let tables: [Table] = [
        Table(name: "channels", columns: [("name", .text)], order: "name"),
        Table(name: "lost_ranges", columns: [("after_id", .integer), ("before_id", .integer)], order: "after_id, before_id"),
        Table(name: "jobs", columns: [("channel", .text), ("key", .text), ("state", .text), ("progress", .real), ("message", .text),
                                      ("done", .real), ("total", .real), ("started_at", .integer), ("updated_at", .integer),
                                      ("rate", .real), ("eta_seconds", .real), ("last_event_id", .integer), ("terminal_event_id", .integer)],
              order: "channel, key"),
        Table(name: "alerts", columns: [("id", .text), ("channel", .text), ("key", .text), ("rule", .text), ("severity", .text),
                                        ("message", .text), ("value", .real), ("threshold", .real), ("state", .text),
                                        ("raised_at", .integer), ("cleared_at", .integer), ("acked_at", .integer), ("last_event_id", .integer)],
              order: "id"),
        Table(name: "devices", columns: [("id", .text), ("source", .text), ("channel", .text), ("name", .text), ("model", .text),
                                         ("vendor", .text), ("readings", .text), ("availability", .text), ("availability_since", .integer),
                                         ("updated_at", .integer)], order: "id"),
        Table(name: "source_memory", columns: [("source", .text), ("name", .text), ("value", .text)], order: "source, name"),
        Table(name: "sessions", columns: [("id_sha256", .text), ("token_sha256", .text), ("expires_at", .integer)], order: "id_sha256"),
        Table(name: "mqtt_receipts", columns: [("seq", .integer), ("mid", .integer), ("topic", .text), ("digest", .text)],
              order: "seq", serial: "seq"),
        Table(name: "mqtt_last_payload", columns: [("topic", .text), ("digest", .text)], order: "topic"),
        Table(name: "notify_outbox", columns: [("seq", .integer), ("target", .text), ("lane", .text), ("event_id", .integer),
                                               ("subject", .text), ("envelope", .text), ("created_at", .integer), ("attempts", .integer),
                                               ("next_at", .integer), ("last_error", .text)], order: "seq", serial: "seq"),
        Table(name: "notify_sent", columns: [("target", .text), ("subject", .text), ("sent_at", .integer)], order: "target, subject"),
        Table(name: "push_subscriptions", columns: [("endpoint", .text), ("json", .text), ("created_at", .integer)], order: "endpoint"),
    ]

    static let events = Table(name: "events", columns: [("id", .integer), ("channel", .text), ("type", .text), ("key", .text),
                                                        ("time", .integer), ("data", .text), ("source", .text)], order: "id")

    /// Copies `path` into the database at `url`, which is migrated first and must hold no events.
    /// The SQLite store must have been shut down cleanly (not in use by a running Herald).
    public static func copy(sqlite path: String, to url: String, logger: Logger) async throws -> Copied {
        let location = try PostgresLocation(url: url)
        let source: DatabaseQueue
        do { source = try openSource(path) } catch let error as DatabaseError {
            throw StoreCopyError("\(path): \(error.message ?? "\(error)")")
        }
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: try location.connectionConfiguration(), id: 1, logger: logger)
        } catch {
            throw PostgresFailure.from(error, endpoint: location.endpoint)
        }
        do {
            let copied = try await copy(from: source, to: connection, location: location, logger: logger)
            try await connection.close()
            return copied
        } catch {
            try? await connection.close()
            // A refusal from inside the transaction comes wrapped in postgres-nio's transaction error.
            let inner = (error as? PostgresTransactionError)?.closureError ?? error
            if inner is StoreCopyError || inner is PostgresFailure { throw inner }
            if let sqlite = inner as? DatabaseError { throw StoreCopyError("reading \(path): \(sqlite.message ?? "\(sqlite)")") }
            throw PostgresFailure.from(inner, endpoint: location.endpoint)
        }
    }

    private static func openSource(_ path: String) throws -> DatabaseQueue {
        guard FileManager.default.fileExists(atPath: path) else { throw StoreCopyError("\(path): no such SQLite store") }
        var configuration = Configuration()
        configuration.readonly = true
        let source = try DatabaseQueue(path: path, configuration: configuration)
        try source.read { db in
            guard try db.tableExists("grdb_migrations"), try db.tableExists("events") else {
                throw StoreCopyError("\(path) is not a Herald store")
            }
            let applied = try Set(String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations"))
            let known = Set(EventLog.migrator.migrations)
            guard applied == known else {
                throw StoreCopyError("\(path) was made by \(applied.isSuperset(of: known) ? "a newer" : "an older") Herald; "
                                     + "start this version's herald serve on it once (it migrates), stop it, then copy")
            }
            let state = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE name = 'state'")
            guard state == "clean" else {
                throw StoreCopyError("\(path) is in use or was not shut down cleanly; stop the Herald that uses it "
                                     + "(or start and stop it once after a crash), then copy")
            }
        }
        return source
    }

    private static func copy(from source: DatabaseQueue, to connection: PostgresConnection, location: PostgresLocation,
                             logger: Logger) async throws -> Copied {
        try await PostgresSchema.migrate(connection, location: location, logger: logger)
        return try await connection.withTransaction(logger: logger) { pg in
            // No node appends while the copy runs, and the copy adds to nothing already there.
            try await pg.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.LockKey.append))", logger: logger)
            for try await (head, anyEvent) in try await pg.query("SELECT id, EXISTS (SELECT 1 FROM events) FROM head", logger: logger)
                .decode((Int64, Bool).self) where head != 0 || anyEvent {
                throw StoreCopyError("\(location) already holds events (head \(head)); copy into an empty database")
            }
            // A node started on it already (a sign-in, a VAPID key, a device) is no empty database either.
            for name in tables.map(\.name) + ["kept_values", "meta"] {
                for try await _ in try await pg.query(PostgresQuery(unsafeSQL: "SELECT 1 FROM \(name) LIMIT 1"), logger: logger) {
                    throw StoreCopyError("\(location) already holds \(name) rows; copy into an empty database, before any node runs on it")
                }
            }
            var copied = Copied()
            copied.rows["events"] = try await copyEvents(from: source, to: pg, logger: logger)
            for table in tables {
                copied.rows[table.name] = try await copyRows(table, from: source, to: pg, logger: logger)
            }
            // Each page was its own read: a Herald started on the store meanwhile would have mixed
            // moments. Still clean with as many events, the copy is of one store; else none of it.
            let (meta, head, count) = try await source.read { db in
                (try Dictionary(uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT name, value FROM meta").map { ($0[0] as String, $0[1] as String) }),
                 try EventLog.head(db), try Int.fetchOne(db, sql: "SELECT count(*) FROM events") ?? 0)
            }
            guard meta["state"] == "clean", copied.rows["events"] == count else {
                throw StoreCopyError("the SQLite store changed during the copy (a Herald started on it?); nothing was copied")
            }
            copied.headId = head
            try await pg.query("UPDATE head SET id = \(copied.headId)", logger: logger)
            if let pruned = meta["pruned_through"].flatMap(Int64.init) {
                try await pg.query("INSERT INTO meta(name, value) VALUES ('pruned_through', \(pruned))", logger: logger)
            }
            if let key = meta["vapid_private_key"] {
                try await pg.query("INSERT INTO kept_values(name, value) VALUES ('vapid_private_key', \(key))", logger: logger)
            }
            return copied
        }
    }

    /// Events in pages by id, so a store of millions is never read into memory at once.
    private static func copyEvents(from source: DatabaseQueue, to pg: PostgresConnection, logger: Logger) async throws -> Int {
        var after: Int64 = 0, total = 0
        while true {
            let from = after
            let rows = try await source.read { db in
                try Row.fetchAll(db, sql: "SELECT id, channel, type, key, time, data, source FROM events WHERE id > ? ORDER BY id LIMIT ?",
                                 arguments: [from, rowsPerInsert(events)]).map { Array($0.databaseValues) }
            }
            guard let last = rows.last, let lastId = Int64.fromDatabaseValue(last[0]) else { return total }
            try await insert(rows, into: events, on: pg, logger: logger)
            after = lastId
            total += rows.count
        }
    }

    private static func copyRows(_ table: Table, from source: DatabaseQueue, to pg: PostgresConnection, logger: Logger) async throws -> Int {
        let names = table.columns.map(\.name).joined(separator: ", ")
        var offset = 0
        while true {
            let skip = offset
            let rows = try await source.read { db in
                try Row.fetchAll(db, sql: "SELECT \(names) FROM \(table.name) ORDER BY \(table.order) LIMIT ? OFFSET ?",
                                 arguments: [rowsPerInsert(table), skip]).map { Array($0.databaseValues) }
            }
            if rows.isEmpty { break }
            try await insert(rows, into: table, on: pg, logger: logger)
            offset += rows.count
        }
        if let serial = table.serial, offset > 0 {
            try await pg.query(PostgresQuery(unsafeSQL: """
                SELECT setval(pg_get_serial_sequence('\(table.name)', '\(serial)'), (SELECT max(\(serial)) FROM \(table.name)))
                """), logger: logger)
        }
        return offset
    }

    /// PostgreSQL takes at most 65,535 parameters a statement.
    private static func rowsPerInsert(_ table: Table) -> Int { 30_000 / table.columns.count }

    private static func insert(_ rows: [[DatabaseValue]], into table: Table, on pg: PostgresConnection, logger: Logger) async throws {
        var bindings = PostgresBindings(capacity: rows.count * table.columns.count)
        var values: [String] = []
        values.reserveCapacity(rows.count)
        for row in rows {
            let first = bindings.count
            values.append("(" + (1...table.columns.count).map { "$\(first + $0)" }.joined(separator: ",") + ")")
            for (index, column) in table.columns.enumerated() {
                switch column.kind {
                case .text: bindings.append(String.fromDatabaseValue(row[index]))
                case .integer: bindings.append(Int64.fromDatabaseValue(row[index]))
                case .real: bindings.append(Double.fromDatabaseValue(row[index]))
                }
            }
        }
        let sql = "INSERT INTO \(table.name)(\(table.columns.map(\.name).joined(separator: ", "))) VALUES " + values.joined(separator: ",")
        try await pg.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
    }
}

/// Why a store copy was refused, in words.
public struct StoreCopyError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
