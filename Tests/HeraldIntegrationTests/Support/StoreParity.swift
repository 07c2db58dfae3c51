import Foundation
@testable import HeraldCore
import Logging
import Testing

/// For tests that ask the SQLite and the PostgreSQL store the same question: an SQLite event
/// log in a temporary folder, its writer running for the length of `body`.
func withSQLiteLog(semantics: EventSemantics = EventSemantics(), notify: NotifyRouting = NotifyRouting(),
                   _ body: (EventLog) async throws -> Void) async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("herald-parity-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    var options = EventLog.Options(path: directory.appendingPathComponent("herald.sqlite").path)
    options.semantics = semantics
    options.notify = notify
    let log = try EventLog(options: options, logger: Logger(label: "test.parity"), onCommit: { _ in })
    let writer = Task { try await log.run() }
    do { try await body(log) } catch {
        writer.cancel()
        _ = await writer.result
        throw error
    }
    writer.cancel()  // closes the append queue: the writer commits what it has and ends
    try await writer.value
}

/// Asks `stores[0]` (SQLite) and `stores[1]` (PostgreSQL) the same question, expects one answer,
/// and returns it.
@discardableResult
func expectAlike<Store: Sendable, Answer: Equatable>(_ stores: [Store], _ what: String,
                                                     _ ask: (Store) async throws -> Answer) async throws -> Answer {
    let sqlite = try await ask(stores[0])
    let postgres = try await ask(stores[1])
    #expect(sqlite == postgres, "\(what): SQLite answered \(sqlite), PostgreSQL \(postgres)")
    return sqlite
}

extension EventLog {
    /// One request through the writer as the MQTT bridge makes it, waited for on a thread of its
    /// own: the wait blocks, and the cooperative pool must stay free for the writer's callbacks.
    func submitOffThePool(_ item: AppendItem) async throws -> AppendOutcome {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: self.submit([item]).wait()[0]) }.start()
        }
    }
}
