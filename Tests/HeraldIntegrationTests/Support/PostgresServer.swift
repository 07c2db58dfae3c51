import Foundation
import HeraldCore

/// Debian's PostgreSQL, a private cluster per test: `initdb` in a temporary folder as the
/// `postgres` user, the server on a free loopback port, stopped by pid at the end. Password
/// logins over TCP (scram-sha-256), so a wrong password is refused as it would be in production.
/// `fsync=off`: these servers hold test data only, and no test here crashes the machine.
final class PostgresServer: @unchecked Sendable {  // `process` is replaced only by the owning test
    let port: Int
    let dir: TempDir
    let user = "herald"
    let password = "herald-test-password"
    var process: ChildProcess

    private let dataDir: String

    init() async throws {
        dir = try TempDir()
        dataDir = dir.file("pgdata")
        port = try freePort()
        guard let owner = getpwnam("postgres") else { throw TestFailure("no postgres user: install Debian's postgresql") }
        chown(dir.path, owner.pointee.pw_uid, owner.pointee.pw_gid)
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o700])
        chown(dataDir, owner.pointee.pw_uid, owner.pointee.pw_gid)
        let passwordFile = dir.file("pw")
        try password.write(toFile: passwordFile, atomically: true, encoding: .utf8)
        chown(passwordFile, owner.pointee.pw_uid, owner.pointee.pw_gid)
        try await Self.run(Self.binary("initdb"), asPostgres: true, [
            "-D", dataDir, "-U", user, "--pwfile=\(passwordFile)", "--auth-host=scram-sha-256", "--auth-local=trust",
            "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
        ], log: dir.file("initdb.log"))
        process = try Self.launch(dir: dir, dataDir: dataDir, port: port)
        try await waitUntilAccepting()
    }

    /// A new, empty database on this server, as a URL Herald takes.
    func makeDatabase(_ name: String = "h" + UUID().uuidString.prefix(8).lowercased()) async throws -> String {
        try await psql("CREATE DATABASE \(name)")
        return url(database: name)
    }

    func url(database: String, password: String? = nil) -> String {
        "postgres://\(user):\(password ?? self.password)@127.0.0.1:\(port)/\(database)"
    }

    /// Runs SQL through `psql` (its own client, not Herald's); returns what it printed.
    @discardableResult
    func psql(_ sql: String, database: String = "postgres") async throws -> String {
        try await Self.run("/usr/bin/psql", asPostgres: false, [
            "-h", "127.0.0.1", "-p", "\(port)", "-U", user, "-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql,
        ], log: dir.file("psql.log"), environment: ["PGPASSWORD": password])
    }

    /// Stops the server (SIGINT: PostgreSQL's fast shutdown) and starts it again on the same port.
    func restart(downFor pause: Duration = .zero) async throws {
        await stop()
        try await Task.sleep(for: pause)
        process = try Self.launch(dir: dir, dataDir: dataDir, port: port)
        try await waitUntilAccepting()
    }

    func stop() async { await process.stop(SIGINT) }

    private func waitUntilAccepting() async throws {
        try await eventually("PostgreSQL on 127.0.0.1:\(port) to accept logins (log: \(dir.file("postgres.log")))") {
            (try? await psql("SELECT 1")) == "1\n"
        }
    }

    private static func launch(dir: TempDir, dataDir: String, port: Int) throws -> ChildProcess {
        // setpriv execs PostgreSQL itself, so the pid the test holds is the server's.
        try ChildProcess(executable: "/usr/bin/setpriv", arguments: postgresUser + [
            binary("postgres"), "-D", dataDir, "-p", "\(port)", "-k", dataDir,
            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200",
        ], logPath: dir.file("postgres.log"))
    }

    private static let postgresUser = ["--reuid=postgres", "--regid=postgres", "--init-groups", "--"]

    /// Debian installs the server's programs per major version, off the PATH.
    static func binary(_ name: String) throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        guard let newest = versions.last else { throw TestFailure("no PostgreSQL under \(root): install Debian's postgresql") }
        return "\(root)/\(newest)/bin/\(name)"
    }

    @discardableResult
    private static func run(_ executable: String, asPostgres: Bool, _ arguments: [String], log: String,
                            environment: [String: String] = [:]) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: asPostgres ? "/usr/bin/setpriv" : executable)
        process.arguments = asPostgres ? postgresUser + [executable] + arguments : arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = try await Task.detached { try output.fileHandleForReading.readToEnd() ?? Data() }.value
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        try? text.write(toFile: log, atomically: true, encoding: .utf8)
        guard process.terminationStatus == 0 else {
            throw TestFailure("\(executable) \(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(text)")
        }
        return text
    }
}
