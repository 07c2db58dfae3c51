import Foundation
import Logging
import Testing
@testable import HeraldCore

/// `offline_for` rules: a device offline that long raises one alert, its return clears it.
@Suite struct OfflineWatcherTests {
    let rule = AlertRule(name: "door-offline", channel: "sensors", key: "zigbee2mqtt/front_door", offlineFor: 600)

    func availability(_ state: String, at time: Int64) -> AppendItem {
        let device = DeviceDescription(id: "zigbee2mqtt/front_door", name: "front_door", source: "zigbee2mqtt", channel: "sensors")
        return AppendItem(drafts: [EventDraft(channel: "sensors", type: "availability", key: device.id, time: time,
                                              data: "{\"availability\":\"\(state)\"}")],
                          effects: [.describe(device), .availability(deviceId: device.id, state == "online" ? .online : .offline)])
    }

    @Test func aDeviceOfflineTooLongRaisesOnceAndItsReturnClears() async throws {
        let watcher = OfflineWatcher(rules: [rule], now: { 0 })
        try await withEventLog("offline", options: { $0.semantics = EventSemantics(routes: RouteConfig.defaults, rules: [rule]) },
                               onCommit: { watcher.observe($0) }) { log in
            let start: Int64 = 1_000_000
            _ = await log.submitOffThePool([availability("offline", at: start)])
            #expect(watcher.check(at: start + 599_000).isEmpty)
            let due = watcher.check(at: start + 600_000)
            #expect(due.map(\.type) == ["offline"] && due.map(\.key) == ["zigbee2mqtt/front_door"])
            #expect(due.first?.data.contains(#""offline_seconds":600"#) == true)
            _ = try await log.append(due)
            #expect(try await log.alerts().map(\.id) == ["door-offline:zigbee2mqtt/front_door"])
            #expect(try await log.alerts().first?.message == "zigbee2mqtt/front_door has been offline for 10 min")
            // Once a spell: no second `offline` event, no second alert.
            #expect(watcher.check(at: start + 900_000).isEmpty)
            _ = await log.submitOffThePool([availability("online", at: start + 950_000)])
            #expect(try await log.alerts().isEmpty)
            #expect(try await log.alerts(all: true).first?.state == "cleared")
            // A short spell raises nothing.
            _ = await log.submitOffThePool([availability("offline", at: start + 1_000_000)])
            _ = await log.submitOffThePool([availability("online", at: start + 1_100_000)])
            #expect(watcher.check(at: start + 2_000_000).isEmpty)
        }
    }

    /// On PostgreSQL a standby observes every commit but checks nothing; when it takes over, a
    /// threshold the holder reported (its `offline` event observed) is not reported again.
    @Test func aStandbyThatTakesOverDoesNotReportWhatTheHolderReported() {
        let holder = OfflineWatcher(rules: [rule], now: { 0 })
        let standby = OfflineWatcher(rules: [rule], now: { 0 })
        let start: Int64 = 1_000_000
        var next: Int64 = 1
        func commit(_ drafts: [EventDraft]) {
            let events = drafts.map { draft in defer { next += 1 }; return StoredEvent(id: next, draft: draft) }
            for watcher in [holder, standby] { watcher.observe(events) }
        }
        commit(availability("offline", at: start).drafts)
        let due = holder.check(at: start + 600_000)
        #expect(due.map(\.type) == ["offline"])
        commit(due)
        #expect(standby.check(at: start + 700_000).isEmpty, "the holder's offline event was observed: nothing more is due")
        // Back online just as a late `offline` of the ended spell commits: no spell starts again.
        let late = OfflineWatcher(rules: [rule, AlertRule(name: "door-gone", channel: "sensors", key: "zigbee2mqtt/front_door", offlineFor: 3600)],
                                  now: { 0 })
        let back = availability("online", at: start + 800_000).drafts.map { StoredEvent(id: 90, draft: $0) }
        late.observe(back + [StoredEvent(id: 91, draft: due[0])])
        #expect(late.check(at: start + 4_000_000).isEmpty, "the device is online: no hour offline either")
    }

    /// After a restart (or a takeover on PostgreSQL by a node that started since), the watcher
    /// starts from the store: a threshold its last `offline` event reported is not reported again;
    /// one whose `offline` event could not be stored is due again at the next check.
    @Test func aRestartKeepsWhatWasReportedAndAnUnstoredReportIsDueAgain() async throws {
        let rules = [rule, AlertRule(name: "door-gone", channel: "sensors", key: "zigbee2mqtt/front_door", offlineFor: 3600)]
        let first = OfflineWatcher(rules: rules, now: { 0 })
        let start: Int64 = 1_000_000
        try await withEventLog("offline-restart", options: { $0.semantics = EventSemantics(routes: RouteConfig.defaults, rules: rules) },
                               onCommit: { first.observe($0) }) { log in
            _ = await log.submitOffThePool([availability("offline", at: start)])
            let due = first.check(at: start + 600_000)
            first.retract(due)  // as if the append had failed
            let again = first.check(at: start + 601_000)
            #expect(again.map(\.type) == ["offline"], "due again after a failed append")
            _ = try await log.append(again)
            let restarted = OfflineWatcher(rules: rules, now: { 0 })
            try await restarted.seed(from: log)
            #expect(restarted.check(at: start + 700_000).isEmpty, "the 10 min threshold was reported before the restart")
            #expect(restarted.check(at: start + 3_600_000).map(\.type) == ["offline"], "the hour's threshold is still to come")
        }
    }

    @Test func offlineRulesAreReadFromConfig() throws {
        let config = try ConfigLoader.parse("""
            sources: { channel: devices }
            alert_rules:
              - { name: door-offline, device: zigbee2mqtt/front_door, offline_for: 10m, severity: critical }
              - { name: any-offline, offline_for: 1h }
            """)
        #expect(config.alertRules.map(\.channel) == ["devices", "devices"])
        #expect(config.alertRules.map(\.offlineFor) == [600, 3600])
        #expect(config.alertRules[0].key == "zigbee2mqtt/front_door")
        #expect(throws: ConfigError.self) { try ConfigLoader.parse("alert_rules: [{ name: x, offline_for: 10m, above: 3 }]") }
        #expect(throws: ConfigError.self) { try ConfigLoader.parse("alert_rules: [{ name: x, offline_for: soon }]") }
    }
}
