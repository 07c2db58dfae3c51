import Synchronization

/// What a writer can be asked to do in one request; a request is all or nothing.
struct AppendRequest: Sendable {
    var drafts: [EventDraft]
    /// Checked inside the transaction; `.skip` stores nothing (a redelivered MQTT message).
    var dedupe: MQTTDedupe?
    var completion: @Sendable (Result<AppendOutcome, any Error>) -> Void
}

public enum AppendOutcome: Sendable, Equatable {
    case stored([StoredEvent])
    /// Recognised as a message already stored; nothing new was written.
    case duplicate
}

public enum AppendError: Error, CustomStringConvertible, Equatable {
    case overloaded
    case shuttingDown

    public var description: String {
        switch self {
        case .overloaded: "the event log has too many appends waiting; retry shortly"
        case .shuttingDown: "Herald is shutting down"
        }
    }
}

/// The bounded hand-off between publishers (HTTP handlers, the MQTT thread) and the one writer.
/// The writer takes everything waiting at once, which is what makes group commit happen.
final class AppendQueue: Sendable {
    private struct State {
        var pending: [AppendRequest] = []
        var pendingEvents = 0
        var waiter: CheckedContinuation<Void, Never>?
        var closed = false
    }

    private let state = Mutex(State())
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    func submit(_ request: AppendRequest) throws(AppendError) {
        let waiter = try state.withLock { state throws(AppendError) -> CheckedContinuation<Void, Never>? in
            if state.closed { throw .shuttingDown }
            if state.pendingEvents + request.drafts.count > capacity && !state.pending.isEmpty { throw .overloaded }
            state.pending.append(request)
            state.pendingEvents += request.drafts.count
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Everything waiting, up to `maxEvents` events (at least one request); nil once closed and drained.
    func next(maxEvents: Int) async -> [AppendRequest]? {
        while true {
            enum Step { case batch([AppendRequest]), finished, wait }
            let step: Step = state.withLock { state in
                if !state.pending.isEmpty {
                    var count = 0
                    var taken = 0
                    for request in state.pending {
                        if taken > 0 && count + request.drafts.count > maxEvents { break }
                        count += request.drafts.count
                        taken += 1
                    }
                    let batch = Array(state.pending.prefix(taken))
                    state.pending.removeFirst(taken)
                    state.pendingEvents -= count
                    return .batch(batch)
                }
                return state.closed ? .finished : .wait
            }
            switch step {
            case .batch(let batch): return batch
            case .finished: return nil
            case .wait:
                await withCheckedContinuation { continuation in
                    let resumeNow = state.withLock { state in
                        if state.pending.isEmpty && !state.closed {
                            state.waiter = continuation
                            return false
                        }
                        return true
                    }
                    if resumeNow { continuation.resume() }
                }
            }
        }
    }

    /// Refuses new requests; what is waiting is still handed out.
    func close() {
        let waiter = state.withLock { state in
            state.closed = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }
}
