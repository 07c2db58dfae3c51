import GRDB
import GRDBSQLite

/// Runs one of GRDB's statements through SQLite's C API where GRDB's generality costs more than
/// SQLite's own work: the statements the writer runs for every event (the insert, the MQTT
/// receipt and last payload), bound straight from the Swift strings instead of boxed arguments;
/// and history pages (`events`), read straight from SQLite's columns instead of copied into
/// rows and decoded value by value through generic code. The statement stays usable by GRDB.
struct RawStatement {
    enum Value {
        case text(String)
        case integer(Int64)
        case null

        static func text(_ string: String?) -> Value { string.map(Value.text) ?? .null }
    }

    let statement: Statement
    let db: Database

    /// Binds `values` to the statement's parameters in order, steps it once and resets it.
    func execute(_ values: Value...) throws {
        try run(values)
    }

    /// `execute` for an INSERT into a rowid table: returns the new row's id.
    func insert(_ values: Value...) throws -> Int64 {
        try run(values)
        return sqlite3_last_insert_rowid(db.sqliteConnection)
    }

    private func run(_ values: [Value]) throws {
        let handle = statement.sqliteStatement
        // The text is bound without a copy (SQLITE_STATIC) and only lives until `bindThenStep`
        // returns: clearing the bindings leaves no dangling pointer in the statement.
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        try bindThenStep(values[...], handle)
    }

    /// Binds the first value, then the rest inside its scope, then steps: a native Swift string
    /// lends SQLite its own UTF-8 bytes for as long as the closure runs.
    private func bindThenStep(_ values: ArraySlice<Value>, _ handle: SQLiteStatement) throws {
        guard let value = values.first else {
            let code = sqlite3_step(handle)
            if code != SQLITE_DONE { throw error(code) }
            return
        }
        let index = Int32(values.startIndex + 1)
        let rest = values.dropFirst()
        switch value {
        case .text(let string):
            // With its byte count: JSON and MQTT topics hold no NUL, but the count spares a strlen.
            try string.withCString { text in
                try check(sqlite3_bind_text(handle, index, text, Int32(string.utf8.count), nil))  // nil: SQLITE_STATIC
                try bindThenStep(rest, handle)
            }
        case .integer(let number):
            try check(sqlite3_bind_int64(handle, index, number))
            try bindThenStep(rest, handle)
        case .null:
            try check(sqlite3_bind_null(handle, index))
            try bindThenStep(rest, handle)
        }
    }

    private func check(_ code: Int32) throws {
        if code != SQLITE_OK { throw error(code) }
    }

    /// Runs a query whose columns are `EventLog.columns`, in that order, with `arguments` (bound
    /// and checked by GRDB), and reads every row into an event.
    func events(_ arguments: StatementArguments) throws -> [StoredEvent] {
        try statement.setArguments(arguments)
        let handle = statement.sqliteStatement
        defer { sqlite3_reset(handle) }
        var events: [StoredEvent] = []
        while true {
            switch sqlite3_step(handle) {
            case SQLITE_ROW:
                events.append(try event(at: handle))
            case SQLITE_DONE:
                return events
            case let code:
                throw error(code)
            }
        }
    }

    private func event(at handle: SQLiteStatement) throws -> StoredEvent {
        guard let channel = Self.text(handle, 1), let type = Self.text(handle, 2), let data = Self.text(handle, 5) else {
            // The schema says NOT NULL: only a damaged file gets here.
            throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "an event without channel, type or data",
                                sql: statement.sql)
        }
        return StoredEvent(id: sqlite3_column_int64(handle, 0), draft: EventDraft(
            channel: channel, type: type, key: Self.text(handle, 3), time: sqlite3_column_int64(handle, 4),
            data: data, source: Self.text(handle, 6)))
    }

    /// A text column, nil for NULL. The text first, then its size, as SQLite asks.
    private static func text(_ handle: SQLiteStatement, _ column: Int32) -> String? {
        guard let bytes = sqlite3_column_text(handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    /// The same error GRDB would have thrown (the disk-full check looks for SQLITE_FULL in it).
    private func error(_ code: Int32) -> DatabaseError {
        let connection = db.sqliteConnection
        let extended = connection.map { sqlite3_extended_errcode($0) } ?? code
        let message = connection.map { String(cString: sqlite3_errmsg($0)) }
        return DatabaseError(resultCode: ResultCode(rawValue: extended), message: message, sql: statement.sql)
    }
}
