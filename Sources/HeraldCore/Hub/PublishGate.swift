import Synchronization

/// Hands committed events on in id order when they reach a node by two ways: its own appends
/// and other nodes' commits, read back from PostgreSQL (`PostgresEventFeed`). Each way offers a
/// batch that says which range of ids it covers; the gate passes on only what is new and only
/// when nothing before it is missing, so a subscriber never sees id n after id m > n.
public final class PublishGate: Sendable {
    /// Every committed event with an id in (after, through], in id order. Ids in the range with
    /// no event were never committed (a failed transaction's).
    public struct Batch: Sendable {
        public var after: Int64
        public var events: [StoredEvent]
        public var through: Int64

        public init(after: Int64, events: [StoredEvent], through: Int64) {
            self.after = after
            self.events = events
            self.through = through
        }
    }

    private let published: Mutex<Int64>
    private let deliver: @Sendable ([StoredEvent]) -> Void

    /// `startingAfter`: the head when the node started; older events are read from the log.
    /// `deliver` runs under the gate's lock, so it must only hand the events on (`Hub.publish`).
    public init(startingAfter: Int64, deliver: @escaping @Sendable ([StoredEvent]) -> Void) {
        published = Mutex(startingAfter)
        self.deliver = deliver
    }

    /// The highest id handed on: everything at or below it has been.
    public var publishedThrough: Int64 { published.withLock { $0 } }

    /// Moves past `head` without handing anything on: where a node starts, once it knows the head.
    public func begin(after head: Int64) {
        published.withLock { $0 = max($0, head) }
    }

    /// Hands on the events of `batch` not handed on yet. Returns false, handing on nothing, when
    /// the batch begins after the last id handed on: what lies between is committed but not read
    /// yet, and the feed brings it together with this batch.
    @discardableResult
    public func offer(_ batch: Batch) -> Bool {
        published.withLock { last in
            guard batch.after <= last else { return false }
            guard batch.through > last else { return true }
            let fresh = batch.events.drop { $0.id <= last }
            if !fresh.isEmpty { deliver(Array(fresh)) }
            last = batch.through
            return true
        }
    }
}
