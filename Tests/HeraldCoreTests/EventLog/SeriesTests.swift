import Foundation
import GRDB
import Testing
@testable import HeraldCore

/// `EventLog.series`: buckets that hold every reading once, and the gaps of a device offline or
/// a reading stale.
@Suite struct SeriesTests {
    let device = DeviceDescription(id: "zigbee2mqtt/hall/climate", name: "hall/climate", source: "zigbee2mqtt", channel: "sensors")
    let key = "zigbee2mqtt/hall/climate/temperature"
    let start: Int64 = 1_764_000_000_000

    func reading(_ value: Double, at time: Int64) -> EventDraft {
        EventDraft(channel: "sensors", type: "reading", key: key, time: time, data: "{\"value\":\(value),\"unit\":\"°C\"}")
    }

    func availability(_ state: Availability, at time: Int64) -> AppendItem {
        AppendItem(drafts: [EventDraft(channel: "sensors", type: "availability", key: device.id, time: time,
                                       data: "{\"availability\":\"\(state.rawValue)\"}")],
                   effects: [.describe(device), .availability(deviceId: device.id, state)])
    }

    @Test func everyReadingOfTheRangeFallsInExactlyOneBucketInTimeOrder() async throws {
        try await withEventLog("series") { log in
            // One reading every 10 s for an hour, values 0…359, then one just outside each end.
            _ = try await log.append([reading(-100, at: start - 1)] + (0..<360).map { reading(Double($0), at: start + Int64($0) * 10_000) }
                                     + [reading(1000, at: start + 3_600_000)])
            let series = try await log.series(SeriesQuery(channel: "sensors", key: key, from: start, to: start + 3_600_000, points: 6))
            #expect(series.buckets.map(\.start) == (0..<6).map { start + Int64($0) * 600_000 })
            #expect(series.buckets.map(\.count) == Array(repeating: 60, count: 6))
            #expect(series.buckets.map(\.min) == [0, 60, 120, 180, 240, 300])
            #expect(series.buckets.map(\.max) == [59, 119, 179, 239, 299, 359])
            #expect(series.buckets.map(\.average) == [29.5, 89.5, 149.5, 209.5, 269.5, 329.5])
            #expect(series.unit == "°C")
            #expect(series.gaps.isEmpty)
        }
    }

    @Test func textAndOtherKeysAreLeftOut() async throws {
        try await withEventLog("series-text") { log in
            _ = try await log.append([
                reading(1, at: start),
                EventDraft(channel: "sensors", type: "reading", key: key, time: start + 1, data: #"{"value":"on"}"#),
                EventDraft(channel: "sensors", type: "reading", key: key + "x", time: start + 2, data: #"{"value":5}"#),
                EventDraft(channel: "other", type: "reading", key: key, time: start + 3, data: #"{"value":7}"#),
            ])
            let series = try await log.series(SeriesQuery(channel: "sensors", key: key, from: start, to: start + 1000, points: 1))
            #expect(series.buckets == [Series.Bucket(start: start, min: 1, max: 1, average: 1, count: 1)])
        }
    }

    @Test func anOfflineSpellAndAStaleSpellAreGapsClippedToTheRange() async throws {
        try await withEventLog("series-gaps") { log in
            _ = await log.submitOffThePool([availability(.offline, at: start - 60_000)])   // offline when the range starts
            _ = await log.submitOffThePool([availability(.online, at: start + 100_000)])
            _ = try await log.append([reading(20, at: start + 110_000)])
            _ = try await log.append([EventDraft(channel: "sensors", type: "stale", key: key, time: start + 200_000, data: "{}")])
            _ = try await log.append([EventDraft(channel: "sensors", type: "fresh", key: key, time: start + 300_000, data: "{}")])
            _ = await log.submitOffThePool([availability(.offline, at: start + 500_000)])   // still offline at the end
            let series = try await log.series(SeriesQuery(channel: "sensors", key: key, from: start, to: start + 600_000, points: 10))
            #expect(series.gaps == [
                Series.Gap(from: start, to: start + 100_000, reason: .offline),
                Series.Gap(from: start + 200_000, to: start + 300_000, reason: .stale),
                Series.Gap(from: start + 500_000, to: start + 600_000, reason: .offline),
            ])
        }
    }

    @Test func theRangeIsReadThroughAnIndex() async throws {
        try await withEventLog("series-plan") { log in
            let plans = try await log.pool.read { db in
                try ["SELECT time FROM events WHERE channel = 'a' AND key = 'b' AND time >= 0 AND time < 10 AND type NOT IN ('stale', 'fresh')",
                     "SELECT type FROM events WHERE channel = 'a' AND key = 'b' AND time < 5 AND \(EventLog.stateChangeTypes) AND type IN ('stale') ORDER BY time DESC LIMIT 1"]
                    .map { try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + $0).map { $0["detail"] as String }.joined(separator: "; ") }
            }
            #expect(plans[0].contains("USING INDEX events_by_channel_key_time"), "\(plans[0])")
            #expect(plans[1].contains("USING INDEX events_state_changes"), "\(plans[1])")
        }
    }
}
