import PostgresNIO

/// What went wrong with the PostgreSQL event log, in words an operator can act on: every
/// message names the server (host:port), never the password, and never a stack of driver types.
public enum PostgresFailure: Error, CustomStringConvertible, Equatable {
    /// The URL itself is wrong; nothing was contacted.
    case badLocation(String)
    /// No connection: refused, timed out, name not resolved, TLS failed.
    case unreachable(endpoint: String, reason: String)
    /// The server answered and said no: password, role, database, pg_hba.conf.
    case refused(endpoint: String, reason: String)
    /// The database holds migrations this Herald does not know: a newer Herald wrote it.
    case newerSchema(location: String, unknown: [String])
    /// A statement failed on a live connection.
    case statement(endpoint: String, reason: String)

    public var description: String {
        switch self {
        case .badLocation(let reason):
            return "store.path: \(reason)"
        case .unreachable(let endpoint, let reason):
            return "PostgreSQL at \(endpoint) cannot be reached: \(reason)"
        case .refused(let endpoint, let reason):
            return "PostgreSQL at \(endpoint) refused Herald: \(reason)"
        case .newerSchema(let location, let unknown):
            return "the database \(location) was written by a newer Herald (unknown migrations: "
                + unknown.joined(separator: ", ") + "); upgrade Herald or point store.path at another database"
        case .statement(let endpoint, let reason):
            return "PostgreSQL at \(endpoint): \(reason)"
        }
    }

    /// Whether waiting and trying again can help (the server is down or restarting), as opposed
    /// to a mistake in the configuration that no retry fixes.
    public var isTransient: Bool {
        switch self {
        case .unreachable: return true
        case .statement: return true
        case .badLocation, .refused, .newerSchema: return false
        }
    }

    /// postgres-nio's error (or one wrapped in a transaction error) as one of these.
    static func from(_ error: any Error, endpoint: String) -> PostgresFailure {
        if let failure = error as? PostgresFailure { return failure }
        if let transaction = error as? PostgresTransactionError {
            let inner = transaction.closureError ?? transaction.commitError ?? transaction.beginError ?? transaction.rollbackError
            if let inner { return from(inner, endpoint: endpoint) }
        }
        guard let error = error as? PSQLError else {
            return .unreachable(endpoint: endpoint, reason: String(describing: error))
        }
        if let info = error.serverInfo {
            let message = info[.message] ?? "error"
            let state = info[.sqlState] ?? ""
            // Class 28 is authorization; 3D000 a database that does not exist.
            if state.hasPrefix("28") || state == "3D000" {
                return .refused(endpoint: endpoint, reason: "\(message) (SQLSTATE \(state))")
            }
            return .statement(endpoint: endpoint, reason: "\(message) (SQLSTATE \(state))")
        }
        switch error.code {
        case .authMechanismRequiresPassword, .unsupportedAuthMechanism, .saslError:
            return .refused(endpoint: endpoint, reason: "authentication failed (\(error.code)); give a password or password_file")
        case .sslUnsupported:
            return .refused(endpoint: endpoint, reason: "the server does not offer TLS; use sslmode=disable on a trusted network")
        default:
            return .unreachable(endpoint: endpoint, reason: plainReason(error.underlying.map { String(describing: $0) } ?? "\(error.code)"))
        }
    }

    /// SwiftNIO's connect errors nest the reason several types deep; an operator needs its words.
    private static func plainReason(_ text: String) -> String {
        let known: [(String, String)] = [
            ("Connection refused", "connection refused (is PostgreSQL running and listening there?)"),
            ("connectTimeout", "no answer within 10 s"),
            ("Name or service not known", "the host name is not known"),
            ("No route to host", "no route to host"),
            ("Network is unreachable", "the network is unreachable"),
        ]
        return known.first { text.contains($0.0) }?.1 ?? text
    }
}
