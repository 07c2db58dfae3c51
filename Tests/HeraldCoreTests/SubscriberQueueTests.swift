import Synchronization
import Testing
@testable import HeraldCore

/// The bounded queue between the hub and one stream, and how a stream learns that it ended: a
/// waiting task, or (for a stream handed over to its event loop) a callback that runs once.
@Suite struct SubscriberQueueTests {
    private func frame(_ id: Int64) -> Delivery {
        .event(EventFrame(StoredEvent(id: id, draft: EventDraft(channel: "c", time: 0, data: "{}"))))
    }

    /// Counts the end callback's runs and what it was told.
    private final class Ends: Sendable {
        let seen = Mutex<[SubscriberQueue.End]>([])
        func record(_ end: SubscriberQueue.End) { seen.withLock { $0.append(end) } }
        var all: [SubscriberQueue.End] { seen.withLock { $0 } }
    }

    @Test func aFullQueueEndsAsOverflowAndTellsItsCallbackOnce() {
        let queue = SubscriberQueue(capacity: 2)
        let ends = Ends()
        queue.whenEnded(ends.record)
        #expect(queue.push(frame(1)) == .queued)
        #expect(queue.push(frame(2)) == .queued)
        #expect(ends.all.isEmpty)
        #expect(queue.push(frame(3)) == .ended)
        #expect(queue.push(frame(4)) == .ended)
        queue.finish(.shutdown)  // an end after the end changes nothing
        #expect(queue.end == .overflow)
        #expect(ends.all == [.overflow])
    }

    @Test func aCallbackForAnEndedQueueRunsAtOnce() {
        let queue = SubscriberQueue(capacity: 4)
        queue.finish(.completed)
        let ends = Ends()
        queue.whenEnded(ends.record)
        #expect(ends.all == [.completed])
    }

    /// A cancelled waiter is woken before any end; the callback must wait for the real one.
    @Test func aCancelledWaiterDoesNotRunTheCallback() async {
        let queue = SubscriberQueue(capacity: 4)
        let ends = Ends()
        queue.whenEnded(ends.record)
        let waiter = Task { await queue.waitUntilEnded() }
        waiter.cancel()
        await waiter.value
        #expect(ends.all.isEmpty)
        queue.finish(.shutdown)
        #expect(ends.all == [.shutdown])
    }

    @Test func aDirectQueueHandsOverWhatWaitedAndTakesNoMore() {
        let queue = SubscriberQueue(capacity: 4)
        queue.push(frame(1))
        queue.push(.keepalive)
        let waiting = queue.goDirect()
        #expect(waiting?.count == 2)
        // Turned away, and not as a delivery: the loop's fan-out delivers it and counts it.
        #expect(queue.push(frame(2)) == .direct)
        #expect(queue.goDirect()?.isEmpty == true)
        queue.finish(.shutdown)
        #expect(queue.goDirect() == nil)
    }
}
