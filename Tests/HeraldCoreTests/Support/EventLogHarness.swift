import Foundation
import Logging
@testable import HeraldCore

/// An event log on a fresh SQLite file with its writer running, for the body; closed after it.
func withEventLog(_ name: String, options configure: (inout EventLog.Options) -> Void = { _ in },
                  onCommit: @escaping @Sendable ([StoredEvent]) -> Void = { _ in },
                  _ body: (EventLog) async throws -> Void) async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("herald-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    var options = EventLog.Options(path: directory.appendingPathComponent("herald.sqlite").path)
    configure(&options)
    let log = try EventLog(options: options, logger: Logger(label: "test"), onCommit: onCommit)
    let writer = Task { try await log.run() }
    do {
        try await body(log)
    } catch {
        log.queue.close()
        _ = await writer.result
        throw error
    }
    log.queue.close()
    try await writer.value
}

extension EventLog {
    /// `submit(_:).wait()` on a thread of its own: the wait blocks, and blocking Swift's
    /// cooperative pool (two threads here) while tests run in parallel can starve the very
    /// tasks the write waits for.
    func submitOffThePool(_ items: [AppendItem]) async -> [Result<AppendOutcome, any Error>] {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: self.submit(items).wait()) }.start()
        }
    }
}
