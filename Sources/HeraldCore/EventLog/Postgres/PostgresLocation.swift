import Foundation
import NIOSSL
import PostgresNIO

/// Where a PostgreSQL event log lives, read from `--db` / `store.path`:
/// `postgres://user[:password]@host[:port]/database[?sslmode=disable|require|verify-full&password_file=PATH]`.
/// A password in a file keeps it out of the process list and the unit file; the URL's own
/// password wins when both are given.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    public enum TLSMode: String, Sendable {
        /// Plain TCP: the default on loopback, where there is nothing to encrypt against.
        case disable
        /// Encrypted, the server's certificate not checked (libpq's `require`).
        case require
        /// Encrypted, the certificate checked against the system's CAs and the host name.
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var tls: TLSMode

    /// Whether `text` names a PostgreSQL database rather than an SQLite file.
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    /// Parses the URL; a problem is an error that says what is wrong, never a guess.
    public init(url text: String, readFile: (String) throws -> String = { try String(contentsOfFile: $0, encoding: .utf8) }) throws {
        guard Self.isURL(text), let parts = URLComponents(string: text) else {
            throw PostgresFailure.badLocation("\(Self.redacted(text)) is not a postgres://user@host:port/database URL")
        }
        guard let host = parts.host, !host.isEmpty else { throw PostgresFailure.badLocation("the URL names no host") }
        guard let user = parts.user, !user.isEmpty else { throw PostgresFailure.badLocation("the URL names no user (postgres://USER@\(host)/…)") }
        let database = String(parts.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else {
            throw PostgresFailure.badLocation("the URL names no database (postgres://…@\(host)/DATABASE)")
        }
        self.host = host
        self.port = parts.port ?? 5432
        self.user = user.removingPercentEncoding ?? user
        self.database = database.removingPercentEncoding ?? database
        self.password = parts.password.map { $0.removingPercentEncoding ?? $0 }
        self.tls = .disable
        for item in parts.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "sslmode":
                guard let mode = TLSMode(rawValue: value) else {
                    throw PostgresFailure.badLocation("sslmode=\(value) is not one of disable, require, verify-full")
                }
                tls = mode
            case "password_file":
                guard password == nil else { continue }
                do {
                    password = try readFile(value).trimmingCharacters(in: .newlines)
                } catch {
                    throw PostgresFailure.badLocation("password_file \(value) cannot be read: \(error.localizedDescription)")
                }
            default:
                throw PostgresFailure.badLocation("unknown URL parameter \(item.name) (known: sslmode, password_file)")
            }
        }
    }

    /// host:port/database, never the password: for logs and errors.
    public var description: String { "\(host):\(port)/\(database)" }

    public var endpoint: String { "\(host):\(port)" }

    /// postgres-nio's configuration for one connection of Herald's own (the writer's, the feed's):
    /// unlike the pool's, a connect fails at once with the server's reason.
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        let connectionTLS: PostgresConnection.Configuration.TLS
        switch tls {
        case .disable: connectionTLS = .disable
        case .require: connectionTLS = .require(try NIOSSLContext(configuration: Self.unverified()))
        case .verifyFull: connectionTLS = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: connectionTLS)
        configuration.options.connectTimeout = .seconds(10)
        configuration.options.additionalStartupParameters = Self.sessionSettings
        return configuration
    }

    /// Set on every connection at its start, whatever the server's or database's defaults say.
    /// - synchronous_commit on: a commit acknowledged with it off can be lost in a crash of
    ///   PostgreSQL, and with it the head row, so ids a client already holds would be handed out
    ///   again for other events. Herald promises they never are.
    /// - jit off: Herald's statements are short, and a cost misestimate (the one-row head table
    ///   before its first ANALYZE) made PostgreSQL compile the feed's catch-up query, 86 ms each
    ///   time: a remote event waited about 100 ms instead of 1.
    static let sessionSettings = [("synchronous_commit", "on"), ("jit", "off")]

    /// postgres-nio's configuration for the pool that serves reads.
    func clientConfiguration() -> PostgresClient.Configuration {
        let clientTLS: PostgresClient.Configuration.TLS
        switch tls {
        case .disable: clientTLS = .disable
        case .require: clientTLS = .require(Self.unverified())
        case .verifyFull: clientTLS = .require(.makeClientConfiguration())
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: clientTLS)
        configuration.options.connectTimeout = .seconds(10)
        configuration.options.maximumConnections = 8
        configuration.options.keepAliveBehavior = .init(frequency: .seconds(10))
        configuration.options.additionalStartupParameters = Self.sessionSettings
        return configuration
    }

    private static func unverified() -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        return configuration
    }

    /// The URL with its password hidden, for an error about the URL itself.
    static func redacted(_ text: String) -> String {
        if var parts = URLComponents(string: text) {
            guard parts.password != nil else { return text }
            parts.password = "****"
            return parts.string ?? "the URL"
        }
        // Not a URL to Foundation (a port that is not a number, say): the password goes by hand,
        // from the first ':' of the user part to the '@' that ends it.
        guard let scheme = text.range(of: "://") else { return text }
        let authority = text[scheme.upperBound...].prefix { $0 != "/" && $0 != "?" }
        guard let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") else { return text }
        return String(text[..<text.index(after: colon)]) + "****" + String(text[at...])
    }
}
