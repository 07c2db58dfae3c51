import NIOCore
import Synchronization

/// What a stream writes next.
enum Delivery: Sendable {
    case event(EventFrame)
    case keepalive
}

/// One event as it goes out, made once per event and shared by every subscriber (a class, so a
/// copy costs one retain). `bytes` is the SSE frame; the direct lane frames it as an HTTP chunk
/// once per loop (`LoopFanout`).
final class EventFrame: Sendable {
    let id: Int64
    let channel: String
    let key: String?
    let bytes: ByteBuffer
    let terminal: Bool

    init(_ event: StoredEvent) {
        id = event.id
        channel = event.channel
        key = event.key
        bytes = ByteBuffer(string: SSEEncoder.frame(for: event))
        terminal = event.terminal
    }
}

/// What the reader takes at once: usually the one delivery a waiting reader was handed (no array
/// allocated per event), or everything that waited while it was busy.
enum Deliveries: Sendable {
    case one(Delivery)
    case many([Delivery])
}

/// A bounded queue between the hub and one stream. The hub never waits on it: when it is full
/// the subscriber is cut off (it resumes by id). The reader takes everything waiting at once, so
/// a stream that fell behind catches up with one write instead of one per event.
final class SubscriberQueue: Sendable {
    enum End: Sendable, Equatable {
        case overflow
        case shutdown
        /// The stream reached its natural end (a job's last event was written).
        case completed
    }

    private struct State {
        var items: [Delivery] = []
        /// Unsafe rather than checked: a checked continuation allocates a canary per wait, i.e.
        /// per delivery. Exactly-once holds because whoever resumes it first takes it out under
        /// the lock (`push`, `finish`).
        var waiter: UnsafeContinuation<Deliveries?, Never>?
        var endWaiters: [CheckedContinuation<Void, Never>] = []
        /// What runs once at the end, for a stream no task waits for (`LiveStream`).
        var onEnd: (@Sendable (End) -> Void)?
        var end: End?
        /// Direct mode: the stream's events come from its loop's fan-out (`LiveStream`), not from here.
        var direct = false
    }

    private let state = Mutex(State())
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    enum Pushed: Equatable {
        /// Taken: the stream writes it.
        case queued
        /// Turned away: the stream takes its events from its loop's fan-out, which counts it.
        case direct
        /// Turned away: the queue has ended (overflowed now, or ended before).
        case ended
    }

    @discardableResult
    func push(_ delivery: Delivery) -> Pushed {
        let (waiter, pushed) = state.withLock { state -> (UnsafeContinuation<Deliveries?, Never>?, Pushed) in
            guard state.end == nil else { return (nil, .ended) }
            if state.direct { return (nil, .direct) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (waiter, .queued)
            }
            guard state.items.count < capacity else {
                state.end = .overflow
                state.items.removeAll()
                return (nil, .ended)
            }
            state.items.append(delivery)
            return (nil, .queued)
        }
        waiter?.resume(returning: .one(delivery))
        if pushed == .ended { wakeEndWaiters() }
        return pushed
    }

    /// Switches to direct mode and hands over what waits; later pushes are turned away (the
    /// stream takes them from its loop's fan-out). Nil when the queue has already ended.
    func goDirect() -> [Delivery]? {
        state.withLock { state in
            guard state.end == nil else { return nil }
            state.direct = true
            defer { state.items = [] }
            return state.items
        }
    }

    func finish(_ end: End) {
        let waiter = state.withLock { state in
            if state.end == nil { state.end = end }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
        wakeEndWaiters()
    }

    /// Returns once the queue has ended (or the task is cancelled).
    func waitUntilEnded() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ended = state.withLock { state in
                    if state.end != nil || Task.isCancelled { return true }
                    state.endWaiters.append(continuation)
                    return false
                }
                if ended { continuation.resume() }
            }
        } onCancel: {
            wakeEndWaiters()
        }
    }

    /// Runs `action` once when the queue ends, or now if it has.
    func whenEnded(_ action: @escaping @Sendable (End) -> Void) {
        let end = state.withLock { state in
            if state.end == nil { state.onEnd = action }
            return state.end
        }
        if let end { action(end) }
    }

    /// Also called on a waiter's cancellation, before any end: `onEnd` only runs once ended.
    private func wakeEndWaiters() {
        typealias Woken = (waiters: [CheckedContinuation<Void, Never>], onEnd: (@Sendable (End) -> Void)?, end: End?)
        let woken: Woken = state.withLock { state in
            defer { state.endWaiters.removeAll() }
            guard let end = state.end, let onEnd = state.onEnd else { return (state.endWaiters, nil, nil) }
            state.onEnd = nil
            return (state.endWaiters, onEnd, end)
        }
        for waiter in woken.waiters { waiter.resume() }
        if let onEnd = woken.onEnd, let end = woken.end { onEnd(end) }
    }

    var end: End? { state.withLock { $0.end } }

    /// Everything waiting, or nil once ended. It installs no cancellation handler of its own (one
    /// per event would cost a status record each time): the caller wraps its whole loop in one
    /// that calls `finish(.shutdown)`, which ends the wait. See `EventStream.deliver`.
    func next() async -> Deliveries? {
        await withUnsafeContinuation { continuation in
            let ready: Deliveries?? = state.withLock { state in
                if !state.items.isEmpty {
                    defer { state.items = [] }
                    return .some(state.items.count == 1 ? .one(state.items[0]) : .many(state.items))
                }
                if state.end != nil || Task.isCancelled { return .some(nil) }
                state.waiter = continuation
                return .none
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
