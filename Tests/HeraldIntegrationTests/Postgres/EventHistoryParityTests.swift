import HeraldCore
import Testing

/// The reads a stream makes (`EventHistory`) answer alike on SQLite and on PostgreSQL: the same
/// events appended to both logs, then every read asked of both for filters of every kind.
@Suite(.serialized) struct EventHistoryParityTests {
    private static let start: Int64 = 1_700_000_000_000

    /// Channels with and without keys, Herald's own `$status`, and a job that ends.
    private static var drafts: [EventDraft] {
        var drafts: [EventDraft] = []
        for n in 0..<30 {
            let time = start + Int64(n) * 1_000
            drafts.append(EventDraft(channel: "sensors/\(["a", "b", "c"][n % 3])", key: n % 2 == 0 ? "k\(n % 4)" : nil,
                                     time: time, data: "{\"n\":\(n)}"))
            if n % 7 == 0 { drafts.append(EventDraft(channel: "$status", type: "mqtt", time: time, data: "{\"up\":\(n % 2 == 0)}")) }
            if n % 5 == 0 {
                let state = n == 25 ? "succeeded" : "running"
                drafts.append(EventDraft(channel: "jobs", type: "progress", key: "backup-1", time: time,
                                         data: "{\"state\":\"\(state)\",\"done\":\(n * 4),\"total\":100}"))
            }
        }
        return drafts
    }

    private static var semantics: EventSemantics {
        var semantics = EventSemantics()
        semantics.jobChannels = ["jobs"]
        return semantics
    }

    private static func filters() throws -> [EventFilter] {
        [EventFilter(selectors: .all),
         EventFilter(selectors: SelectorSet([try Selector("sensors/+")])),
         EventFilter(selectors: SelectorSet([try Selector("sensors/a"), try Selector("jobs")])),
         EventFilter(selectors: SelectorSet([try Selector("sensors/#")]), key: "k2"),
         EventFilter(selectors: SelectorSet([try Selector("$status")])),
         EventFilter(selectors: SelectorSet([try Selector("jobs")]), key: "backup-1"),
         EventFilter(selectors: SelectorSet([try Selector("nowhere/+")]))]
    }

    @Test func everyReadAStreamMakesAnswersAlikeOnBothBackends() async throws {
        let server = try await PostgresServer()
        let node = try PostgresNode(url: try await server.makeDatabase(), semantics: Self.semantics)
        try await node.waitUntilReady()
        try await withSQLiteLog(semantics: Self.semantics) { sqlite in
            // In batches of different sizes, as group commit would make them.
            var rest = Self.drafts[...]
            for size in [1, 5, 2, 20, 100] where !rest.isEmpty {
                let batch = Array(rest.prefix(size))
                rest = rest.dropFirst(size)
                #expect(try await node.log.append(batch).map(\.id) == (try await sqlite.append(batch)).map(\.id))
            }
            let both: [any EventHistory] = [sqlite, node.log]
            try await expectAlike(both, "headId") { try await $0.headId() }
            try await expectAlike(both, "channelStats") { try await $0.channelStats() }
            for filter in try Self.filters() {
                let name = "\(filter.selectors) key \(filter.key ?? "-")"
                for after: Int64 in [0, 3, 17, 40, 41, 500] {
                    for limit in [1, 4, 100] {
                        try await expectAlike(both, "events(after: \(after), limit: \(limit)) of \(name)") {
                            Answer(try await $0.events(after: after, matching: filter, limit: limit))
                        }
                        try await expectAlike(both, "resume(after: \(after), limit: \(limit)) of \(name)") {
                            let (status, page) = try await $0.resume(after: after, matching: filter, limit: limit)
                            return ResumeAnswer(status: status, page: page.map(Answer.init))
                        }
                    }
                }
                for count in [0, 1, 3, 1_000] {
                    try await expectAlike(both, "recentEvents(count: \(count)) of \(name)") {
                        Answer(try await $0.recentEvents(matching: filter, count: count))
                    }
                    try await expectAlike(both, "recentStart(count: \(count)) of \(name)") {
                        try await $0.recentStart(matching: filter, count: count)
                    }
                }
                try await expectAlike(both, "snapshot of \(name)") {
                    let (head, events) = try await $0.snapshot(matching: filter)
                    return Answer((head, events))
                }
                try await expectAlike(both, "terminalEventId of \(name)") { try await $0.terminalEventId(matching: filter) }
            }
            // The job ended, so a stream of it has an end to stop at.
            let job = EventFilter(selectors: SelectorSet([try Selector("jobs")]), key: "backup-1")
            #expect(try await node.log.terminalEventId(matching: job) != nil)
        }
        await node.stop()
        await server.stop()
    }

    /// Retention deletes the same events on both stores (by count, by age, never a key's latest,
    /// a recent terminal job event or alert), and a resume from below what it deleted is reset.
    @Test func retentionPrunesAlikeAndResetsAResumeFromBelowIt() async throws {
        let server = try await PostgresServer()
        let node = try PostgresNode(url: try await server.makeDatabase(), semantics: Self.semantics)
        try await node.waitUntilReady()
        try await withSQLiteLog(semantics: Self.semantics) { sqlite in
            var drafts = Self.drafts
            let now = Self.start + 10 * 86_400_000
            // Alerts: one old, one recent, which stays past the count limit.
            drafts.append(EventDraft(channel: "alerts", type: "alert", key: "hot", time: Self.start, data: #"{"state":"raised"}"#))
            drafts.append(EventDraft(channel: "alerts", type: "alert", key: "hot", time: now - 1_000, data: #"{"state":"cleared"}"#))
            for n in 0..<40 {
                drafts.append(EventDraft(channel: "sensors/a", key: "k\(n % 3)", time: now - Int64(40 - n) * 60_000, data: "{\"m\":\(n)}"))
            }
            #expect(try await node.log.append(drafts).map(\.id) == (try await sqlite.append(drafts)).map(\.id))
            let both: [any EventRetention & EventHistory] = [sqlite, node.log]
            let policy = EventLog.RetentionPolicy(maxEventsPerChannel: 8, maxAgeMilliseconds: 86_400_000,
                                                  keepTerminalMilliseconds: 86_400_000)
            let deleted = try await expectAlike(both, "events pruned") { try await $0.prune(policy, now: now, batch: 7) }
            #expect(deleted > 0)
            try await expectAlike(both, "channels after pruning") { try await $0.channelStats() }
            let everything = EventFilter(selectors: SelectorSet([try Selector("#"), try Selector("$status")]))
            let kept = try await expectAlike(both, "events kept") {
                try await $0.events(after: 0, matching: everything, limit: 1_000).events.map(\.id)
            }
            let keptKeys = Set(try await node.log.events(after: 0, matching: everything, limit: 1_000).events.map { "\($0.channel) \($0.key ?? "")" })
            #expect(keptKeys.count == Set(drafts.map { "\($0.channel) \($0.key ?? "")" }).count, "every key keeps its latest event")
            // Nothing more to delete under the same policy.
            try await expectAlike(both, "a second pruning") { try await $0.prune(policy, now: now, batch: 7) }
            for after: Int64 in [0, kept[kept.count / 2], kept.last!] {
                try await expectAlike(both, "resume(after: \(after)) after pruning") {
                    let (status, page) = try await $0.resume(after: after, matching: everything, limit: 1_000)
                    return ResumeAnswer(status: status, page: page.map(Answer.init))
                }
            }
            guard case .reset(.evicted, _) = try await node.log.resume(after: 0, matching: everything, limit: 10).status else {
                Issue.record("a resume from before the pruned events is reset as evicted")
                return
            }
        }
        await node.stop()
        await server.stop()
    }

    /// A page as a comparable value (pages are tuples).
    private struct Answer: Equatable {
        var head: Int64
        var events: [StoredEvent]
        init(_ page: (head: Int64, events: [StoredEvent])) { (head, events) = page }
    }

    private struct ResumeAnswer: Equatable {
        var status: ResumeStatus
        var page: Answer?
    }
}
