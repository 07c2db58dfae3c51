import Dispatch
import Foundation
import GRDB
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// The single writer: takes every append waiting, commits them in one transaction (group
/// commit), then hands the new events to `onCommit` in id order. A request is all or nothing and
/// one bad request fails alone (see `commit`).
extension EventLog: Service {
    public func run() async throws {
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    let thread = Thread { [self] in
                        while let batch = queue.next(maxEvents: options.maxBatch) { commit(batch) }
                        continuation.resume(with: Result { try markCleanShutdown() })
                    }
                    thread.name = "herald-writer"
                    thread.start()
                }
                logger.info("event log closed cleanly")
            } onGracefulShutdown: {
                self.queue.close()
            }
        } onCancel: {
            self.queue.close()
        }
    }

    /// Appends events as one all-or-nothing request and returns them with their ids once committed.
    public func append(_ drafts: [EventDraft]) async throws -> [StoredEvent] {
        try await submit(drafts: drafts, acknowledge: nil)
    }

    /// Acknowledges an alert; returns the acknowledgement event. Throws `AlertNotFound`.
    public func acknowledgeAlert(_ id: String) async throws -> StoredEvent {
        try await submit(drafts: [], acknowledge: id)[0]
    }

    private func submit(drafts: [EventDraft], acknowledge: String?) async throws -> [StoredEvent] {
        let outcome = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<AppendOutcome, any Error>) in
            do {
                try queue.submit(AppendRequest(drafts: drafts, dedupe: nil, acknowledge: acknowledge) { continuation.resume(with: $0) })
            } catch {
                continuation.resume(throwing: error)
            }
        }
        guard case .stored(let events) = outcome else { return [] }
        return events
    }

    /// For the MQTT network thread: blocks until the events are committed (or recognised as a
    /// duplicate), because the PUBACK goes out when the caller returns. Waits while the queue is full.
    func appendBlocking(_ drafts: [EventDraft], dedupe: MQTTDedupe?) -> Result<AppendOutcome, any Error> {
        submit([AppendItem(drafts: drafts, dedupe: dedupe)]).wait()[0]
    }

    /// Hands the requests to the writer and returns at once (waiting only while the queue is
    /// full); `wait()` on the result blocks until every one is committed or failed. Each request
    /// is all-or-nothing on its own; the writer takes them together, so a burst of MQTT messages
    /// costs one commit and one wake-up instead of one each.
    func submit(_ requests: [AppendItem]) -> PendingAppends {
        let pending = PendingAppends(count: requests.count)
        guard !requests.isEmpty else { return pending }
        let appends = requests.enumerated().map { index, request in
            AppendRequest(drafts: request.drafts, dedupe: request.dedupe, effects: request.effects) { pending.set(index, $0) }
        }
        while true {
            do {
                try queue.submit(contentsOf: appends)
                return pending
            } catch .overloaded {
                usleep(5_000)
            } catch {
                for index in requests.indices { pending.set(index, .failure(error)) }
                return pending
            }
        }
    }

    private func commit(_ batch: [AppendRequest]) {
        let start = DispatchTime.now().uptimeNanoseconds
        let outcomes: [Result<AppendOutcome, any Error>]
        do {
            do {
                outcomes = try write(batch, isolated: false)
            } catch {
                // One request failed and took the transaction with it: do the batch again with each
                // request in a savepoint of its own, so that it fails alone. Rare, so the common case
                // pays for no savepoints.
                outcomes = try write(batch, isolated: true)
            }
        } catch {
            logger.error("commit failed", metadata: ["error": "\(error)", "requests": "\(batch.count)"])
            WriterMetrics.commitFailures.increment()
            for request in batch { request.completion(.failure(error)) }
            return
        }
        WriterMetrics.commitSeconds.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - start))
        let stored = outcomes.flatMap { outcome -> [StoredEvent] in
            if case .success(.stored(let events)) = outcome { return events }
            return []
        }
        if !stored.isEmpty {
            WriterMetrics.eventsStored.increment(by: stored.count)
            onCommit(stored)
        }
        for (request, outcome) in zip(batch, outcomes) { request.completion(outcome) }
    }

    /// One transaction for the whole batch. Not `isolated`: the first failing request throws and
    /// rolls everything back. `isolated`: each request in its own savepoint, failing alone.
    private func write(_ batch: [AppendRequest], isolated: Bool) throws -> [Result<AppendOutcome, any Error>] {
        var added: [String] = []
        do {
            return try pool.write { db in
                let newChannels = self.knownChannels.unseen(Set(batch.flatMap { $0.drafts.map(\.channel) }))
                for name in newChannels {
                    try db.execute(sql: "INSERT OR IGNORE INTO channels(name) VALUES (?)", arguments: [name])
                }
                let insert = RawStatement(statement: try db.cachedStatement(sql: """
                    INSERT INTO events(channel, type, key, time, data, source) VALUES (?, ?, ?, ?, ?, ?)
                    """), db: db)
                var ledger = try MQTTLedger(db: db)
                var outcomes: [Result<AppendOutcome, any Error>] = []
                outcomes.reserveCapacity(batch.count)
                for request in batch {
                    if isolated {
                        outcomes.append(Result {
                            var outcome = AppendOutcome.duplicate
                            try db.inSavepoint {
                                outcome = try self.apply(request, insert: insert, ledger: ledger, in: db)
                                return .commit
                            }
                            return outcome
                        })
                        // Some errors (disk full, I/O) roll back the whole transaction, not just the
                        // savepoint: what follows would run in autocommit, so fail the batch instead.
                        if case .failure(let error) = outcomes.last!, !db.isInsideTransaction { throw error }
                    } else {
                        outcomes.append(.success(try self.apply(request, insert: insert, ledger: ledger, in: db)))
                    }
                    if case .success(.stored) = outcomes.last!, let dedupe = request.dedupe { ledger.stored(dedupe) }
                }
                try ledger.writeLastPayloads()
                // Known before the commit is visible: see `EventLog.clause(for:in:)`.
                self.knownChannels.add(newChannels)
                added = newChannels
                return outcomes
            }
        } catch {
            knownChannels.remove(added)  // the commit failed: their rows are not there
            throw error
        }
    }

    private func apply(_ request: AppendRequest, insert statement: RawStatement, ledger: MQTTLedger,
                       in db: Database) throws -> AppendOutcome {
        func insert(_ draft: EventDraft) throws -> StoredEvent {
            let id = try statement.insert(.text(draft.channel), .text(draft.type), .text(draft.key), .integer(draft.time),
                                          .text(draft.data), .text(draft.source))
            return StoredEvent(id: id, draft: draft)
        }
        if let dedupe = request.dedupe, try ledger.isDuplicate(dedupe) {
            // The sources read the message again and may know more of it now (a source turned
            // on, a limit raised): their device state is an idempotent upsert, kept in step.
            if !request.effects.isEmpty { try DeviceBook.apply(request.effects, at: request.drafts.first?.time ?? Clock.nowMilliseconds(), in: db) }
            return .duplicate
        }
        var events: [StoredEvent] = []
        events.reserveCapacity(request.drafts.count)
        var rows = SQLiteStateRows(db: db)
        if let alertId = request.acknowledge {
            events.append(try options.semantics.acknowledge(alertId, at: Clock.nowMilliseconds(), rows: &rows, insert: insert))
        }
        for draft in request.drafts {
            events += try options.semantics.store(draft, rows: &rows, insert: insert)
        }
        if !request.effects.isEmpty { try DeviceBook.apply(request.effects, at: request.drafts.first?.time ?? Clock.nowMilliseconds(), in: db) }
        if let dedupe = request.dedupe { try ledger.insertReceipt(dedupe) }
        try options.notify.enqueue(events, in: db)
        return .stored(events)
    }
}

/// One request for `submit`: events stored all or nothing, with what recognises a redelivered
/// MQTT message and the device state that goes with them.
struct AppendItem: Sendable {
    var drafts: [EventDraft]
    var dedupe: MQTTDedupe?
    var effects: [DeviceEffect] = []
}

/// The outcomes of requests handed to the writer, as they arrive; `wait` blocks for all of them.
final class PendingAppends: Sendable {
    private struct State {
        var results: [Result<AppendOutcome, any Error>?]
        var missing: Int
    }

    private let state: Mutex<State>
    private let done = DispatchSemaphore(value: 0)

    init(count: Int) {
        state = Mutex(State(results: Array(repeating: nil, count: count), missing: count))
    }

    func set(_ index: Int, _ outcome: Result<AppendOutcome, any Error>) {
        let last = state.withLock { state in
            state.results[index] = outcome
            state.missing -= 1
            return state.missing == 0
        }
        if last { done.signal() }
    }

    func wait() -> [Result<AppendOutcome, any Error>] {
        if state.withLock({ $0.missing > 0 }) { done.wait() }
        return state.withLock { $0.results.map { $0! } }
    }
}

/// Made once: looking a metric up by label on every commit costs a lock and a hash.
enum WriterMetrics {
    static let eventsStored = Counter(label: "herald_events_stored_total")
    static let commitFailures = Counter(label: "herald_commit_failures_total")
    static let commitSeconds = Timer(label: "herald_commit_seconds")
}
