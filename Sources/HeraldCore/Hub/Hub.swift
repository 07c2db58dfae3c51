import Logging
import Metrics
import NIOCore
import Synchronization

/// Fans committed events out to live subscribers. Called by the event log's writer only, after
/// each commit, so every subscriber sees events in id order. Each event is encoded once and the
/// same bytes go to every subscriber.
public final class Hub: Sendable {
    struct Subscriber: Sendable {
        let filter: EventFilter
        let queue: SubscriberQueue
    }

    private let subscribers = Mutex<[UInt64: Subscriber]>([:])
    /// Set by `finishAll`: a stream that starts during shutdown ends at once.
    private let closed = Atomic<Bool>(false)
    private let nextID = Atomic<UInt64>(1)
    let queueCapacity: Int
    let logger: Logger

    public init(queueCapacity: Int = 1_024, logger: Logger) {
        self.queueCapacity = queueCapacity
        self.logger = logger
    }

    /// A live subscription; ends when dropped from the hub (overflow, shutdown) or closed.
    final class Subscription: Sendable {
        let id: UInt64
        let queue: SubscriberQueue
        private let hub: Hub

        init(id: UInt64, queue: SubscriberQueue, hub: Hub) {
            self.id = id
            self.queue = queue
            self.hub = hub
        }

        func close() { hub.remove(id) }
    }

    func subscribe(_ filter: EventFilter) -> Subscription {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let queue = SubscriberQueue(capacity: queueCapacity)
        let count = subscribers.withLock { subscribers in
            if closed.load(ordering: .sequentiallyConsistent) {
                queue.finish(.shutdown)
            } else {
                subscribers[id] = Subscriber(filter: filter, queue: queue)
            }
            return subscribers.count
        }
        Gauge(label: "herald_sse_clients").record(count)
        return Subscription(id: id, queue: queue, hub: self)
    }

    func remove(_ id: UInt64) {
        let (removed, count) = subscribers.withLock { ($0.removeValue(forKey: id), $0.count) }
        removed?.queue.finish(.shutdown)
        Gauge(label: "herald_sse_clients").record(count)
    }

    public var subscriberCount: Int { subscribers.withLock { $0.count } }

    /// Live subscribers whose selectors take this channel.
    public func subscriberCount(channel: String) -> Int {
        subscribers.withLock { $0.values.count { $0.filter.selectors.matches(channel) } }
    }

    public func publish(_ events: [StoredEvent]) {
        let current = subscribers.withLock { Array($0) }
        guard !current.isEmpty else { return }
        var overflowed: [UInt64] = []
        var deliveries = 0
        for event in events {
            var frame: ByteBuffer?
            for (id, subscriber) in current where subscriber.filter.matches(event) {
                if frame == nil { frame = ByteBuffer(string: SSEEncoder.frame(for: event)) }
                if subscriber.queue.push(.event(id: event.id, bytes: frame!, terminal: event.terminal)) {
                    deliveries += 1
                } else if subscriber.queue.end == .overflow {
                    overflowed.append(id)
                }
            }
        }
        Counter(label: "herald_deliveries_total").increment(by: deliveries)
        for id in Set(overflowed) {
            logger.notice("slow subscriber disconnected; it resumes by id", metadata: ["subscriber": "\(id)"])
            Counter(label: "herald_subscribers_dropped_total").increment()
            remove(id)
        }
    }

    /// Queues a keepalive comment on every stream.
    func keepalive() {
        for (_, subscriber) in subscribers.withLock({ Array($0) }) { subscriber.queue.push(.keepalive) }
    }

    /// Ends every stream (graceful shutdown); clients reconnect with Last-Event-ID.
    func finishAll() {
        let all = subscribers.withLock { subscribers in
            closed.store(true, ordering: .sequentiallyConsistent)
            defer { subscribers.removeAll() }
            return Array(subscribers.values)
        }
        for subscriber in all { subscriber.queue.finish(.shutdown) }
    }
}
