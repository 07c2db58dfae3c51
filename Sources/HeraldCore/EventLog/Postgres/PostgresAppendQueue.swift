import Synchronization

/// Appends waiting for the PostgreSQL writer: bounded, so a database that stalls turns into
/// `overloaded` answers instead of memory, and drained whole so a burst costs one transaction.
final class PostgresAppendQueue: Sendable {
    struct Request: Sendable {
        var drafts: [EventDraft]
        /// An MQTT message's identity: a redelivery or a repeated retained copy stores nothing.
        var dedupe: MQTTDedupe?
        /// An alert to acknowledge; the acknowledgement is an event too.
        var acknowledge: String? = nil
        /// What the message told about devices, written in the same transaction.
        var effects: [DeviceEffect] = []
        var completion: @Sendable (Result<AppendOutcome, any Error>) -> Void
    }

    enum Submitted { case queued, overloaded, closed }

    private struct State {
        var waiting: [Request] = []
        var events = 0
        var writer: CheckedContinuation<[Request]?, Never>?
        var closed = false
    }

    private let state = Mutex(State())
    private let capacity: Int
    private let maxBatch: Int

    init(capacity: Int, maxBatch: Int) {
        self.capacity = capacity
        self.maxBatch = maxBatch
    }

    func submit(_ request: Request) -> Submitted {
        let (submitted, wake) = state.withLock { state -> (Submitted, (CheckedContinuation<[Request]?, Never>, [Request])?) in
            guard !state.closed else { return (.closed, nil) }
            guard state.events + request.drafts.count <= capacity || state.waiting.isEmpty else { return (.overloaded, nil) }
            state.waiting.append(request)
            state.events += request.drafts.count
            guard let writer = state.writer else { return (.queued, nil) }
            state.writer = nil
            return (.queued, (writer, Self.take(&state, maxEvents: maxBatch)))
        }
        if let (writer, batch) = wake { writer.resume(returning: batch) }
        return submitted
    }

    /// The next requests, up to `maxBatch` events (at least one request); nil once closed and empty.
    func next() async -> [Request]? {
        await withCheckedContinuation { continuation in
            let ready: [Request]?? = state.withLock { state in
                if !state.waiting.isEmpty { return .some(Self.take(&state, maxEvents: maxBatch)) }
                if state.closed { return .some(nil) }
                state.writer = continuation
                return .none
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Refuses new requests; the writer still takes what is waiting, then gets nil.
    func close() {
        let writer = state.withLock { state -> CheckedContinuation<[Request]?, Never>? in
            state.closed = true
            defer { state.writer = nil }
            return state.writer
        }
        writer?.resume(returning: nil)
    }

    private static func take(_ state: inout State, maxEvents: Int) -> [Request] {
        var count = 0
        var taken = 0
        for request in state.waiting {
            if taken > 0, count + request.drafts.count > maxEvents { break }
            count += request.drafts.count
            taken += 1
        }
        let batch = Array(state.waiting.prefix(taken))
        state.waiting.removeFirst(taken)
        state.events -= count
        return batch
    }
}
