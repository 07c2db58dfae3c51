import Foundation
import HeraldCore
import Logging
import Synchronization

/// One Herald node's event log in process: the PostgreSQL log, its feed of other nodes'
/// commits, and the gate between them, recording what the gate hands on (what the node's hub
/// would publish) so a test can check order and count.
final class PostgresNode: Sendable {
    let log: PostgresEventLog
    let gate: PublishGate
    private let handedOn = Recorder()
    private let task: Task<Void, any Error>

    init(url: String, name: String = "node", semantics: EventSemantics = EventSemantics(), notify: NotifyRouting = NotifyRouting()) throws {
        let handedOn = self.handedOn
        gate = PublishGate(startingAfter: 0) { events in handedOn.events.withLock { $0 += events } }
        var logger = Logger(label: "herald.test.\(name)")
        logger.logLevel = .warning
        var options = PostgresEventLog.Options(location: try PostgresLocation(url: url))
        options.semantics = semantics
        options.notify = notify
        let log = PostgresEventLog(options: options, gate: gate, logger: logger)
        self.log = log
        let feed = PostgresEventFeed(log: log)
        task = Task {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await log.run() }
                group.addTask { try await feed.run() }
            }
        }
    }

    /// The ids the gate handed on, in the order it did.
    var handedOnIds: [Int64] { handedOn.events.withLock { $0.map(\.id) } }

    func waitUntilReady() async throws {
        try await eventually("the PostgreSQL event log to be ready (phase: \(log.phase))") { log.phase == .ready }
    }

    /// Waits until the gate has handed on everything up to `id`.
    func waitUntilHandedOn(through id: Int64) async throws {
        try await eventually("node to hand on every event up to id \(id) (at \(gate.publishedThrough))") {
            gate.publishedThrough >= id
        }
    }

    func stop() async {
        log.close()
        task.cancel()
        _ = await task.result
    }

    deinit { task.cancel() }
}

private final class Recorder: Sendable {
    let events = Mutex<[StoredEvent]>([])
}
