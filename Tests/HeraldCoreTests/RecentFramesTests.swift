import Logging
import Testing
@testable import HeraldCore

/// The hub's ring of recent frames, which answers a Last-Event-ID a few events behind without
/// reading the log: what it covers, what it forgets, and that subscribe-then-read misses nothing.
@Suite struct RecentFramesTests {
    private func frames(_ ids: ClosedRange<Int64>, channel: String = "c", data: String = "{}") -> [EventFrame] {
        ids.map { EventFrame(StoredEvent(id: $0, draft: EventDraft(channel: channel, time: 0, data: data))) }
    }

    private let all = EventFilter(selectors: SelectorSet([try! Selector("#")]))

    @Test func answersOnlyFromItsOldestIdToItsNewest() throws {
        let ring = RecentFrames(capacity: 10)
        #expect(ring.after(0, matching: all) == nil, "an empty ring answers nothing")
        ring.append(frames(5...9))
        #expect(ring.after(4, matching: all) == nil, "below the oldest frame the log answers")
        #expect(ring.after(10, matching: all) == nil, "past the newest (not published yet) the log answers")
        let fromFive = try #require(ring.after(5, matching: all))
        #expect(fromFive.head == 9)
        #expect(fromFive.frames.map(\.id) == [6, 7, 8, 9])
        let atHead = try #require(ring.after(9, matching: all))
        #expect(atHead.head == 9 && atHead.frames.isEmpty)
    }

    @Test func keepsAtMostItsCountAndItsBytes() throws {
        let ring = RecentFrames(capacity: 3)
        ring.append(frames(1...5))
        #expect(ring.after(2, matching: all) == nil)
        #expect(try #require(ring.after(3, matching: all)).frames.map(\.id) == [4, 5])

        let big = frames(1...10, data: "\"\(String(repeating: "x", count: 400))\"")
        let byBytes = RecentFrames(capacity: 100, maxBytes: 2 * big[0].bytes.readableBytes + 10)
        byBytes.append(big)
        let kept = try #require(byBytes.after(9, matching: all))
        #expect(kept.frames.map(\.id) == [10])
        #expect(byBytes.after(8, matching: all) == nil, "two frames fit in the bytes allowed")
    }

    @Test func retentionMakesItForgetWhatTheLogDeleted() throws {
        let ring = RecentFrames(capacity: 10)
        ring.append(frames(1...6))
        ring.forget(through: 3)
        #expect(ring.after(1, matching: all) == nil, "a resume below the pruned id is the log's to reset")
        #expect(try #require(ring.after(4, matching: all)).frames.map(\.id) == [5, 6])
    }

    @Test func theFilterPicksChannelsAndKeys() throws {
        let ring = RecentFrames(capacity: 10)
        ring.append(frames(1...2, channel: "a") + frames(3...4, channel: "b"))
        let onlyB = EventFilter(selectors: SelectorSet([try Selector("b")]))
        #expect(try #require(ring.after(1, matching: onlyB)).frames.map(\.id) == [3, 4])
        #expect(try #require(ring.after(1, matching: onlyB)).head == 4, "the head is the ring's, matching or not")
    }

    /// The hub's order of work: a frame goes into the ring before the subscribers are read, so a
    /// stream that subscribes and then reads the ring finds every later event in one or the other,
    /// however its subscribe and read fall between the hub's commits. Each round resumes while a
    /// burst is being published.
    @Test func aSubscriberThatReadsTheRingAfterSubscribingMissesNothingWhileTheHubPublishes() async throws {
        let hub = Hub(queueCapacity: 100_000, logger: Logger(label: "test"))
        let perRound: Int64 = 100, rounds: Int64 = 30
        let publish = { @Sendable (ids: ClosedRange<Int64>) in
            for id in ids { hub.publish([StoredEvent(id: id, draft: EventDraft(channel: "c", time: 0, data: "{}"))]) }
        }
        publish(1...10)
        try await eventually("the hub to publish the first 10 events") { hub.recent.newestId == 10 }
        var resumed: [(lastId: Int64, history: [Int64], subscription: Hub.Subscription)] = []
        for round in 0..<rounds {
            let first = 11 + round * perRound
            let burst = Task.detached { publish(first...first + perRound - 1) }
            let subscription = hub.subscribe(all)
            let lastId = try #require(hub.recent.newestId) - 5
            let (head, history) = try #require(hub.recent.after(lastId, matching: all))
            #expect(history.map(\.id) == Array(lastId + 1...head), "the ring holds every id up to its head")
            resumed.append((lastId, history.map(\.id), subscription))
            await burst.value
        }
        let last = 10 + rounds * perRound
        publish(last + 1...last + 1)
        // The fan-out is serial: once the ring has the extra event, every queue has the ones before.
        try await eventually("the fan-out to reach the extra event") { hub.recent.newestId == last + 1 }
        for (lastId, history, subscription) in resumed {
            let queued = (subscription.queue.goDirect() ?? []).compactMap { delivery -> Int64? in
                if case .event(let frame) = delivery { frame.id } else { nil }
            }
            var seen = history
            for id in queued where id > (seen.last ?? lastId) { seen.append(id) }
            #expect(seen == Array(lastId + 1...last + 1), "every event after \(lastId) once, in order")
            subscription.close()
        }
    }
}
