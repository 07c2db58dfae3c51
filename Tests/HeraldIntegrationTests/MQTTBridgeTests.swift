import Foundation
import HeraldCore
import Testing

/// The MQTT bridge against Debian's mosquitto (DESIGN §5).
@Suite struct MQTTBridgeTests {
    static func start(_ dir: TempDir, mqtt: String = "", environment: [String: String] = [:]) async throws -> (MosquittoBroker, HeraldInstance) {
        let broker = try await MosquittoBroker(dir: dir)
        let herald = try await HeraldInstance(dir: dir, config: "mqtt: { client_id: herald-test, keepalive_seconds: 5\(mqtt) }\n",
                                              mqttPort: broker.port, environment: environment)
        try await eventually("herald to connect to the broker") { try await herald.get("/readyz").status == 200 }
        return (broker, herald)
    }

    @Test func fiveHundredMessagesArriveInOrderWithRouteCaptures() async throws {
        let dir = try TempDir()
        let (broker, herald) = try await Self.start(dir)
        for room in 0..<5 {
            try await broker.publish("sensors/room\(room)/temp", lines: (0..<100).map { "{\"n\":\($0),\"room\":\(room)}" })
        }
        try await eventually("500 events") { try await herald.allEvents(channel: "sensors").count == 500 }
        let events = try await herald.allEvents(channel: "sensors")
        for room in 0..<5 {
            let mine = events.filter { $0.key == "room\(room)/temp" }
            #expect(mine.count == 100)
            #expect(mine.map(\.data) == (0..<100).map { "{\"n\":\($0),\"room\":\(room)}" }, "room \(room) in order")
            #expect(mine.allSatisfy { $0.type == "reading" })
        }
        let raw = try await herald.get("/api/events?channel=sensors&limit=1").body
        #expect(raw.contains("\"source\":{\"mqtt\":{\"topic\":\"sensors/room4/temp\",\"qos\":1,\"retain\":false}}"))
    }

    /// Two spellings of one text are two topics to MQTT (it compares bytes); Swift's `String`
    /// equality would take them for one, and the route cache would give the second the first's key.
    @Test func canonicallyEquivalentTopicsKeepTheirOwnKeys() async throws {
        let dir = try TempDir()
        let (broker, herald) = try await Self.start(dir)
        let composed = "caf\u{E9}/temp", decomposed = "cafe\u{301}/temp"
        try await broker.publish("sensors/" + composed, lines: [#"{"n":1}"#])
        try await eventually("the first event") { try await herald.allEvents(channel: "sensors").count == 1 }
        try await broker.publish("sensors/" + decomposed, lines: [#"{"n":2}"#])
        try await eventually("the second event") { try await herald.allEvents(channel: "sensors").count == 2 }
        let keys = try await herald.allEvents(channel: "sensors").map { $0.key.map { Array($0.utf8) } }
        #expect(keys == [Array(composed.utf8), Array(decomposed.utf8)])
    }

    @Test func messagesPublishedWhileHeraldIsKilledArriveExactlyOnce() async throws {
        let dir = try TempDir()
        let (broker, herald) = try await Self.start(dir)
        try await broker.publish("sensors/a/x", lines: (0..<20).map { "{\"n\":\($0)}" })
        try await eventually("first 20") { try await herald.allEvents(channel: "sensors").count == 20 }
        await herald.process.stop(SIGKILL)
        try await broker.publish("sensors/a/x", lines: (20..<70).map { "{\"n\":\($0)}" })
        try await herald.restart()
        try await eventually("all 70") { try await herald.allEvents(channel: "sensors").count >= 70 }
        try await Task.sleep(for: .milliseconds(500))
        let data = try await herald.allEvents(channel: "sensors").map(\.data)
        #expect(data == (0..<70).map { "{\"n\":\($0)}" })
    }

    @Test(arguments: [SIGTERM, SIGKILL])
    func brokerRestartsAreReportedAndNothingIsLostOrDoubled(signal: Int32) async throws {
        let dir = try TempDir()
        let (broker, herald) = try await Self.start(dir)
        try await broker.publish("sensors/b/x", lines: (0..<10).map { "{\"n\":\($0)}" })
        try await eventually("first 10") { try await herald.allEvents(channel: "sensors").count == 10 }
        await broker.stop(signal)
        try await eventually("readyz to report the broker down") { try await herald.get("/readyz").status == 503 }
        // Publishing over HTTP keeps working while the broker is away.
        _ = try await herald.publish("manual", "{\"data\":1}")
        try await broker.start()
        try await eventually("reconnected", seconds: 30) { try await herald.get("/readyz").status == 200 }
        try await broker.publish("sensors/b/x", lines: (10..<20).map { "{\"n\":\($0)}" })
        try await eventually("all 20") { try await herald.allEvents(channel: "sensors").count >= 20 }
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await herald.allEvents(channel: "sensors").map(\.data) == (0..<20).map { "{\"n\":\($0)}" })
        let status = try await herald.allEvents(channel: "%24status").map(\.type)
        #expect(status.starts(with: ["connected", "disconnected", "connected"]), "\(status)")
    }

    /// Herald retries a broker that is not there yet, with backoff and without a `$status` event per
    /// failed attempt, connects once it comes, and stops promptly while it is away again.
    @Test func startedBeforeTheBrokerHeraldConnectsWhenItComes() async throws {
        let dir = try TempDir()
        let broker = try await MosquittoBroker(dir: dir)
        await broker.stop(SIGKILL)
        let herald = try await HeraldInstance(dir: dir, config: "mqtt: { client_id: herald-test, keepalive_seconds: 5 }\n",
                                              mqttPort: broker.port)
        #expect(try await herald.get("/readyz").status == 503)
        try await Task.sleep(for: .seconds(2))  // a few failed attempts
        try await broker.start()
        try await eventually("connected", seconds: 30) { try await herald.get("/readyz").status == 200 }
        try await broker.publish("sensors/late/x", lines: (0..<5).map { "{\"n\":\($0)}" })
        try await eventually("5 events") { try await herald.allEvents(channel: "sensors").count == 5 }
        #expect(try await herald.allEvents(channel: "%24status").map(\.type) == ["connected"])
        #expect(herald.process.log.contains("mqtt broker not reachable; retrying"), "\(herald.process.log)")
        await broker.stop(SIGKILL)
        try await eventually("readyz to report the broker down") { try await herald.get("/readyz").status == 503 }
        let stopping = Date()
        #expect(await herald.process.stop(SIGTERM) == 0)
        #expect(Date().timeIntervalSince(stopping) < 5)
    }

    /// Waits for Herald to exit in the crash hook with the hook's status, then starts it without.
    static func expectDeathInHook(_ hook: String, _ herald: HeraldInstance) async throws {
        try await eventually("herald to die in the hook") { !herald.process.isRunning }
        #expect(herald.process.process.terminationStatus == (hook.hasSuffix("BEFORE_COMMIT") ? 86 : 87))
        try await herald.restart(environment: [:])
    }

    @Test(arguments: ["HERALD_TEST_CRASH_BEFORE_COMMIT", "HERALD_TEST_CRASH_AFTER_COMMIT"])
    func aCrashAroundTheCommitStoresTheMessageExactlyOnce(hook: String) async throws {
        let dir = try TempDir()
        let (broker, herald) = try await Self.start(dir, environment: [hook: "sensors/crash/x"])
        try await broker.publish("sensors/before/x", lines: ["{\"n\":0}"])
        try await eventually("a first event") { try await herald.allEvents(channel: "sensors").count == 1 }
        try await broker.publish("sensors/crash/x", lines: ["{\"n\":1}"])
        try await Self.expectDeathInHook(hook, herald)
        try await eventually("the redelivered message") { try await herald.allEvents(channel: "sensors").count >= 2 }
        try await Task.sleep(for: .milliseconds(500))
        let events = try await herald.allEvents(channel: "sensors")
        #expect(events.map(\.data) == ["{\"n\":0}", "{\"n\":1}"])
    }

    /// A backlog is read in bursts, each committed and then acknowledged as one. A crash just before
    /// or just after the commit of the burst holding the crash topic, with messages before and after
    /// it in the same burst, must still store all 300 exactly once and in order: unacknowledged
    /// messages come again and the committed ones among them are recognised.
    @Test(arguments: ["HERALD_TEST_CRASH_BEFORE_COMMIT", "HERALD_TEST_CRASH_AFTER_COMMIT"])
    func aCrashInsideABurstStoresEveryMessageExactlyOnce(hook: String) async throws {
        let dir = try TempDir()
        let (broker, herald) = try await Self.start(dir)
        await herald.process.stop(SIGTERM)
        try await broker.publish("sensors/burst/a", lines: (0..<150).map { "{\"n\":\($0)}" })
        try await broker.publish("sensors/crash/x", lines: ["{\"n\":150}"])
        try await broker.publish("sensors/burst/b", lines: (151..<300).map { "{\"n\":\($0)}" })
        try await herald.restart(environment: [hook: "sensors/crash/x"], healthy: false)  // may die before it answers
        try await Self.expectDeathInHook(hook, herald)
        try await eventually("300 events") { try await herald.allEvents(channel: "sensors").count >= 300 }
        try await Task.sleep(for: .milliseconds(500))
        let events = try await herald.allEvents(channel: "sensors")
        #expect(events.map(\.data) == (0..<300).map { "{\"n\":\($0)}" }, "\(herald.process.log)")
    }

    @Test func aRetainedMessageIsStoredOnceAcrossRestarts() async throws {
        let dir = try TempDir()
        let (broker, herald) = try await Self.start(dir)
        try await broker.publish("sensors/retained/x", lines: ["{\"v\":1}"], retain: true)
        try await eventually("the retained event") { try await herald.allEvents(channel: "sensors").count == 1 }
        for signal in [SIGTERM, SIGKILL, SIGTERM] {
            await herald.process.stop(signal)
            try await herald.restart()
            try await eventually("connected again") { try await herald.get("/readyz").status == 200 }
            try await Task.sleep(for: .milliseconds(300))
        }
        try await broker.publish("sensors/other/x", lines: ["{\"v\":2}"])
        try await eventually("a later event") { try await herald.allEvents(channel: "sensors").count >= 2 }
        let stored = try await herald.allEvents(channel: "sensors").map(\.data)
        #expect(stored == ["{\"v\":1}", "{\"v\":2}"], "\(stored)\n\(herald.process.log)")
    }

    @Test func badPayloadsAreKeptOrAccountedFor() async throws {
        let dir = try TempDir()
        let (broker, herald) = try await Self.start(dir, mqtt: ", max_payload_bytes: 64")
        let binary: [UInt8] = [0xFF, 0xFE, 0x00, 0x41]
        try await broker.publish("sensors/bin/x", bytes: binary)
        try await broker.publish("sensors/text/x", lines: ["plain text"])
        try await broker.publish("sensors/big/x", lines: [String(repeating: "y", count: 100)])
        let longKey = "sensors/" + String(repeating: "k", count: 150) + "/" + String(repeating: "z", count: 150)
        try await broker.publish(longKey, lines: ["{\"v\":1}"])
        try await eventually("four events") {
            let sensors = try await herald.allEvents(channel: "sensors").count
            let dead = try await herald.allEvents(channel: "%24deadletter").count
            return sensors == 2 && dead == 2
        }
        let sensors = try await herald.allEvents(channel: "sensors")
        #expect(sensors[0].data == "{\"base64\":\"\(Data(binary).base64EncodedString())\"}")
        #expect(sensors[1].data == "\"plain text\"")
        let deadLetters = try await herald.allEvents(channel: "%24deadletter")
        let dead = try #require(deadLetters.first)
        #expect(deadLetters.last?.type == "invalid")
        #expect(deadLetters.last?.data.contains("key longer than 256 bytes (301)") == true, "\(deadLetters.last?.data ?? "")")
        #expect(dead.type == "oversize")
        #expect(dead.data.contains("\"topic\":\"sensors/big/x\",\"size\":100"))
        #expect(!dead.data.contains("yyyy"), "the oversize payload itself is not stored")
        let metrics = try await herald.get("/metrics").body
        #expect(metrics.contains("herald_deadletter_total{reason=\"oversize\"} 1"), "\(metrics)")
    }
}
