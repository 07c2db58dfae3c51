import Logging
import PostgresNIO

/// The append path. One transaction per batch of requests (group commit):
///
///     BEGIN
///     pg_advisory_xact_lock(append)          -- one appender at a time, across every node
///     SELECT id FROM head                     -- ids continue from the last committed one
///     INSERT events with ids head+1 … head+n, and the notifications they owe
///     UPDATE head; pg_notify(herald_events)   -- the wake-up other nodes' feeds listen for
///     COMMIT                                  -- the lock is released only after this
///
/// PostgreSQL makes a sequence's values visible at commit, not when handed out, so with two
/// nodes committing at once id 11 could be seen before id 10 and a reader following `id > 10`
/// would skip 10 forever. Under the lock the next appender reads the head only after this
/// transaction is visible: ids become visible in the order they were given.
extension PostgresEventLog {
    /// Appends events as one all-or-nothing request and returns them with their ids once
    /// committed (and offered to the gate).
    public func append(_ drafts: [EventDraft]) async throws -> [StoredEvent] {
        guard case .stored(let events) = try await append(drafts, dedupe: nil) else { return [] }
        return events
    }

    /// An MQTT message's events and device effects, the events stored unless the message is a
    /// redelivery or a retained copy of what its topic last stored (`.duplicate`).
    func append(_ drafts: [EventDraft], dedupe: MQTTDedupe?, effects: [DeviceEffect] = []) async throws -> AppendOutcome {
        guard !drafts.isEmpty || !effects.isEmpty else { return .stored([]) }
        return try await submit(.init(drafts: drafts, dedupe: dedupe, effects: effects) { _ in })
    }

    /// Acknowledges an alert; returns the acknowledgement event. Throws `AlertNotFound`.
    public func acknowledgeAlert(_ id: String) async throws -> StoredEvent {
        guard case .stored(let events) = try await submit(.init(drafts: [], acknowledge: id) { _ in }), let event = events.first else {
            throw AlertNotFound(id: id)
        }
        return event
    }

    private func submit(_ request: PostgresAppendQueue.Request) async throws -> AppendOutcome {
        try requireReady()
        return try await withCheckedThrowingContinuation { continuation in
            var request = request
            request.completion = { continuation.resume(with: $0) }
            switch queue.submit(request) {
            case .queued: break
            case .overloaded:
                continuation.resume(throwing: PostgresFailure.statement(endpoint: endpoint, reason: "too many appends waiting; try again"))
            case .closed:
                continuation.resume(throwing: PostgresFailure.unreachable(endpoint: endpoint, reason: "the event log is closed"))
            }
        }
    }

    /// The writer: one connection of its own (appends are one at a time across the nodes
    /// anyway), connected again when a batch finds it closed. While the database is away each
    /// batch fails at once with the reason, so publishers get an answer instead of a wait.
    func writeUntilClosed(_ first: WatchedConnection) async {
        var connection: WatchedConnection? = first
        while let batch = await queue.next() {
            do {
                if connection?.isClosed ?? true { connection = try await connect() }
                await commit(batch, on: connection!)
            } catch {
                connection = nil
                let failure = failure(error)
                for request in batch { request.completion(.failure(failure)) }
            }
        }
        await connection?.close()
        transition(.closed)
    }

    /// Commits the batch in one transaction; if that fails and the batch has more than one
    /// request, each is tried alone so that one bad request fails by itself.
    private func commit(_ batch: [PostgresAppendQueue.Request], on connection: WatchedConnection) async {
        do {
            for (request, outcome) in zip(batch, try await write(batch, on: connection)) { request.completion(.success(outcome)) }
        } catch {
            guard batch.count > 1 else {
                batch[0].completion(.failure(failure(error)))
                return
            }
            for request in batch {
                do {
                    request.completion(.success(try await write([request], on: connection)[0]))
                } catch {
                    request.completion(.failure(failure(error)))
                }
            }
        }
    }

    private func failure(_ error: any Error) -> any Error {
        if error is AlertNotFound { return error }
        if let wrapped = error as? PostgresTransactionError, let inner = wrapped.closureError, inner is AlertNotFound { return inner }
        let failure = PostgresFailure.from(error, endpoint: endpoint)
        logger.error("PostgreSQL commit failed", metadata: ["error": "\(failure)"])
        return failure
    }

    /// One transaction: the events get ids head+1…, and the gate gets them after the commit,
    /// with any other node's events it has not seen yet in front (read under the same lock, so
    /// this node's subscribers get them in id order without waiting for the feed).
    private func write(_ requests: [PostgresAppendQueue.Request], on watched: WatchedConnection) async throws -> [AppendOutcome] {
        let semantics = options.semantics
        let needed = semantics.rowsNeeded(for: requests.flatMap(\.drafts), acknowledging: requests.compactMap(\.acknowledge))
        // The deadline gives up on a transaction the server stopped answering (closing the
        // connection rolls it back); a healthy one takes milliseconds, even behind other nodes.
        let (batch, outcomes, newChannels) = try await watched.run(deadline: Self.transactionDeadline) { connection in
            try await connection.withTransaction(logger: self.logger) { connection in
                try await self.transaction(requests, needed: needed, on: connection)
            }
        }
        channelsWritten.withLock { $0.formUnion(newChannels) }
        if !batch.events.isEmpty { gate.offer(batch) }
        return outcomes
    }

    /// The statements of one append, inside its transaction.
    private func transaction(_ requests: [PostgresAppendQueue.Request], needed: EventSemantics.RowsNeeded,
                             on connection: PostgresConnection) async throws -> (PublishGate.Batch, [AppendOutcome], Set<String>) {
        let semantics = options.semantics
        try await connection.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.LockKey.append))", logger: logger)
        let head = try await head(connection)
        var ledger = try await PostgresMQTTLedger.load(for: requests.compactMap(\.dedupe), in: connection, logger: logger)
        var rows = try await PrefetchedStateRows.load(needed, in: connection, logger: logger)
        var next = head + 1
        func insert(_ draft: EventDraft) -> StoredEvent {
            defer { next += 1 }
            return StoredEvent(id: next, draft: draft)
        }
        var stored: [StoredEvent] = []
        var outcomes: [AppendOutcome] = []
        for request in requests {
            if !request.effects.isEmpty {
                // Applied for a duplicate too, as on SQLite: the sources may know more of the
                // message now, and device state is an idempotent upsert.
                try await PostgresDeviceBook.apply(request.effects, at: request.drafts.first?.time ?? Clock.nowMilliseconds(),
                                                   in: connection, logger: logger)
            }
            if let dedupe = request.dedupe {
                if ledger.isDuplicate(dedupe) {
                    outcomes.append(.duplicate)
                    continue
                }
                ledger.stored(dedupe)
            }
            var events: [StoredEvent] = []
            if let alertId = request.acknowledge {
                events.append(try semantics.acknowledge(alertId, at: Clock.nowMilliseconds(), rows: &rows, insert: insert))
            }
            for draft in request.drafts { events += try semantics.store(draft, rows: &rows, insert: insert) }
            stored += events
            outcomes.append(.stored(events))
        }
        guard !stored.isEmpty else { return (PublishGate.Batch(after: head, events: [], through: head), outcomes, Set<String>()) }
        let newChannels = channelsWritten.withLock { known in Set(stored.map(\.channel)).subtracting(known) }
        if !newChannels.isEmpty {
            try await connection.query("""
                INSERT INTO channels(name) SELECT unnest(\(Array(newChannels))::text[]) ON CONFLICT DO NOTHING
                """, logger: logger)
        }
        try await connection.query(Self.insert(stored), logger: logger)
        try await enqueueOwed(stored, in: connection)
        try await ledger.write(in: connection, logger: logger)
        try await rows.write(in: connection, logger: logger)
        let through = next - 1
        try await connection.query("UPDATE head SET id = \(through)", logger: logger)
        try await connection.query("SELECT pg_notify(\(PostgresSchema.notifyChannel), \(String(through)))", logger: logger)
        return (try await withUnseen(stored, after: head, through: through, in: connection), outcomes, newChannels)
    }

    /// The batch for the gate: this node's events, led by the committed ones between what the
    /// gate handed on and `head`, when there are few enough to read here. With more, the batch
    /// starts at `head` and the gate turns it away; the feed then brings everything in order.
    private func withUnseen(_ stored: [StoredEvent], after head: Int64, through: Int64,
                            in connection: PostgresConnection) async throws -> PublishGate.Batch {
        let published = gate.publishedThrough
        guard published < head else { return PublishGate.Batch(after: head, events: stored, through: through) }
        let unseen = try await events(after: published, through: head, limit: Self.catchUpLimit + 1, in: connection)
        guard unseen.count <= Self.catchUpLimit else { return PublishGate.Batch(after: head, events: stored, through: through) }
        return PublishGate.Batch(after: published, events: unseen + stored, through: through)
    }

    /// Longest an append transaction may take before the writer gives up on its connection.
    static let transactionDeadline: Duration = .seconds(30)

    /// Most events read in one go to fill in other nodes' commits.
    static let catchUpLimit = 1_000

    private static func insert(_ events: [StoredEvent]) -> PostgresQuery {
        var bindings = PostgresBindings(capacity: events.count * 7)
        var sql = "INSERT INTO events(id, channel, type, key, time, data, source) VALUES "
        for (index, event) in events.enumerated() {
            let first = index * 7
            if index > 0 { sql += "," }
            sql += "(" + (1...7).map { "$\(first + $0)" }.joined(separator: ",") + ")"
            bindings.append(event.id)
            bindings.append(event.channel)
            bindings.append(event.type)
            bindings.append(event.key)
            bindings.append(event.draft.time)
            bindings.append(event.draft.data)
            bindings.append(event.draft.source)
        }
        return PostgresQuery(unsafeSQL: sql, binds: bindings)
    }
}
