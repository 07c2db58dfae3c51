import Foundation
import Testing

/// The MQTT target against Debian's mosquitto: each alert's state retained where Home Assistant
/// and Node-RED read it, and the rules announced through Home Assistant's MQTT discovery.
@Suite struct NotifyMQTTTests {
    @Test func alertStatesAreRetainedAndEachRuleIsAnnouncedAsAProblemSensor() async throws {
        let dir = try TempDir()
        let broker = try await MosquittoBroker(dir: dir)
        let herald = try await HeraldInstance(dir: dir, config: """
            alert_rules:
              - { name: greenhouse-hot, channel: sensors, key: greenhouse/temp, field: value, above: 30, clear_below: 29, severity: critical }
            notify:
              - name: back
                mqtt: { topic: herald/alerts, homeassistant_discovery: true }
                transitions: [raised, cleared]
            """, mqttPort: broker.port)
        // Announced once the target's own connection is up, which may be after Herald answers.
        try await eventually("the rule announced at homeassistant/binary_sensor/herald_greenhouse_hot/config, its state OFF") {
            let announced = try await self.retained(broker, "homeassistant/binary_sensor/herald_greenhouse_hot/config")
            let state = try await self.retained(broker, "herald/alerts/greenhouse-hot")
            return !announced.isEmpty && state.contains("\"problem\":\"OFF\"")
        }
        let discovery = try await retained(broker, "homeassistant/binary_sensor/herald_greenhouse_hot/config")
        #expect(discovery.contains("\"device_class\":\"problem\""))
        #expect(discovery.contains("\"state_topic\":\"herald/alerts/greenhouse-hot\""))
        #expect(discovery.contains("\"unique_id\":\"herald_greenhouse_hot\""))
        #expect(discovery.contains("\"value_template\":\"{{ value_json.problem }}\""))

        _ = try await herald.publish("sensors", #"{"type":"reading","key":"greenhouse/temp","data":{"value":31}}"#)
        try await eventually("the raised state retained at herald/alerts/greenhouse-hot/greenhouse/temp") {
            try await self.retained(broker, "herald/alerts/greenhouse-hot/greenhouse/temp").contains("\"state\":\"raised\"")
        }
        let state = try await retained(broker, "herald/alerts/greenhouse-hot/greenhouse/temp")
        #expect(state.contains("\"problem\":\"ON\"") && state.contains("\"severity\":\"critical\"") && state.contains("\"value\":31"))
        #expect(try await retained(broker, "herald/alerts/greenhouse-hot") == #"{"problem":"ON","raised":["greenhouse/temp"]}"#)

        _ = try await herald.publish("sensors", #"{"type":"reading","key":"greenhouse/temp","data":{"value":28}}"#)
        try await eventually("the cleared state replacing it") {
            try await self.retained(broker, "herald/alerts/greenhouse-hot/greenhouse/temp").contains("\"state\":\"cleared\"")
        }
        #expect(try await retained(broker, "herald/alerts/greenhouse-hot") == #"{"problem":"OFF","raised":[]}"#)
        try await eventually("nothing owed") { try await herald.get("/api/notify").body.contains("\"owed\":0") }
    }

    /// The message retained on `topic` ("" when there is none), read with `mosquitto_sub`.
    func retained(_ broker: MosquittoBroker, _ topic: String) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_sub")
        // --retained-only: only what the broker keeps; -W 2: at most 2 s when nothing is retained.
        process.arguments = ["-h", "127.0.0.1", "-p", "\(broker.port)", "-t", topic, "-C", "1", "-W", "2", "--retained-only"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { process.terminate() }
        return String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .newlines)
    }
}
