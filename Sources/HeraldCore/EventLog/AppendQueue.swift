import Foundation

/// What a writer can be asked to do in one request; a request is all or nothing.
struct AppendRequest: Sendable {
    var drafts: [EventDraft]
    /// Checked inside the transaction; `.skip` stores nothing (a redelivered MQTT message).
    var dedupe: MQTTDedupe?
    /// An alert to acknowledge (the acknowledgement is an event too).
    var acknowledge: String? = nil
    /// Device state recorded in the same transaction (DESIGN §5a).
    var effects: [DeviceEffect] = []
    var completion: @Sendable (Result<AppendOutcome, any Error>) -> Void

    init(drafts: [EventDraft], dedupe: MQTTDedupe?, acknowledge: String? = nil, effects: [DeviceEffect] = [],
         completion: @escaping @Sendable (Result<AppendOutcome, any Error>) -> Void) {
        self.drafts = drafts
        self.dedupe = dedupe
        self.acknowledge = acknowledge
        self.effects = effects
        self.completion = completion
    }
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
/// The writer is a plain thread blocked on a condition: a message from the MQTT thread then costs
/// two thread wake-ups to commit, with no hop through the async executor.
final class AppendQueue: @unchecked Sendable {  // all state is guarded by `condition`
    private var pending: [AppendRequest] = []
    private var pendingEvents = 0
    private var closed = false
    private let condition = NSCondition()
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    func submit(_ request: AppendRequest) throws(AppendError) {
        try submit(contentsOf: [request])
    }

    /// All or none of them, under one lock, so the writer finds them together.
    func submit(contentsOf requests: [AppendRequest]) throws(AppendError) {
        let events = requests.reduce(0) { $0 + $1.drafts.count }
        condition.lock()
        defer { condition.unlock() }
        if closed { throw .shuttingDown }
        if pendingEvents + events > capacity && !pending.isEmpty { throw .overloaded }
        pending.append(contentsOf: requests)
        pendingEvents += events
        condition.signal()
    }

    /// Blocks until requests wait, then takes them all, up to `maxEvents` events (at least one
    /// request); nil once closed and drained.
    func next(maxEvents: Int) -> [AppendRequest]? {
        condition.lock()
        defer { condition.unlock() }
        while pending.isEmpty && !closed { condition.wait() }
        if pending.isEmpty { return nil }
        var count = 0
        var taken = 0
        for request in pending {
            if taken > 0 && count + request.drafts.count > maxEvents { break }
            count += request.drafts.count
            taken += 1
        }
        let batch = Array(pending.prefix(taken))
        pending.removeFirst(taken)
        pendingEvents -= count
        return batch
    }

    /// Refuses new requests; what is waiting is still handed out.
    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
