import Foundation
import HeraldCore

/// Debian's mosquitto on a free loopback port, with its own config and data folder.
final class MosquittoBroker: @unchecked Sendable {  // `process` is replaced only by the owning test
    let port: Int
    let dir: TempDir
    var process: ChildProcess

    init(dir: TempDir) async throws {
        self.dir = dir
        self.port = try freePort()
        try FileManager.default.createDirectory(atPath: dir.file("mosquitto"), withIntermediateDirectories: true)
        var config = """
            listener \(port) 127.0.0.1
            allow_anonymous true
            persistence true
            persistence_location \(dir.file("mosquitto"))/
            autosave_interval 1
            autosave_on_changes true
            max_queued_messages 100000

            """
        // As root, mosquitto would switch to its own user and could not write our data folder.
        if getuid() == 0 { config += "user root\n" }
        try config.write(toFile: dir.file("mosquitto.conf"), atomically: true, encoding: .utf8)
        process = try Self.launch(dir)
        try await waitUntilListening()
    }

    private static func launch(_ dir: TempDir) throws -> ChildProcess {
        try ChildProcess(executable: "/usr/sbin/mosquitto", arguments: ["-c", dir.file("mosquitto.conf")],
                         logPath: dir.file("mosquitto.log"))
    }

    func waitUntilListening() async throws {
        try await eventually("mosquitto to listen on \(port)") {
            guard let fd = connectLoopback(port: port) else { return false }
            close(fd)
            return true
        }
    }

    func stop(_ signal: Int32 = SIGTERM) async { await process.stop(signal) }

    func start() async throws {
        process = try Self.launch(dir)
        try await waitUntilListening()
    }

    /// Publishes with `mosquitto_pub`, which exits once the broker has acknowledged every
    /// message; `lines` become one message each, in order, on one topic.
    func publish(_ topic: String, lines: [String], qos: Int = 1, retain: Bool = false) async throws {
        var arguments = ["-h", "127.0.0.1", "-p", "\(port)", "-t", topic, "-q", "\(qos)", "-l"]
        if retain { arguments.append("-r") }
        try await mosquittoPub(arguments, stdin: lines.joined(separator: "\n") + "\n")
    }

    /// One message with arbitrary bytes.
    func publish(_ topic: String, bytes: [UInt8], qos: Int = 1, retain: Bool = false) async throws {
        let file = dir.file("payload-\(UUID().uuidString)")
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        var arguments = ["-h", "127.0.0.1", "-p", "\(port)", "-t", topic, "-q", "\(qos)", "-f", file]
        if retain { arguments.append("-r") }
        try await mosquittoPub(arguments, stdin: "")
    }

    private func mosquittoPub(_ arguments: [String], stdin: String) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_pub")
        process.arguments = arguments
        let input = Pipe()
        process.standardInput = input
        try process.run()
        input.fileHandleForWriting.write(Data(stdin.utf8))
        try input.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { process.terminate() }
        guard process.terminationStatus == 0 else { throw TestFailure("mosquitto_pub \(arguments) exited \(process.terminationStatus)") }
    }
}
