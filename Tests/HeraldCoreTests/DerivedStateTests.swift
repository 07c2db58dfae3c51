import Testing
@testable import HeraldCore

@Suite struct AlertRuleTests {
    @Test func hysteresisRaisesOnceAndClearsOnce() {
        let rule = AlertRule(name: "hot", channel: "sensors", above: 30, clearBelow: 29)
        var active = false
        var raised = 0, cleared = 0
        for value in [25, 30, 30.5, 31, 29.5, 30.2, 29, 28.9, 28, 31, 32, 28.5, 29.5] as [Double] {
            switch rule.transition(value: value, active: active) {
            case .raise?: raised += 1; active = true
            case .clear?: cleared += 1; active = false
            case nil: break
            }
        }
        #expect(raised == 2)
        #expect(cleared == 2)
    }

    @Test func belowThresholdsMirrorAbove() {
        let rule = AlertRule(name: "cold", channel: "sensors", below: 5, clearAbove: 6)
        #expect(rule.transition(value: 4, active: false) == .raise(threshold: 5))
        #expect(rule.transition(value: 5.5, active: true) == nil)
        #expect(rule.transition(value: 6.5, active: true) == .clear(threshold: 6))
    }

    @Test func invalidThresholdsAreExplained() {
        #expect(AlertRule(name: "x", channel: "c").problem != nil)
        #expect(AlertRule(name: "x", channel: "c", above: 30, clearBelow: 31).problem != nil)
        #expect(AlertRule(name: "x", channel: "c", above: 30, clearBelow: 29).problem == nil)
    }

    @Test func rulesAreReadFromConfigWithLineNumbers() throws {
        let config = try ConfigLoader.parse("""
            alert_rules:
              - { name: greenhouse-hot, channel: sensors, key: greenhouse/temp, field: value, above: 30, clear_below: 29, severity: warning }
            """)
        #expect(config.alertRules == [AlertRule(name: "greenhouse-hot", channel: "sensors", key: "greenhouse/temp",
                                                above: 30, clearBelow: 29, severity: .warning)])
        do {
            _ = try ConfigLoader.parse("""
                alert_rules:
                  - { name: a, channel: sensors, above: 30, clear_below: 31 }
                  - { name: b, channel: sensors, severity: loud, above: 1 }
                """)
            Issue.record("expected errors")
        } catch {
            #expect(error.problems.map(\.line) == [2, 3])
        }
    }
}

@Suite struct JobTrackerTests {
    func draft(_ data: String, at seconds: Int64) -> EventDraft {
        EventDraft(channel: "jobs", type: "progress", key: "backup-1", time: seconds * 1000, data: data)
    }

    @Test func rateAndEtaFollowProgress() throws {
        var job = try #require(JobTracker.update(nil, with: draft(#"{"state":"running","progress":0,"done":0,"total":100}"#, at: 100)))
        #expect(job.startedAt == 100_000 && job.rate == nil && job.etaSeconds == nil)
        job = try #require(JobTracker.update(job, with: draft(#"{"state":"running","done":10,"total":100}"#, at: 110)))
        #expect(job.rate == 1)           // 10 units in 10 s
        #expect(job.etaSeconds == 90)    // 90 units left
        #expect(job.progress == 10)
        job = try #require(JobTracker.update(job, with: draft(#"{"state":"running","done":30,"total":100}"#, at: 120)))
        #expect(abs(job.rate! - (0.3 * 2 + 0.7 * 1)) < 1e-9)   // smoothed
        job = try #require(JobTracker.update(job, with: draft(#"{"state":"succeeded","done":100,"total":100}"#, at: 150)))
        #expect(job.isTerminal && job.etaSeconds == 0 && job.startedAt == 100_000)
        // Reporting again after the end starts a new run.
        let again = try #require(JobTracker.update(job, with: draft(#"{"state":"queued"}"#, at: 200)))
        #expect(again.startedAt == 200_000 && !again.isTerminal)
    }

    @Test func notAJobUpdate() {
        #expect(JobTracker.update(nil, with: draft(#"{"state":"exploded"}"#, at: 1)) == nil)
        #expect(JobTracker.update(nil, with: draft(#""text""#, at: 1)) == nil)
    }

    @Test func enrichmentAppendsMembers() {
        var job = JobRecord(channel: "jobs", key: "k", state: "running", startedAt: 0, updatedAt: 1000)
        job.rate = 0.5
        job.etaSeconds = 12.34
        #expect(JobTracker.enrich(#"{"state":"running"}"#, with: job)
                == #"{"state":"running","started_at":"1970-01-01T00:00:00.000Z","updated_at":"1970-01-01T00:00:01.000Z","rate":0.5,"eta_seconds":12.3}"#)
    }
}

@Suite struct StaleWatcherTests {
    @Test func silentKeysGoStaleOnceAndFreshWhenTheySpeak() throws {
        var route = RouteConfig(topic: try Selector("sensors/+/+"), channel: "sensors", key: "{1}/{2}")
        route.staleAfter = 120
        let watcher = StaleWatcher(routes: [route], now: { 0 })
        func reading(_ id: Int64, _ key: String, at seconds: Int64) -> StoredEvent {
            StoredEvent(id: id, draft: EventDraft(channel: "sensors", type: "reading", key: key, time: seconds * 1000, data: "1"))
        }
        watcher.observe([reading(1, "a/temp", at: 0), reading(2, "b/temp", at: 60)])
        #expect(watcher.check(at: 100_000).isEmpty)
        let first = watcher.check(at: 130_000)
        #expect(first.map(\.key) == ["a/temp"] && first.map(\.type) == ["stale"])
        #expect(watcher.check(at: 140_000).isEmpty, "stale is announced once")
        #expect(watcher.check(at: 200_000).map(\.key) == ["b/temp"])
        watcher.observe([reading(3, "a/temp", at: 210)])
        #expect(watcher.check(at: 220_000).isEmpty)
        // The `fresh` event is queued for the service; a later silence makes it stale again.
        #expect(watcher.takeFresh().map(\.type) == ["fresh"])
        #expect(watcher.check(at: 331_000).map(\.key) == ["a/temp"])
    }

    /// On PostgreSQL a standby observes every commit but checks nothing. It follows the holder's
    /// `stale` and `fresh` events, so when it takes over it neither repeats a `fresh` the holder
    /// stored nor misses one the holder died before storing.
    @Test func aStandbyFollowsTheHoldersStaleAndFreshEvents() throws {
        var route = RouteConfig(topic: try Selector("sensors/+/+"), channel: "sensors", key: "{1}/{2}")
        route.staleAfter = 120
        let holder = StaleWatcher(routes: [route], now: { 0 })
        let standby = StaleWatcher(routes: [route], now: { 0 })
        var next: Int64 = 1
        func commit(_ drafts: [EventDraft]) {
            let events = drafts.map { draft in defer { next += 1 }; return StoredEvent(id: next, draft: draft) }
            for watcher in [holder, standby] { watcher.observe(events) }
        }
        func reading(at seconds: Int64) -> EventDraft {
            EventDraft(channel: "sensors", type: "reading", key: "a/temp", time: seconds * 1000, data: "1")
        }
        commit([reading(at: 0)])
        commit(holder.check(at: 130_000))
        commit([reading(at: 200)])
        // Both queued a fresh; the holder stores its own, and the standby drops the one it queued.
        commit(holder.takeFresh())
        #expect(standby.takeFresh().isEmpty, "the holder's fresh was observed")
        #expect(standby.check(at: 250_000).isEmpty)
        // Stale again; the holder dies before the next fresh is stored: the standby has it queued.
        commit(holder.check(at: 330_000))
        commit([reading(at: 400)])
        #expect(standby.takeFresh().map(\.type) == ["fresh"])
        #expect(standby.check(at: 450_000).isEmpty, "nothing stale twice")
    }

    /// A `stale` that could not be stored is due again; a node that first hears of a key from
    /// its `stale` event takes the time it was last seen from the event, not the event's time.
    @Test func anUnstoredStaleIsDueAgainAndAStaleEventSaysWhenTheKeyWasLastSeen() throws {
        var route = RouteConfig(topic: try Selector("sensors/+/+"), channel: "sensors", key: "{1}/{2}")
        route.staleAfter = 120
        let watcher = StaleWatcher(routes: [route], now: { 0 })
        watcher.observe([StoredEvent(id: 1, draft: EventDraft(channel: "sensors", type: "reading", key: "a/temp", time: 0, data: "1"))])
        let due = watcher.check(at: 130_000)
        watcher.retract(due)
        #expect(watcher.check(at: 131_000).map(\.type) == ["stale"])

        let late = StaleWatcher(routes: [route], now: { 0 })
        late.observe([StoredEvent(id: 2, draft: due[0])])
        late.observe([StoredEvent(id: 3, draft: EventDraft(channel: "sensors", type: "reading", key: "a/temp", time: 200_000, data: "2"))])
        #expect(late.takeFresh().map(\.data) == [#"{"silent_seconds":200}"#], "silent since the reading at 0, not since the stale event")
    }
}
