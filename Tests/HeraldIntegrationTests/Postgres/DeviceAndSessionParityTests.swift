@testable import HeraldCore
import Testing

/// Devices, sources' memory and sessions answer alike on SQLite and on PostgreSQL: the built-in
/// sources read the same feeds (payloads shaped as each project's documentation shows them), their
/// events and device effects go to both stores, and every question is asked of both.
@Suite(.serialized) struct DeviceAndSessionParityTests {
    /// Zigbee2MQTT's `bridge/devices` (zigbee2mqtt.io, "MQTT topics and messages"), one sensor.
    private static let bridgeDevices = """
        [{"friendly_name":"Coordinator","ieee_address":"0x00124b00120144ae","type":"Coordinator","supported":true},
         {"definition":{"description":"Temperature and humidity sensor","model":"WSDCGQ11LM","vendor":"Aqara","exposes":[
             {"access":1,"label":"Temperature","name":"temperature","property":"temperature","type":"numeric","unit":"°C"},
             {"access":1,"label":"Humidity","name":"humidity","property":"humidity","type":"numeric","unit":"%"},
             {"access":1,"category":"diagnostic","label":"Battery","name":"battery","property":"battery","type":"numeric","unit":"%"}]},
          "friendly_name":"living_room/climate","ieee_address":"0x0017880104e45522","type":"EndDevice","supported":true}]
        """
    /// An ESPHome node's discovery config (esphome.io, "MQTT discovery"), with abbreviated keys.
    private static let esphomeTemperature = """
        {"dev_cla":"temperature","unit_of_meas":"°C","stat_cla":"measurement","name":"Living Room Temperature",
         "stat_t":"livingroom/sensor/living_room_temperature/state","avty_t":"livingroom/status",
         "uniq_id":"ESPsensorliving_room_temperature","dev":{"ids":"a4cf12ab34cd","name":"livingroom","sw":"esphome v2024.10.0",
         "mdl":"esp32dev","mf":"espressif"}}
        """

    /// The messages, in the order a broker would deliver them after a subscribe.
    private static let feed: [(topic: String, payload: String)] = [
        ("zigbee2mqtt/bridge/devices", bridgeDevices),
        ("zigbee2mqtt/living_room/climate/availability", #"{"state":"online"}"#),
        ("zigbee2mqtt/living_room/climate", #"{"battery":97,"humidity":44.7,"temperature":21.4}"#),
        ("zigbee2mqtt/living_room/climate", #"{"battery":96,"humidity":45.1,"temperature":21.9}"#),
        ("homeassistant/sensor/livingroom/living_room_temperature/config", esphomeTemperature),
        ("livingroom/status", "online"),
        ("livingroom/sensor/living_room_temperature/state", "21.5"),
        ("livingroom/status", "offline"),
    ]

    @Test func devicesAndSourceMemoryAnswerAlikeOnBothBackends() async throws {
        let server = try await PostgresServer()
        let node = try PostgresNode(url: try await server.makeDatabase())
        try await node.waitUntilReady()
        try await withSQLiteLog { sqlite in
            let sources = SourcesConfig().makeSourceSet()
            for (index, message) in Self.feed.enumerated() {
                let time = 1_700_000_000_000 + Int64(index) * 1_000
                let outcome = try #require(sources.interpret(SourceMessage(topic: message.topic, payload: Array(message.payload.utf8),
                                                                           retain: false), time: time), "a source takes \(message.topic)")
                #expect(outcome.problem == nil, "\(message.topic): \(outcome.problem ?? "")")
                let onPostgres = try await node.log.append(outcome.drafts, dedupe: nil, effects: outcome.effects)
                let onSQLite = try await sqlite.submitOffThePool(AppendItem(drafts: outcome.drafts, dedupe: nil, effects: outcome.effects))
                #expect(onPostgres == onSQLite, "\(message.topic) stored alike")
            }
            let both: [any DeviceStore] = [sqlite, node.log]
            let devices = try await expectAlike(both, "devices") { try await $0.devices() }
            #expect(devices.map(\.description.id) == ["homeassistant/livingroom", "zigbee2mqtt/living_room/climate"])
            let climate = try #require(devices.last)
            #expect(climate.availability == .online && climate.readings["temperature"]?.value == "21.9")
            #expect(climate.readings["temperature"]?.spec.unit == "°C")
            #expect(devices.first?.availability == .offline)
            try await expectAlike(both, "device(id:)") { try await $0.device(id: "zigbee2mqtt/living_room/climate") }
            try await expectAlike(both, "an unknown device") { try await $0.device(id: "zigbee2mqtt/nowhere") }
            let states = try await expectAlike(both, "deviceStates") { try await $0.deviceStates() }
            #expect(states.allSatisfy { $0.readings.isEmpty })
            let memory = try await expectAlike(both, "sourceMemories") {
                try await $0.sourceMemories(["homeassistant", "zigbee2mqtt", "tasmota"])
            }
            #expect(memory["homeassistant"]?["homeassistant/sensor/livingroom/living_room_temperature/config"] == Self.esphomeTemperature)
            #expect(memory["tasmota"] == [:])

            // The temperature went stale for a while, as the stale watcher would record it.
            let temperature = "zigbee2mqtt/living_room/climate/temperature"
            let staleness = [EventDraft(channel: "sensors", type: "stale", key: temperature, time: 1_700_000_002_500, data: #"{"stale":true}"#),
                             EventDraft(channel: "sensors", type: "fresh", key: temperature, time: 1_700_000_002_800, data: #"{"stale":false}"#)]
            #expect(try await node.log.append(staleness).map(\.id) == (try await sqlite.append(staleness)).map(\.id))
            let series: [any SeriesStore] = [sqlite, node.log]
            for (key, field) in [(temperature, "value"), ("homeassistant/livingroom/living_room_temperature", "value"),
                                 ("zigbee2mqtt/living_room/climate/humidity", "unit"), ("zigbee2mqtt/nowhere", "value")] {
                for points in [1, 3, 100] {
                    let query = SeriesQuery(channel: "sensors", key: key, field: field, from: 1_700_000_000_000, to: 1_700_000_010_000, points: points)
                    try await expectAlike(series, "series of \(key).\(field) in \(points) points") { try await $0.series(query) }
                }
            }
            let whole = SeriesQuery(channel: "sensors", key: temperature, from: 1_700_000_000_000, to: 1_700_000_010_000, points: 1)
            let temperatures = try await node.log.series(whole)
            #expect(temperatures.buckets.first?.count == 2 && temperatures.unit == "°C")
            #expect(temperatures.gaps.map(\.reason) == [.stale])
            let esphome = try await node.log.series(SeriesQuery(channel: "sensors", key: "homeassistant/livingroom/living_room_temperature",
                                                                from: 1_700_000_000_000, to: 1_700_000_010_000, points: 10))
            #expect(esphome.gaps.map(\.reason) == [.offline], "the node went offline at the end")
            for filter in [EventFilter(selectors: .all), EventFilter(selectors: SelectorSet([try Selector("sensors")]))] {
                try await expectAlike(series, "the full snapshot of \(filter.selectors)") { try await $0.fullSnapshot(matching: filter).json }
            }

            // A restarted source remembers its discovery config from either store alike.
            let restored = SourcesConfig().makeSourceSet()
            try await restored.restore(from: node.log)
            #expect(restored.extraTopics.contains("livingroom/sensor/living_room_temperature/state"))
        }
        await node.stop()
        await server.stop()
    }

    @Test func sessionsAnswerAlikeOnBothBackends() async throws {
        let server = try await PostgresServer()
        let node = try PostgresNode(url: try await server.makeDatabase())
        try await node.waitUntilReady()
        try await withSQLiteLog { sqlite in
            let both: [any SessionStore] = [sqlite, node.log]
            let now = Clock.nowMilliseconds()
            for store in both {
                try await store.createSession(idHash: "live-a", tokenDigest: "token-a", expiresAt: now + 3_600_000)
                try await store.createSession(idHash: "live-b", tokenDigest: "token-b", expiresAt: now + 3_600_000)
                try await store.createSession(idHash: "old", tokenDigest: "token-a", expiresAt: now - 1)
                // Signing in again with the same cookie hash replaces the session.
                try await store.createSession(idHash: "live-b", tokenDigest: "token-c", expiresAt: now + 7_200_000)
            }
            for id in ["live-a", "live-b", "old", "never"] {
                try await expectAlike(both, "the token of \(id)") { try await $0.sessionTokenDigest(idHash: id, now: now) }
            }
            #expect(try await node.log.sessionTokenDigest(idHash: "live-b", now: now) == "token-c")
            #expect(try await node.log.sessionTokenDigest(idHash: "live-b", now: now + 7_200_001) == nil)
            for store in both { try await store.deleteSession(idHash: "live-a") }
            try await expectAlike(both, "a signed-out session") { try await $0.sessionTokenDigest(idHash: "live-a", now: now) }
            try await expectAlike(both, "sessions ended with their token") { try await $0.deleteSessions(exceptFor: ["token-a"]) }
            try await expectAlike(both, "a session of a removed token") { try await $0.sessionTokenDigest(idHash: "live-b", now: now) }
            #expect(try await node.log.deleteSessions(exceptFor: []) == 0)
        }
        await node.stop()
        await server.stop()
    }
}
