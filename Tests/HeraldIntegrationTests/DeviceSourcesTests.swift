import Foundation
import HeraldCore
import Testing

/// The built-in sources against a real mosquitto, on Herald's defaults (DESIGN §5a): no routes
/// or sources configured.
@Suite struct DeviceSourcesTests {
    static func start(_ dir: TempDir) async throws -> (MosquittoBroker, HeraldInstance) {
        let broker = try await MosquittoBroker(dir: dir)
        let herald = try await startHerald(dir, broker)
        return (broker, herald)
    }

    static func startHerald(_ dir: TempDir, _ broker: MosquittoBroker) async throws -> HeraldInstance {
        let herald = try await HeraldInstance(dir: dir, config: "mqtt: { client_id: herald-devices, keepalive_seconds: 5 }\n", mqttPort: broker.port)
        try await eventually("herald to connect to the broker") { try await herald.get("/readyz").status == 200 }
        return herald
    }

    static let climateDevices = #"[{"friendly_name":"Coordinator","type":"Coordinator","ieee_address":"0x00124b00120144ae"},{"friendly_name":"living_room/climate","type":"EndDevice","ieee_address":"0x0017880104e45522","definition":{"model":"WSDCGQ11LM","vendor":"Aqara","description":"Temperature and humidity sensor","exposes":[{"access":1,"name":"temperature","property":"temperature","type":"numeric","unit":"°C"},{"access":1,"name":"humidity","property":"humidity","type":"numeric","unit":"%"},{"access":1,"name":"battery","property":"battery","type":"numeric","unit":"%"}]}}]"#

    static let esphomeConfig = #"{"dev_cla":"temperature","unit_of_meas":"°C","name":"Workshop Temperature","stat_t":"workshop/sensor/temperature/state","avty_t":"workshop/status","uniq_id":"ESPsensortemperature","dev":{"ids":"a4cf12ab34cd","name":"workshop","mdl":"esp32dev","mf":"espressif"}}"#

    static func device(_ herald: HeraldInstance, _ id: String) async throws -> [String: Any]? {
        let encoded = id.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? id
        let response = try await herald.get("/api/devices/" + encoded)
        guard response.status == 200 else { return nil }
        return try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any]
    }

    static func reading(_ device: [String: Any]?, _ name: String) -> [String: Any]? {
        (device?["readings"] as? [String: Any])?[name] as? [String: Any]
    }

    static func job(_ herald: HeraldInstance, _ key: String) async throws -> [String: Any]? {
        let body = try await herald.get("/api/jobs").body
        let jobs = (try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["jobs"] as? [[String: Any]] ?? []
        return jobs.first { $0["key"] as? String == key }
    }

    @Test func retainedDescriptionsBeforeAndAfterHeraldStartsGiveDevicesWithUnits() async throws {
        let dir = try TempDir()
        let broker = try await MosquittoBroker(dir: dir)
        // Before Herald exists: retained, as Zigbee2MQTT and ESPHome publish them.
        try await broker.publish("zigbee2mqtt/bridge/devices", lines: [Self.climateDevices], retain: true)
        try await broker.publish("homeassistant/sensor/workshop/temperature/config", lines: [Self.esphomeConfig], retain: true)
        let herald = try await Self.startHerald(dir, broker)
        try await eventually("the climate sensor described") { try await Self.device(herald, "zigbee2mqtt/living_room/climate") != nil }
        try await broker.publish("zigbee2mqtt/living_room/climate", lines: [#"{"battery":97,"humidity":44.7,"linkquality":120,"temperature":21.4,"voltage":2995}"#])
        try await broker.publish("workshop/sensor/temperature/state", lines: ["18.25"])
        try await eventually("the Zigbee temperature reading") {
            Self.reading(try await Self.device(herald, "zigbee2mqtt/living_room/climate"), "temperature")?["unit"] as? String == "°C"
        }
        let climate = try await Self.device(herald, "zigbee2mqtt/living_room/climate")
        #expect(climate?["model"] as? String == "WSDCGQ11LM")
        #expect(Self.reading(climate, "temperature")?["value"] as? Double == 21.4)
        #expect(Self.reading(climate, "linkquality")?["value"] as? Int == 120)
        try await eventually("the ESPHome reading") {
            Self.reading(try await Self.device(herald, "homeassistant/workshop"), "temperature")?["value"] as? Double == 18.25
        }
        #expect(Self.reading(try await Self.device(herald, "homeassistant/workshop"), "temperature")?["deviceClass"] as? String == "temperature")
        // A config published while Herald runs: it subscribes to the state topic it names.
        try await broker.publish("homeassistant/binary_sensor/workshop/door/config",
                                 lines: [#"{"name":"Workshop door","dev_cla":"door","stat_t":"workshop/binary_sensor/door/state","dev":{"ids":"a4cf12ab34cd","name":"workshop"}}"#],
                                 retain: true)
        try await eventually("the door's state, as words") {
            try await broker.publish("workshop/binary_sensor/door/state", lines: ["ON"])
            return Self.reading(try await Self.device(herald, "homeassistant/workshop"), "door")?["text"] as? String == "open"
        }
        // Readings are events: the snapshot and history have them under `<device id>/<reading>`.
        let history = try await herald.get("/api/events?channel=sensors&key=zigbee2mqtt/living_room/climate/temperature").body
        #expect(history.contains(#""data":{"value":21.4,"unit":"°C"}"#))
        let all = try await herald.get("/api/devices").body
        #expect(all.contains(#""id":"zigbee2mqtt/living_room/climate""#) && all.contains(#""id":"homeassistant/workshop""#))
        #expect(try await herald.get("/api/snapshot").body.contains(#""devices":[{"#))
        #expect(try await herald.allEvents(channel: "%24deadletter").isEmpty)
    }

    @Test func availabilityFlipsInEveryForm() async throws {
        let dir = try TempDir()
        let (broker, herald) = try await Self.start(dir)
        try await broker.publish("zigbee2mqtt/front_door/availability", lines: ["online"], retain: true)
        try await broker.publish("tele/plug/LWT", lines: ["Online"], retain: true)
        try await broker.publish("shellies/shelly1-84CCA8ADD055/online", lines: ["true"], retain: true)
        for id in ["zigbee2mqtt/front_door", "tasmota/plug", "shelly/shelly1-84CCA8ADD055"] {
            try await eventually("\(id) online") { try await Self.device(herald, id)?["availability"] as? String == "online" }
        }
        try await broker.publish("zigbee2mqtt/front_door/availability", lines: [#"{"state":"offline"}"#], retain: true)
        try await broker.publish("tele/plug/LWT", lines: ["Offline"], retain: true)
        try await broker.publish("shellies/shelly1-84CCA8ADD055/online", lines: ["false"], retain: true)
        for id in ["zigbee2mqtt/front_door", "tasmota/plug", "shelly/shelly1-84CCA8ADD055"] {
            try await eventually("\(id) offline") { try await Self.device(herald, id)?["availability"] as? String == "offline" }
        }
        let flips = try await herald.allEvents(channel: "sensors").filter { $0.type == "availability" && $0.key == "tasmota/plug" }.map(\.data)
        #expect(flips == [#"{"availability":"online"}"#, #"{"availability":"offline"}"#])
    }

    @Test func octoPrintPrintsAndAZigbeeUpdateAreJobsThatSurviveARestart() async throws {
        let dir = try TempDir()
        let (broker, herald) = try await Self.start(dir)
        try await broker.publish("octoPrint/event/PrintStarted", lines: [#"{"name":"benchy.gcode","path":"benchy.gcode","origin":"local","size":242038,"_event":"PrintStarted"}"#])
        try await broker.publish("octoPrint/progress/printing", lines: [#"{"progress":40,"path":"benchy.gcode","location":"local","printer_data":{"progress":{"completion":40,"printTimeLeft":900}}}"#], retain: true)
        try await eventually("the print running at 40 %") { try await Self.job(herald, "octoprint/benchy.gcode")?["progress"] as? Double == 40 }
        try await broker.publish("zigbee2mqtt/bulb", lines: [#"{"state":"ON","update":{"state":"updating","progress":10,"remaining":600}}"#])
        try await eventually("the OTA update running") { try await Self.job(herald, "zigbee2mqtt/bulb/update")?["state"] as? String == "running" }

        try await herald.restart()
        try await eventually("herald to reconnect") { try await herald.get("/readyz").status == 200 }
        #expect(try await Self.job(herald, "octoprint/benchy.gcode")?["state"] as? String == "running")
        try await broker.publish("octoPrint/progress/printing", lines: [#"{"progress":80,"path":"benchy.gcode","location":"local"}"#], retain: true)
        try await broker.publish("octoPrint/event/PrintDone", lines: [#"{"name":"benchy.gcode","path":"benchy.gcode","origin":"local","time":3600.5}"#])
        try await eventually("the print done") { try await Self.job(herald, "octoprint/benchy.gcode")?["state"] as? String == "succeeded" }
        try await broker.publish("zigbee2mqtt/bulb", lines: [#"{"state":"ON","update":{"state":"idle","installed_version":90}}"#])
        try await eventually("the update done") { try await Self.job(herald, "zigbee2mqtt/bulb/update")?["state"] as? String == "succeeded" }
        let print = try await herald.allEvents(channel: "jobs").filter { $0.key == "octoprint/benchy.gcode" }.map(\.data)
        #expect(print.count == 4, "started, 40 %, 80 %, done: \(print)")

        try await broker.publish("octoPrint/event/PrintStarted", lines: [#"{"name":"vase.gcode","path":"vase.gcode","origin":"local"}"#])
        try await broker.publish("octoPrint/event/PrintFailed", lines: [#"{"name":"vase.gcode","path":"vase.gcode","origin":"local","time":12.5,"reason":"error"}"#])
        try await eventually("the failed print") { try await Self.job(herald, "octoprint/vase.gcode")?["state"] as? String == "failed" }
        #expect(try await Self.job(herald, "octoprint/vase.gcode")?["message"] as? String == "failed: error")
    }

    @Test func aRestartKeepsDevicesUnitsAndTheTopicsDiscoveryNamed() async throws {
        let dir = try TempDir()
        let (broker, herald) = try await Self.start(dir)
        try await broker.publish("zigbee2mqtt/bridge/devices", lines: [Self.climateDevices], retain: true)
        // Not retained: after the restart only Herald's own memory knows this entity.
        try await broker.publish("homeassistant/sensor/workshop/temperature/config", lines: [Self.esphomeConfig])
        try await eventually("both devices") {
            let climate = try await Self.device(herald, "zigbee2mqtt/living_room/climate")
            let workshop = try await Self.device(herald, "homeassistant/workshop")
            return climate != nil && workshop != nil
        }
        // The retained description goes away, so after the restart nothing tells Herald the units
        // again; and a new client id starts a new session, so only Herald's own memory can
        // subscribe it to the topic the discovery config named.
        try await broker.publish("zigbee2mqtt/bridge/devices", bytes: [], retain: true)
        try "mqtt: { client_id: herald-devices-2, keepalive_seconds: 5 }\n".write(toFile: herald.dir.file("herald.yaml"), atomically: true, encoding: .utf8)
        try await herald.restart()
        try await eventually("herald to reconnect") { try await herald.get("/readyz").status == 200 }
        try await broker.publish("zigbee2mqtt/living_room/climate", lines: [#"{"temperature":19.5,"humidity":50}"#])
        try await broker.publish("workshop/sensor/temperature/state", lines: ["17"])
        try await eventually("the reading with its unit from before the restart") {
            Self.reading(try await Self.device(herald, "zigbee2mqtt/living_room/climate"), "temperature")?["unit"] as? String == "°C"
        }
        try await eventually("the discovered state topic followed after the restart") {
            Self.reading(try await Self.device(herald, "homeassistant/workshop"), "temperature")?["value"] as? Int == 17
        }
        #expect(try await Self.device(herald, "zigbee2mqtt/living_room/climate")?["model"] as? String == "WSDCGQ11LM")
    }

    @Test func whatNoSourceUnderstandsIsADeadLetterWithItsPayload() async throws {
        let dir = try TempDir()
        let (broker, herald) = try await Self.start(dir)
        try await broker.publish("homeassistant/sensor/broken/config", lines: ["{not json"], retain: true)
        try await broker.publish("homeassistant/sensor/wild/config", lines: [#"{"stat_t":"devices/+/state"}"#], retain: true)
        try await broker.publish("zigbee2mqtt/bulb", lines: ["ON"])
        try await broker.publish("tele/plug/SENSOR", lines: ["garbage"])
        try await eventually("four dead letters") { try await herald.allEvents(channel: "%24deadletter").count == 4 }
        let letters = try await herald.allEvents(channel: "%24deadletter")
        #expect(letters.allSatisfy { $0.type == "undecodable" })
        #expect(letters.contains { $0.data.contains(#""payload":"{not json""#) })
        #expect(letters.contains { $0.data.contains("wildcard") })
        // And Herald goes on: a good message after the bad ones.
        try await broker.publish("tele/plug/SENSOR", lines: [#"{"ENERGY":{"Power":5}}"#])
        try await eventually("the plug's power") { Self.reading(try await Self.device(herald, "tasmota/plug"), "power")?["value"] as? Int == 5 }
    }

    /// `herald discover` against a broker with retained descriptions and a feed nothing takes.
    @Test func discoverReportsDevicesUnitsAndTopicsNothingTakes() async throws {
        let dir = try TempDir()
        let broker = try await MosquittoBroker(dir: dir)
        try await broker.publish("zigbee2mqtt/bridge/devices", lines: [Self.climateDevices], retain: true)
        try await broker.publish("zigbee2mqtt/living_room/climate", lines: [#"{"temperature":21.4,"humidity":44.7}"#], retain: true)
        try await broker.publish("tele/plug/LWT", lines: ["Online"], retain: true)
        try await broker.publish("factory/lathe/telemetry", lines: [#"{"temp":{"c":41.5},"rpm":1200}"#], retain: true)
        try await broker.publish("factory/mill/telemetry", lines: [#"{"temp":{"c":38},"rpm":900}"#], retain: true)
        let log = dir.file("discover.out")
        let child = try ChildProcess(executable: heraldBinary, arguments: ["discover", "--mqtt", "mqtt://127.0.0.1:\(broker.port)", "--seconds", "2"],
                                     logPath: log)
        try await eventually("discover to finish") { !child.isRunning }
        let output = child.log
        #expect(await child.stop() == 0, "\(output)")
        #expect(output.contains("zigbee2mqtt/living_room/climate  (Aqara WSDCGQ11LM)  unknown"), "\(output)")
        #expect(output.contains("temperature              21.4 °C"), "\(output)")
        #expect(output.contains("tasmota/plug  online"), "\(output)")
        #expect(output.contains(#"- { topic: "factory/+/telemetry", channel: factory, key: "{1}", readings: { temp_c: temp.c, rpm: rpm } }"#), "\(output)")
    }

    @Test func aRouteMapsFieldsAndADeviceOfflineTooLongRaisesAnAlert() async throws {
        let dir = try TempDir()
        let broker = try await MosquittoBroker(dir: dir)
        let herald = try await HeraldInstance(dir: dir, config: """
            mqtt: { client_id: herald-mapping, keepalive_seconds: 5 }
            routes:
              - { topic: "factory/+/telemetry", channel: machines, key: "{1}", readings: { temperature: { field: temp.c, unit: "°C" }, rpm: rpm } }
            alert_rules:
              - { name: door-offline, device: zigbee2mqtt/front_door, offline_for: 2s, severity: critical }
            """, mqttPort: broker.port)
        try await eventually("herald to connect to the broker") { try await herald.get("/readyz").status == 200 }
        try await broker.publish("factory/lathe/telemetry", lines: [#"{"temp":{"c":41.5},"rpm":1200}"#, #"{"status":"idle"}"#])
        try await eventually("two readings and a dead letter") {
            let readings = try await herald.allEvents(channel: "machines")
            let letters = try await herald.allEvents(channel: "%24deadletter")
            return readings.count == 2 && letters.count == 1
        }
        #expect(try await herald.allEvents(channel: "machines").map(\.data) == [#"{"value":41.5,"unit":"°C"}"#, #"{"value":1200}"#])
        #expect(try await herald.allEvents(channel: "%24deadletter").first?.type == "unmapped")

        try await broker.publish("zigbee2mqtt/front_door/availability", lines: [#"{"state":"offline"}"#], retain: true)
        try await eventually("the offline alert") { try await herald.get("/api/alerts").body.contains(#""id":"door-offline:zigbee2mqtt/front_door""#) }
        #expect(try await herald.get("/api/alerts").body.contains(#""severity":"critical""#))
        try await broker.publish("zigbee2mqtt/front_door/availability", lines: [#"{"state":"online"}"#], retain: true)
        try await eventually("the alert cleared") { !(try await herald.get("/api/alerts").body.contains("door-offline")) }
        let changes = try await herald.allEvents(channel: "alerts").map(\.type)
        #expect(changes == ["raised", "cleared"])
    }

    /// The broker keeps a persistent session's subscriptions; filters Herald stopped using are
    /// unsubscribed on connect, so they do not fill $deadletter.
    @Test func filtersNoLongerUsedAreUnsubscribed() async throws {
        let dir = try TempDir()
        let (broker, herald) = try await Self.start(dir)
        try await broker.publish("zigbee2mqtt/garden/pump", lines: [#"{"state":"ON"}"#])
        try await eventually("the pump") { try await Self.device(herald, "zigbee2mqtt/garden/pump") != nil }
        try "mqtt: { client_id: herald-devices, keepalive_seconds: 5 }\nsources: false\n".write(toFile: herald.dir.file("herald.yaml"), atomically: true, encoding: .utf8)
        try await herald.restart()
        try await eventually("herald to reconnect") { try await herald.get("/readyz").status == 200 }
        try await broker.publish("zigbee2mqtt/garden/pump", lines: [#"{"state":"OFF"}"#])
        try await broker.publish("sensors/garden/soil", lines: [#"{"value":31}"#])
        try await eventually("the plain reading after it") { try await herald.allEvents(channel: "sensors").contains { $0.key == "garden/soil" } }
        #expect(try await herald.allEvents(channel: "%24deadletter").isEmpty)
        #expect(try await herald.allEvents(channel: "sensors").filter { $0.key == "zigbee2mqtt/garden/pump/state" }.count == 1)
    }

    /// Devices are read with their channel's scope: a token that may not read `sensors` sees none.
    @Test func tokenScopesApplyToDevices() async throws {
        let dir = try TempDir()
        let broker = try await MosquittoBroker(dir: dir)
        let (sensors, jobs) = ("sensors-token-0123456789", "jobs-token-0123456789")
        let herald = try await HeraldInstance(dir: dir, config: """
            mqtt: { client_id: herald-scopes, keepalive_seconds: 5 }
            tokens:
              - { name: sensors, sha256: "\(TokenAuthority.sha256Hex(sensors))", subscribe: ["sensors"] }
              - { name: jobs, sha256: "\(TokenAuthority.sha256Hex(jobs))", subscribe: ["jobs"] }
            """, mqttPort: broker.port)
        let asSensors = [("Authorization", "Bearer " + sensors)], asJobs = [("Authorization", "Bearer " + jobs)]
        try await eventually("herald to connect to the broker") { try await herald.get("/readyz").status == 200 }
        try await broker.publish("tele/plug/SENSOR", lines: [#"{"ENERGY":{"Power":5}}"#])
        try await eventually("the plug, for a reader of sensors") {
            try await herald.get("/api/devices/tasmota%2Fplug", headers: asSensors).status == 200
        }
        #expect(try await herald.get("/api/devices/tasmota%2Fplug", headers: asJobs).status == 404)
        let visible = try await herald.get("/api/devices", headers: asJobs)
        #expect(visible.status == 200 && visible.body.trimmingCharacters(in: .whitespacesAndNewlines) == #"{"devices":[]}"#, "\(visible)")
        #expect(try await herald.get("/api/snapshot", headers: asJobs).body.contains(#""devices":[]"#))
        #expect(try await herald.get("/api/devices").status == 401)
    }
}
