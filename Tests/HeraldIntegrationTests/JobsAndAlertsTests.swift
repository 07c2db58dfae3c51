import Foundation
import HeraldCore
import Testing

/// Jobs, alerts, snapshot and retention against a real Herald process (DESIGN §6).
@Suite struct JobsAndAlertsTests {
    static let rules = """
        alert_rules:
          - { name: greenhouse-hot, channel: sensors, key: greenhouse/temp, field: value, above: 30, clear_below: 29, severity: warning }
        """

    @Test func aJobStreamEndsAfterItsLastEventAndItsReconnectGets204() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir)
        _ = try await herald.publish("jobs", #"{"key":"backup-1","data":{"state":"running","progress":10,"done":4,"total":40}}"#)
        let reader = Task {
            try await herald.stream("/sse?channel=jobs&key=backup-1&replay=10") { _ in false }
        }
        // Updates less than a second apart are not used for the rate.
        try await Task.sleep(for: .milliseconds(1100))
        _ = try await herald.publish("jobs", #"{"key":"backup-1","data":{"state":"running","progress":50,"done":20,"total":40}}"#)
        _ = try await herald.publish("jobs", #"{"key":"backup-2","data":{"state":"running","progress":1}}"#)
        let last = try await herald.publish("jobs", #"{"key":"backup-1","data":{"state":"succeeded","progress":100,"done":40,"total":40}}"#)
        // The stream ends by itself (no read timeout) right after the terminal event.
        let events = try await reader.value
        #expect(events.map(\.id).last == String(last))
        #expect(events.count == 3)
        let running = try Envelope(json: events[1].data)
        #expect(running.data.contains("\"eta_seconds\":"), "\(running.data)")

        let reconnect = try await herald.get("/sse?channel=jobs&key=backup-1", headers: [("Last-Event-ID", "\(last)")])
        #expect(reconnect.status == 204)
        let fromStart = try await herald.stream("/sse?channel=jobs&key=backup-1", lastEventId: "0") { _ in false }
        #expect(fromStart.count == 3, "a replay from the start also ends at the terminal event")

        let jobs = try await herald.get("/api/jobs").body
        #expect(jobs.range(of: "\"key\":\"backup-2\"")!.lowerBound < jobs.range(of: "\"key\":\"backup-1\"")!.lowerBound,
                "unfinished jobs first: \(jobs)")
        let one = try await herald.get("/api/jobs/backup-1")
        #expect(one.status == 200 && one.body.contains("\"state\":\"succeeded\"") && one.body.contains("\"terminal\":true"))
        #expect(try await herald.get("/api/jobs/nope").status == 404)
    }

    @Test func thresholdCrossingsRaiseAndClearExactlyOnceAndCanBeAcknowledged() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir, config: Self.rules)
        func reading(_ value: Double) async throws {
            _ = try await herald.publish("sensors", #"{"type":"reading","key":"greenhouse/temp","data":{"value":\#(value)}}"#)
        }
        for value in [25, 30, 30.5, 31, 29.5, 30.2, 29, 28.9] { try await reading(value) }
        var alerts = try await herald.allEvents(channel: "alerts")
        #expect(alerts.map(\.type) == ["raised", "cleared"])
        try await reading(31)
        #expect(try await herald.get("/api/alerts").body.contains("\"id\":\"greenhouse-hot:greenhouse/temp\""))

        // Rule state survives a restart: still above the threshold, no second `raised`.
        try await herald.restart()
        try await reading(32)
        alerts = try await herald.allEvents(channel: "alerts")
        #expect(alerts.map(\.type) == ["raised", "cleared", "raised"])
        #expect(alerts.last?.data.contains("\"threshold\":30") == true)
        #expect(alerts.last?.data.contains("\"value\":31") == true)

        let ack = try await herald.post("/api/alerts/greenhouse-hot:greenhouse%2Ftemp/ack", "")
        #expect(ack.status == 200, "\(ack.body)")
        #expect(try await herald.allEvents(channel: "alerts").last?.type == "acked")
        #expect(try await herald.get("/api/alerts").body.contains("\"ackedAt\":\"20"))
        #expect(try await herald.post("/api/alerts/nope/ack", "").status == 404)
    }

    @Test func snapshotPlusStreamFromItsCursorMissesNothingWhilePublishersRun() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir)
        let total = 600
        let publishers = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for p in 0..<3 {
                    group.addTask {
                        for n in 0..<(total / 3) {
                            _ = try await herald.publish("snap", #"{"key":"k\#(n % 7)","data":{"p":\#(p),"n":\#(n)}}"#)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        try await eventually("some events") { try await herald.allEvents(channel: "snap").count > 50 }
        let snapshot = try await herald.get("/api/snapshot?channel=snap").body
        let cursor = try #require(Envelope.int(snapshot, "lastEventId"))
        let latest = try Envelope.list(snapshot, "events")
        #expect(Set(latest.compactMap(\.key)).count == latest.count, "one event per key")
        #expect(snapshot.contains("\"jobs\":[") && snapshot.contains("\"alerts\":["))
        let stored = Task { () throws -> [SSEParser.Event] in
            try await publishers.value
            let remaining = try await herald.allEvents(channel: "snap").filter { $0.id > cursor }.count
            return try await herald.stream("/sse?channel=snap", lastEventId: "\(cursor)") { $0.count >= remaining }
        }
        let streamed = try await stored.value.map { Int64($0.id)! }
        let expected = try await herald.allEvents(channel: "snap").map(\.id).filter { $0 > cursor }
        #expect(streamed == expected)
    }

    @Test func retentionKeepsTheLatestPerKeyAndFinishedJobs() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir, config: "store: { retention: { max_events: 3, interval_seconds: 0.2 } }")
        _ = try await herald.publish("jobs", #"{"key":"old","data":{"state":"succeeded","progress":100}}"#)
        for n in 0..<10 { _ = try await herald.publish("jobs", #"{"key":"j\#(n)","data":{"state":"running","progress":\#(n)}}"#) }
        for n in 0..<10 { _ = try await herald.publish("jobs", #"{"key":"j\#(n)","data":{"state":"running","progress":\#(n + 10)}}"#) }
        try await eventually("pruning") { try await herald.allEvents(channel: "jobs").count == 11 }
        let kept = try await herald.allEvents(channel: "jobs")
        #expect(Set(kept.compactMap(\.key)) == Set(["old"] + (0..<10).map { "j\($0)" }))
        #expect(kept.filter { $0.key != "old" }.allSatisfy { $0.data.contains("\"progress\":1") })
    }

    @Test func silentSensorsGoStaleAndFresh() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir, config: """
            routes:
              - { topic: "sensors/+/+", channel: sensors, type: reading, key: "{1}/{2}", stale_after: 1s }
            """)
        _ = try await herald.publish("sensors", #"{"type":"reading","key":"a/temp","data":{"value":1}}"#)
        try await eventually("stale", seconds: 30) { try await herald.allEvents(channel: "sensors").contains { $0.type == "stale" } }
        _ = try await herald.publish("sensors", #"{"type":"reading","key":"a/temp","data":{"value":2}}"#)
        try await eventually("fresh", seconds: 30) { try await herald.allEvents(channel: "sensors").contains { $0.type == "fresh" } }
        let types = try await herald.allEvents(channel: "sensors").map(\.type)
        #expect(types.prefix(4) == ["reading", "stale", "reading", "fresh"])
    }
}
