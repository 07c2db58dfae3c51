import Dispatch
import Logging
import Metrics
import NIOCore
import Synchronization

/// Fans committed events out to live subscribers. Called by the event log's writer only, after
/// each commit; the fan-out itself runs on one serial queue of its own, in commit order, so every
/// subscriber sees events in id order and the writer (and so every publisher, the MQTT thread
/// included) never waits for it. Each event is encoded once and the same bytes go to every
/// subscriber.
public final class Hub: Sendable {
    struct Subscriber: Sendable {
        let id: UInt64
        let filter: EventFilter
        let queue: SubscriberQueue
    }

    private struct Registry {
        var byID: [UInt64: Subscriber] = [:]
        /// What a fan-out walks: kept up to date on subscribe, rebuilt after a removal (nil).
        var list: [Subscriber]? = []
    }

    private let subscribers = Mutex(Registry())
    private let fanout = DispatchQueue(label: "herald-fanout", qos: .userInitiated)
    /// Commits waiting for fan-out; when this many wait, the writer waits too (back-pressure).
    private let fanoutSlots = DispatchSemaphore(value: 256)
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
        let count = subscribers.withLock { registry in
            if closed.load(ordering: .sequentiallyConsistent) {
                queue.finish(.shutdown)
            } else {
                let subscriber = Subscriber(id: id, filter: filter, queue: queue)
                registry.byID[id] = subscriber
                registry.list?.append(subscriber)
            }
            return registry.byID.count
        }
        Gauge(label: "herald_sse_clients").record(count)
        return Subscription(id: id, queue: queue, hub: self)
    }

    func remove(_ id: UInt64) {
        let (removed, count) = subscribers.withLock { registry in
            let removed = registry.byID.removeValue(forKey: id)
            if removed != nil { registry.list = nil }
            return (removed, registry.byID.count)
        }
        removed?.queue.finish(.shutdown)
        Gauge(label: "herald_sse_clients").record(count)
    }

    public var subscriberCount: Int { subscribers.withLock { $0.byID.count } }

    /// Live subscribers whose selectors take this channel.
    public func subscriberCount(channel: String) -> Int {
        subscribers.withLock { $0.byID.values.count { $0.filter.matches(channel: channel) } }
    }

    /// Hands committed events to the fan-out queue and returns; waits only while 256 commits are
    /// still waiting for fan-out.
    public func publish(_ events: [StoredEvent]) {
        fanoutSlots.wait()
        fanout.async { [self] in
            defer { fanoutSlots.signal() }
            deliver(events)
        }
    }

    private func deliver(_ events: [StoredEvent]) {
        let current = subscribers.withLock { registry in
            if registry.list == nil { registry.list = Array(registry.byID.values) }
            return registry.list!
        }
        guard !current.isEmpty else { return }
        var overflowed: [UInt64] = []
        var deliveries = 0
        for event in events {
            var delivery: Delivery?
            for subscriber in current where subscriber.filter.matches(event) {
                if delivery == nil {
                    let frame = ByteBuffer(string: SSEEncoder.frame(for: event))
                    delivery = .event(id: event.id, bytes: frame, chunk: HTTPChunk.framed(frame), terminal: event.terminal)
                }
                if subscriber.queue.push(delivery!) {
                    deliveries += 1
                } else if subscriber.queue.end == .overflow {
                    overflowed.append(subscriber.id)
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
        for subscriber in subscribers.withLock({ Array($0.byID.values) }) { subscriber.queue.push(.keepalive) }
    }

    /// Ends every stream (graceful shutdown); clients reconnect with Last-Event-ID.
    func finishAll() {
        let all = subscribers.withLock { registry in
            closed.store(true, ordering: .sequentiallyConsistent)
            defer { registry = Registry() }
            return Array(registry.byID.values)
        }
        for subscriber in all { subscriber.queue.finish(.shutdown) }
    }
}
