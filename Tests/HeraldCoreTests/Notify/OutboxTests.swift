import GRDB
import Testing
@testable import HeraldCore

/// The outbox row is written by the writer in the transaction that stores the alert.
@Suite struct OutboxTests {
    static let rule = AlertRule(name: "hot", channel: "sensors", key: "t", above: 30, clearBelow: 29)

    func options(_ options: inout EventLog.Options) {
        options.semantics = EventSemantics(routes: RouteConfig.defaults, rules: [Self.rule])
        var ops = NotifyTarget(name: "ops", kind: .ntfy(url: "https://ntfy.example.com/t", token: nil))
        ops.filter.transitions = [.raised]
        let all = NotifyTarget(name: "all", kind: .ntfy(url: "https://ntfy.example.com/u", token: nil))
        options.notify = NotifyRouting(targets: [ops, all], semantics: options.semantics)
    }

    /// The first row of each lane: what the target sends next.
    func heads(_ log: EventLog, _ target: String) async throws -> [OutboxItem] {
        try await log.outboxPage(target: target, now: Clock.nowMilliseconds(), perLane: 1).compactMap(\.first)
    }

    @Test func anAlertOwesEachTargetThatTakesItInTheSameCommit() async throws {
        try await withEventLog("outbox", options: options) { log in
            _ = try await log.append([EventDraft(channel: "sensors", type: "reading", key: "t", data: #"{"value":31}"#)])
            _ = try await log.append([EventDraft(channel: "sensors", type: "reading", key: "t", data: #"{"value":28}"#)])
            let alerts = try await log.events(after: 0, matching: EventFilter(selectors: SelectorSet([try Selector("alerts")])), limit: 10).events
            #expect(alerts.map(\.type) == ["raised", "cleared"])
            let ops = try await heads(log, "ops")
            #expect(ops.map(\.eventId) == [alerts[0].id])
            #expect(ops.first?.envelope == alerts[0].envelope)
            #expect(ops.first?.subject == "alerts/hot:t")
            // One lane: the head is the raised alert; the cleared one waits behind it.
            let all = try await heads(log, "all")
            #expect(all.map(\.eventId) == [alerts[0].id])
            try await log.outboxDelivered(all[0], at: Clock.nowMilliseconds())
            #expect(try await heads(log, "all").map(\.eventId) == [alerts[1].id])
            #expect(try await log.lastSent(target: "all", subject: "alerts/hot:t") != nil)
            let summaries = try await log.outboxSummaries()
            #expect(summaries["ops"]?.owed == 1 && summaries["all"]?.owed == 1)
        }
    }

    @Test func theEnvelopeReadsBackAsTheEventItWas() throws {
        let event = StoredEvent(id: 42, draft: EventDraft(channel: "alerts", type: "raised", key: "hot:t", time: 1_764_000_000_123,
                                                          data: #"{"a":[1,2],"b":"c"}"#, source: #"{"rule":"hot"}"#))
        #expect(StoredEvent(envelope: event.envelope) == event)
    }

    @Test func aRateLimitFoldsTheChangesOfItsWindowIntoTheLatest() async throws {
        try await withEventLog("outbox-fold", options: options) { log in
            for value in [31, 28, 31, 28] {
                _ = try await log.append([EventDraft(channel: "sensors", type: "reading", key: "t", data: "{\"value\":\(value)}")])
            }
            let head = try #require(try await heads(log, "all").first)
            let (latest, folded) = try await log.outboxLatest(of: head)
            #expect(folded == 3)
            #expect(StoredEvent(envelope: latest.envelope)?.type == "cleared")
            try await log.outboxDelivered(latest, at: Clock.nowMilliseconds())
            #expect(try await log.outboxSummaries()["all"] == nil)
        }
    }
}
