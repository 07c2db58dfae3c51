import Testing
@testable import HeraldCore

@Suite struct RetentionTests {
    /// `pruned_through` is the highest id deleted on any channel: channels are pruned one after
    /// another, and one pruned later with lower ids must not lower it (SQLite's max() ranks text
    /// above every integer, so the stored text value once always won), or a resume from between
    /// the two would continue "exactly" over deleted events.
    @Test func aResumeFromBelowAnyPrunedIdIsResetWhateverOrderChannelsArePrunedIn() async throws {
        try await withEventLog("retention-order") { log in
            // "b/late" sorts after "a/early" but holds the lower ids, so it is pruned last.
            _ = try await log.append((0..<10).map { EventDraft(channel: "b/late", key: "k", time: 1_000, data: "{\"n\":\($0)}") })
            _ = try await log.append((0..<10).map { EventDraft(channel: "a/early", key: "k", time: 1_000, data: "{\"n\":\($0)}") })
            let policy = EventLog.RetentionPolicy(maxEventsPerChannel: 2, maxAgeMilliseconds: nil)
            #expect(try await log.prune(policy, now: 2_000, batch: 100) == 16)
            let all = EventFilter(selectors: .all)
            // a/early held ids 11…20 and keeps 19 and 20; b/late, pruned after it, deleted up to 8.
            guard case .reset(.evicted, _) = try await log.resume(after: 12, matching: all, limit: 10).status else {
                Issue.record("a resume after id 12, below deleted id 18, is reset as evicted")
                return
            }
            #expect(try await log.resume(after: 18, matching: all, limit: 10).status == .exact)
        }
    }
}
