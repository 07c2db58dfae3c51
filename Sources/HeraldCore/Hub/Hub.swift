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
        /// The hash of the cookie session the stream was opened with: signing out ends it.
        let session: String?
        /// On the direct lane: its loop's fan-out delivers to it, so the hub's groups leave it out.
        var direct = false
    }

    /// Subscribers with the same filter (every dashboard on the same selection, say): a fan-out
    /// matches each event once per group, not once per subscriber.
    struct Group: Sendable {
        let filter: EventFilter
        var members: [UInt64: Subscriber]
    }

    /// Every subscriber by id, and the ones the hub delivers to (not on the direct lane) by filter.
    /// Both change in place on subscribe and remove; a fan-out takes `groups` as it is (a copy
    /// costs a retain; the next change after it copies one group at most).
    private struct Registry {
        var byID: [UInt64: Subscriber] = [:]
        var groups: [String: Group] = [:]

        mutating func add(_ subscriber: Subscriber) {
            byID[subscriber.id] = subscriber
            guard !subscriber.direct else { return }
            groups[subscriber.filter.identity, default: Group(filter: subscriber.filter, members: [:])]
                .members[subscriber.id] = subscriber
        }

        mutating func remove(_ id: UInt64) -> Subscriber? {
            guard let subscriber = byID.removeValue(forKey: id) else { return nil }
            leaveGroup(subscriber)
            return subscriber
        }

        /// The subscriber takes its events from its loop's fan-out from now on.
        mutating func markDirect(_ id: UInt64) {
            guard let subscriber = byID[id], !subscriber.direct else { return }
            byID[id]?.direct = true
            leaveGroup(subscriber)
        }

        private mutating func leaveGroup(_ subscriber: Subscriber) {
            let identity = subscriber.filter.identity
            guard groups[identity]?.members.removeValue(forKey: subscriber.id) != nil else { return }
            if groups[identity]?.members.isEmpty == true { groups[identity] = nil }
        }
    }

    private let subscribers = Mutex(Registry())
    private let fanout = DispatchQueue(label: "herald-fanout", qos: .userInitiated)
    /// The event loops' fan-outs for direct-lane streams (`LoopFanout`).
    let loopFanouts = LoopFanouts()
    /// Commits waiting for fan-out; when this many wait, the writer waits too (back-pressure).
    private let fanoutSlots = DispatchSemaphore(value: 256)
    /// Set by `finishAll`: a stream that starts during shutdown ends at once.
    private let closed = Atomic<Bool>(false)
    private let nextID = Atomic<UInt64>(1)
    let queueCapacity: Int
    /// The newest frames, for reconnects a few events behind (`RecentFrames`).
    let recent: RecentFrames
    /// The longest an event loop's fan-out pauses between drains (`server.coalesce_ms`, `DrainPacer`).
    let coalescing: TimeAmount
    let logger: Logger

    public init(queueCapacity: Int = 1_024, coalescing: TimeAmount = .zero, logger: Logger) {
        self.queueCapacity = queueCapacity
        self.recent = RecentFrames()
        self.coalescing = coalescing
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

        /// The fan-outs a stream on the direct lane joins (`LiveStream`).
        var fanouts: LoopFanouts { hub.loopFanouts }

        /// Cut off for falling too far behind: logged and counted, then removed.
        func dropSlow() { hub.dropSlow(id) }

        /// The stream now takes its events from its loop's fan-out (`LiveStream`).
        func wentDirect() { hub.markDirect(id) }
    }

    func subscribe(_ filter: EventFilter, session: String? = nil) -> Subscription {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let queue = SubscriberQueue(capacity: queueCapacity)
        let count = subscribers.withLock { registry in
            if closed.load(ordering: .sequentiallyConsistent) {
                queue.finish(.shutdown)
            } else {
                registry.add(Subscriber(id: id, filter: filter, queue: queue, session: session))
            }
            return registry.byID.count
        }
        HubMetrics.clients.record(count)
        return Subscription(id: id, queue: queue, hub: self)
    }

    func markDirect(_ id: UInt64) {
        subscribers.withLock { $0.markDirect(id) }
    }

    /// A subscriber that fell too far behind: cut off (it resumes by id), logged and counted.
    func dropSlow(_ id: UInt64) {
        logger.notice("slow subscriber disconnected; it resumes by id", metadata: ["subscriber": "\(id)"])
        HubMetrics.dropped.increment()
        remove(id)
    }

    func remove(_ id: UInt64) {
        let (removed, count) = subscribers.withLock { registry in (registry.remove(id), registry.byID.count) }
        removed?.queue.finish(.shutdown)
        HubMetrics.clients.record(count)
    }

    /// Ends every stream opened with the cookie session `session` (signed out); on either lane
    /// a stream whose queue ends ends its response. Returns how many there were.
    @discardableResult
    func endStreams(ofSession session: String) -> Int {
        let ids = subscribers.withLock { $0.byID.values.filter { $0.session == session }.map(\.id) }
        for id in ids { remove(id) }
        return ids.count
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

    /// Offers each event to the queues of the streams it matches, then posts the batch to the
    /// loops whose direct-lane streams match for themselves (`LoopFanout`). In that order: a
    /// stream moving to the direct lane relies on it (see `LiveStream.handOver`).
    private func deliver(_ events: [StoredEvent]) {
        let frames = events.map(EventFrame.init)
        // Into the ring before the subscribers are read: a stream subscribes, then reads the
        // ring; whichever side of this line it subscribed on, it finds these frames in its queue
        // or in the ring (or both, and its cursor skips the second copy).
        recent.append(frames)
        let groups = subscribers.withLock { $0.groups }
        var overflowed: [UInt64] = []
        var deliveries = 0
        for frame in frames {
            let delivery = Delivery.event(frame)
            for group in groups.values where group.filter.matches(channel: frame.channel, key: frame.key) {
                for member in group.members.values {
                    switch member.queue.push(delivery) {
                    case .queued: deliveries += 1
                    case .direct: break  // moving to its loop, whose fan-out delivers and counts it
                    case .ended: if member.queue.end == .overflow { overflowed.append(member.id) }
                    }
                }
            }
        }
        for fanout in loopFanouts.active() { fanout.post(frames, coalescing: coalescing) }
        if deliveries > 0 { HubMetrics.deliveries.increment(by: deliveries) }
        for id in Set(overflowed) { dropSlow(id) }
    }

    /// Queues a keepalive comment on every stream.
    func keepalive() {
        for subscriber in subscribers.withLock({ Array($0.byID.values) }) where !subscriber.direct {
            subscriber.queue.push(.keepalive)
        }
        for fanout in loopFanouts.active() { fanout.postKeepalive(coalescing: coalescing) }
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

/// Made once: a metric looked up by label costs a lock and a hash per fan-out.
enum HubMetrics {
    static let deliveries = Counter(label: "herald_deliveries_total")
    static let dropped = Counter(label: "herald_subscribers_dropped_total")
    static let clients = Gauge(label: "herald_sse_clients")
}
