import Foundation

/// A psql session kept open, fed statements on its standard input: for a transaction a test
/// holds open across steps.
final class PsqlSession: @unchecked Sendable {  // driven by the owning test only
    private let process = Process()
    private let input = Pipe()

    init(server: PostgresServer, database: String) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        process.arguments = ["-h", "127.0.0.1", "-p", "\(server.port)", "-U", server.user, "-d", database, "-q"]
        process.environment = ProcessInfo.processInfo.environment.merging(["PGPASSWORD": server.password]) { $1 }
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    func send(_ sql: String) throws {
        try input.fileHandleForWriting.write(contentsOf: Data((sql + "\n").utf8))
    }

    /// Kills psql with SIGKILL, as a node dies: its connection closes without a goodbye.
    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func close() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    deinit { if process.isRunning { process.terminate() } }
}
