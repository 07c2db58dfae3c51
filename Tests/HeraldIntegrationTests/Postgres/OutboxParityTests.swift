@testable import HeraldCore
import Testing

/// The notification outbox and the Web Push subscriptions answer alike on SQLite and on
/// PostgreSQL: the same alerts owe the same rows (per target, per subscription lane), and every
/// step a delivery service takes (a rate limit's fold, a retry, a hold, a delivery, a dead
/// letter, a subscription gone) leaves both stores in the same state.
@Suite(.serialized) struct OutboxParityTests {
    static let rule = AlertRule(name: "hot", channel: "sensors", key: "t", above: 30, clearBelow: 29)

    static var semantics: EventSemantics { EventSemantics(routes: RouteConfig.defaults, rules: [rule]) }

    static var routing: NotifyRouting {
        var ops = NotifyTarget(name: "ops", kind: .ntfy(url: "https://ntfy.example.com/ops", token: nil))
        ops.filter.transitions = [.raised]
        let all = NotifyTarget(name: "all", kind: .webhook(url: "https://hooks.example.com/all", secret: []))
        let browsers = NotifyTarget(name: "browsers", kind: .webpush(subject: "mailto:ops@example.com"))
        return NotifyRouting(targets: [ops, all, browsers], semantics: semantics)
    }

    /// A row as both stores must agree on it: everything but the times each store stamped.
    struct Row: Equatable, CustomStringConvertible {
        var seq: Int64, target: String, lane: String, eventId: Int64, subject: String, envelope: String
        var attempts: Int, lastError: String?

        init(_ item: OutboxItem) {
            (seq, target, lane, eventId, subject, envelope) = (item.seq, item.target, item.lane, item.eventId, item.subject, item.envelope)
            (attempts, lastError) = (item.attempts, item.lastError)
        }

        var description: String { "\(seq):\(target)/\(lane.isEmpty ? "-" : lane)#\(eventId)×\(attempts)" }
    }

    static func page(_ store: any NotifyStore, _ target: String, now: Int64) async throws -> [[Row]] {
        try await store.outboxPage(target: target, now: now, perLane: 10).map { $0.map(Row.init) }
    }

    static func reading(_ value: Int, at second: Int64) -> EventDraft {
        EventDraft(channel: "sensors", type: "reading", key: "t", time: 1_700_000_000_000 + second * 1_000, data: "{\"value\":\(value)}")
    }

    @Test func theOutboxAndPushSubscriptionsAnswerAlikeOnBothBackends() async throws {
        let server = try await PostgresServer()
        let node = try PostgresNode(url: try await server.makeDatabase(), semantics: Self.semantics, notify: Self.routing)
        try await node.waitUntilReady()
        try await withSQLiteLog(semantics: Self.semantics, notify: Self.routing) { sqlite in
            let both: [any NotifyStore] = [sqlite, node.log]
            // Two browsers subscribe; a third is refused by the limit; one sends its subscription again.
            for endpoint in ["https://push.example.com/a", "https://push.example.com/b"] {
                let saved = try await expectAlike(both, "saving \(endpoint)") {
                    try await $0.savePushSubscription(endpoint: endpoint, json: "{\"endpoint\":\"\(endpoint)\"}", limit: 2)
                }
                #expect(saved == .created)
            }
            #expect(try await expectAlike(both, "a third beyond the limit") {
                try await $0.savePushSubscription(endpoint: "https://push.example.com/c", json: "{}", limit: 2)
            } == .full)
            #expect(try await expectAlike(both, "a subscription sent again") {
                try await $0.savePushSubscription(endpoint: "https://push.example.com/a", json: "{\"endpoint\":\"again\"}", limit: 2)
            } == .replaced)
            try await expectAlike(both, "a subscription read back") { try await $0.pushSubscription(endpoint: "https://push.example.com/a") }
            #expect(try await expectAlike(both, "subscriptions") { try await $0.pushSubscriptionEndpoints() }.count == 2)

            // Hot, cool, hot, cool, and a reading that owes nothing.
            for (second, value) in [31, 28, 31, 28, 20].enumerated() {
                try await expectAlike(both, "reading \(value) stored") { try await $0.append([Self.reading(value, at: Int64(second))]) }
            }
            let now = Clock.nowMilliseconds()
            let ops = try await expectAlike(both, "what ops owes") { try await Self.page($0, "ops", now: now) }
            #expect(ops.map { $0.map(\.eventId) } == [[2, 6]], "ops takes raised alerts only, in one lane")
            let all = try await expectAlike(both, "what all owes") { try await Self.page($0, "all", now: now) }
            #expect(all.first?.count == 4)
            let browsers = try await expectAlike(both, "what the browsers are owed") { try await Self.page($0, "browsers", now: now) }
            #expect(browsers.map { $0.first?.lane } == ["https://push.example.com/a", "https://push.example.com/b"], "a lane each, oldest first")

            // A rate limit folds all's four changes into the latest, and delivers that one.
            let head = try await sqlite.outboxPage(target: "all", now: now, perLane: 1)[0][0]
            let fold = try await expectAlike(both, "the fold") { store in
                let (latest, folded) = try await store.outboxLatest(of: head)
                return "\(Row(latest)) folding \(folded)"
            }
            #expect(fold.hasSuffix("#8×0 folding 3"), "the latest change (the last cleared alert) stands for the three before it")
            let latestItem = try await sqlite.outboxLatest(of: head).0
            for store in both { try await store.outboxDelivered(latestItem, at: 1_700_000_100_000) }
            #expect(try await expectAlike(both, "all after its delivery") { try await Self.page($0, "all", now: now) }.isEmpty)
            #expect(try await expectAlike(both, "when the alert went to all") { try await $0.lastSent(target: "all", subject: "alerts/hot:t") }
                    == 1_700_000_100_000)

            // ops's first row fails and waits for its retry; its second is held by a rate limit.
            let first = try await sqlite.outboxPage(target: "ops", now: now, perLane: 2)[0]
            for store in both {
                try await store.outboxReschedule(first[0], nextAt: now + 60_000, error: "HTTP 503: busy")
                try await store.outboxReschedule(first[1], nextAt: now + 30_000, error: nil)
            }
            let retrying = try await expectAlike(both, "ops after a failure and a hold") { try await Self.page($0, "ops", now: now) }
            #expect(retrying.map { $0.map(\.attempts) } == [[1]], "the held row is left out until due")
            #expect(try await expectAlike(both, "when the held row comes due") { try await $0.outboxNextHeld(target: "ops", now: now) }
                    == now + 30_000)
            let summaries = try await expectAlike(both, "the summaries") { store in
                try await store.outboxSummaries().mapValues { "\($0.owed) \($0.lastError ?? "-")" }
            }
            #expect(summaries == ["ops": "2 HTTP 503: busy", "browsers": "8 -"])

            // A browser's subscription goes, with what its lane was owed.
            #expect(try await expectAlike(both, "removing a") { try await $0.deletePushSubscription(endpoint: "https://push.example.com/a") })
            #expect(try await expectAlike(both, "removing a again") { try await $0.deletePushSubscription(endpoint: "https://push.example.com/a") } == false)
            try await expectAlike(both, "the browsers after a goes") { try await Self.page($0, "browsers", now: now) }

            // The configuration no longer names browsers: its rows are orphans, given up one by one.
            let orphans = try await expectAlike(both, "orphans") { try await $0.outboxOrphans(keeping: ["ops", "all"]).map(Row.init) }
            #expect(orphans.count == 4 && orphans.allSatisfy { $0.target == "browsers" })
            for item in try await sqlite.outboxOrphans(keeping: ["ops", "all"]) {
                for store in both { try await store.outboxRemove(item) }
            }
            try await expectAlike(both, "the summaries at the end") { try await $0.outboxSummaries().mapValues(\.owed) }

            // A kept value is made once: later makers get the first one.
            #expect(try await expectAlike(both, "a kept value") { try await $0.keptValue("vapid_private_key") { "first" } } == "first")
            #expect(try await expectAlike(both, "a kept value again") { try await $0.keptValue("vapid_private_key") { "second" } } == "first")
        }
        await node.stop()
        await server.stop()
    }
}
