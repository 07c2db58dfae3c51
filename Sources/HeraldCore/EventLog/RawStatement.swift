import GRDB
import GRDBSQLite

/// Runs one of GRDB's cached statements through SQLite's C API. For the few statements the writer
/// runs for every event (the insert, the MQTT receipt and last payload), GRDB's argument boxing
/// cost more than SQLite's own work; this binds straight from the Swift strings instead.
/// Only for statements that return no rows; the statement stays usable by GRDB afterwards.
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
        let handle = statement.sqliteStatement
        defer { sqlite3_reset(handle) }
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch value {
            case .text(let string):
                // With its byte count: JSON and MQTT topics hold no NUL, but the count spares a strlen.
                code = string.withCString { sqlite3_bind_text(handle, index, $0, Int32(string.utf8.count), Self.transient) }
            case .integer(let number):
                code = sqlite3_bind_int64(handle, index, number)
            case .null:
                code = sqlite3_bind_null(handle, index)
            }
            if code != SQLITE_OK { throw error(code) }
        }
        let code = sqlite3_step(handle)
        if code != SQLITE_DONE { throw error(code) }
    }

    /// The same error GRDB would have thrown (the disk-full check looks for SQLITE_FULL in it).
    private func error(_ code: Int32) -> DatabaseError {
        let connection = db.sqliteConnection
        let extended = connection.map { sqlite3_extended_errcode($0) } ?? code
        let message = connection.map { String(cString: sqlite3_errmsg($0)) }
        return DatabaseError(resultCode: ResultCode(rawValue: extended), message: message, sql: statement.sql)
    }

    /// SQLITE_TRANSIENT: SQLite copies the bytes before `bind` returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}
