import Foundation
import HeraldCore

/// Process and file probes for the reliability tests (Linux /proc).
enum ProcProbe {
    /// Resident set size in kB from /proc/PID/status (VmRSS), or nil when unreadable.
    static func rssKB(_ pid: Int32) -> Int? {
        ProcFile.statusKB("VmRSS:", process: "\(pid)")
    }

    /// Number of open file descriptors (entries of /proc/PID/fd).
    static func fdCount(_ pid: Int32) -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count
    }
}

/// Runs a short command to completion (bounded by `seconds`); returns its exit status and output.
@discardableResult
func runCommand(_ executable: String, _ arguments: [String], seconds: Double = 30) async throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let deadline = Date().addingTimeInterval(seconds)
    while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    return (process.terminationStatus, output)
}

/// Runs SQL on a database with the sqlite3 command-line shell.
func sqlite3(_ database: String, _ sql: String) async throws -> String {
    let result = try await runCommand("/usr/bin/sqlite3", [database, sql])
    guard result.status == 0 else { throw TestFailure("sqlite3 \(sql) exited \(result.status): \(result.output)") }
    return result.output
}

/// Opens a raw HTTP connection on loopback, sends `request`, reads until `marker` arrives (or
/// `seconds` pass), then closes. True when the marker was seen.
func touchAndClose(port: Int, request: String, marker: String, seconds: Double = 30) -> Bool {
    guard let fd = connectLoopback(port: port) else { return false }
    defer { close(fd) }
    let bytes = Array(request.utf8)
    guard send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { return false }
    if marker.isEmpty { return true }
    var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let deadline = Date().addingTimeInterval(seconds)
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while Date() < deadline {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n == 0 { break }
        if n > 0 {
            received += buffer[..<n]
            if String(decoding: received, as: UTF8.self).contains(marker) { return true }
        }
    }
    return false
}

/// Copies `name`, `name-wal` and `name-shm` (those that exist) from one folder path prefix to another.
func copyDatabaseFiles(from source: String, to destination: String) throws {
    let manager = FileManager.default
    for suffix in ["", "-wal", "-shm"] {
        if manager.fileExists(atPath: destination + suffix) { try manager.removeItem(atPath: destination + suffix) }
        if manager.fileExists(atPath: source + suffix) { try manager.copyItem(atPath: source + suffix, toPath: destination + suffix) }
    }
}

/// Thread-safe list of values gathered by concurrent tasks.
final class Gathered<Value: Sendable>: @unchecked Sendable {  // guarded by `lock`
    private let lock = NSLock()
    private var items: [Value] = []
    func append(_ value: Value) { lock.withLock { items.append(value) } }
    var all: [Value] { lock.withLock { items } }
    var count: Int { lock.withLock { items.count } }
}

/// A flag one task sets and others read.
final class Flag: @unchecked Sendable {  // guarded by `lock`
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
