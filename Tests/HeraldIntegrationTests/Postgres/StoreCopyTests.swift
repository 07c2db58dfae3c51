import Foundation
import GRDB
@testable import HeraldCore
import Logging
import Testing

/// `herald store copy`: a stopped gateway's SQLite store into an empty PostgreSQL database. What
/// the copy holds answers every question as the SQLite store does (events, resume, jobs, alerts,
/// devices, sessions, the outbox, Web Push), ids continue after the copied head, and a copy into
/// a database with events, or from a store in use, is refused.
@Suite(.serialized) struct StoreCopyTests {
    static let semantics = OutboxParityTests.semantics
    static let routing = OutboxParityTests.routing
    static var logger: Logger { var logger = Logger(label: "test.copy"); logger.logLevel = .critical; return logger }

    static func openLog(_ path: String) throws -> EventLog {
        var options = EventLog.Options(path: path)
        options.semantics = semantics
        options.notify = routing
        return try EventLog(options: options, logger: logger, onCommit: { _ in })
    }

    /// A gateway's store after a while: readings and alerts, a job, a Zigbee2MQTT device (its
    /// documented `bridge/devices` and state payloads), an MQTT message's receipt, a session, a
    /// browser subscribed and the notifications owed.
    static func fill(_ log: EventLog) async throws {
        #expect(try await log.savePushSubscription(endpoint: "https://push.example.com/a", json: "{\"endpoint\":\"a\"}", limit: 10) == .created)
        _ = try await log.keptValue("vapid_private_key") { "the-gateway-key" }
        for (second, value) in [31, 28, 31].enumerated() {
            _ = try await log.append([OutboxParityTests.reading(value, at: Int64(second))])
        }
        _ = try await log.append([EventDraft(channel: "jobs", type: "progress", key: "print-1", time: 1_700_000_010_000,
                                             data: #"{"state":"running","progress":50}"#)])
        let sources = SourcesConfig().makeSourceSet()
        let feed: [(String, String)] = [
            ("zigbee2mqtt/bridge/devices", """
                [{"definition":{"description":"Temperature and humidity sensor","model":"WSDCGQ11LM","vendor":"Aqara","exposes":[
                   {"access":1,"label":"Temperature","name":"temperature","property":"temperature","type":"numeric","unit":"°C"}]},
                  "friendly_name":"living_room/climate","ieee_address":"0x0017880104e45522","type":"EndDevice","supported":true}]
                """),
            ("zigbee2mqtt/living_room/climate/availability", #"{"state":"online"}"#),
            ("zigbee2mqtt/living_room/climate", #"{"temperature":21.4}"#),
        ]
        for (index, (topic, payload)) in feed.enumerated() {
            let outcome = try #require(sources.interpret(SourceMessage(topic: topic, payload: Array(payload.utf8), retain: false),
                                                         time: 1_700_000_020_000 + Int64(index) * 1_000))
            let dedupe = MQTTDedupe(message: MQTTMessage(topic: topic, payload: Array(payload.utf8), qos: 1, retain: false, mid: Int32(index + 1)))
            _ = try await log.submitOffThePool(AppendItem(drafts: outcome.drafts, dedupe: dedupe, effects: outcome.effects))
        }
        try await log.createSession(idHash: "session-hash", tokenDigest: "token-digest", expiresAt: 4_000_000_000_000)
    }

    @Test func aStoppedGatewaysStoreCopiedToPostgresAnswersAsItDidAndIdsContinue() async throws {
        let dir = try TempDir()
        let path = dir.file("herald.sqlite")
        let gateway = try Self.openLog(path)
        let writer = Task { try await gateway.run() }
        try await Self.fill(gateway)
        let head = try await gateway.headId()
        writer.cancel()  // a clean stop: the writer commits what it has and marks the store clean
        try await writer.value
        // What a power loss before the last start would have left (DESIGN §7), and a retention pass.
        try await DatabaseQueue(path: path).write { db in
            try db.execute(sql: "INSERT INTO lost_ranges(after_id, before_id) VALUES (?, ?)", arguments: [head - 3, head - 1])
            try db.execute(sql: "INSERT INTO meta(name, value) VALUES ('pruned_through', '1')")
        }

        let server = try await PostgresServer()
        let url = try await server.makeDatabase()
        let copied = try await StoreCopy.copy(sqlite: path, to: url, logger: Self.logger)
        #expect(copied.headId == head)
        #expect(copied.rows["events"] == Int(head) && copied.rows["devices"] == 1 && copied.rows["mqtt_receipts"] == 3)
        #expect(copied.rows["notify_outbox"] ?? 0 > 0 && copied.rows["push_subscriptions"] == 1 && copied.rows["lost_ranges"] == 1)
        // A second copy into the same database is refused, and changes nothing.
        let twice = await #expect(throws: StoreCopyError.self) { _ = try await StoreCopy.copy(sqlite: path, to: url, logger: Self.logger) }
        #expect(twice?.description.contains("already holds events (head \(head))") == true, "\(String(describing: twice))")

        // The same questions of the SQLite store (opened again) and of the copy.
        let sqlite = try Self.openLog(path)
        let node = try PostgresNode(url: url, semantics: Self.semantics, notify: Self.routing)
        try await node.waitUntilReady()
        let everything = EventFilter(selectors: SelectorSet([try Selector("#")]))
        let history: [any EventHistory] = [sqlite, node.log]
        try await expectAlike(history, "every event") { try await $0.events(after: 0, matching: everything, limit: 1_000).events }
        for lastId in [0, 1, 2, head - 2, head, head + 1] {
            try await expectAlike(history, "a resume after \(lastId)") { try await $0.resume(after: lastId, matching: everything, limit: 10).status }
        }
        #expect(try await node.log.resume(after: head - 2, matching: everything, limit: 10).status.isReset(.lost))
        let stores: [any HeraldStore] = [sqlite, node.log]
        try await expectAlike(stores, "jobs") { try await $0.jobs(channel: nil, key: nil) }
        try await expectAlike(stores, "alerts") { try await $0.alerts(all: true) }
        try await expectAlike(stores, "devices") { try await $0.devices() }
        try await expectAlike(stores, "sources' memory") { try await $0.sourceMemories(["zigbee2mqtt"]) }
        #expect(try await expectAlike(stores, "the session") { try await $0.sessionTokenDigest(idHash: "session-hash", now: 0) } == "token-digest")
        let notify: [any NotifyStore] = [sqlite, node.log]
        for target in ["ops", "all", "browsers"] {
            try await expectAlike(notify, "what \(target) is owed") { try await OutboxParityTests.page($0, target, now: Clock.nowMilliseconds()) }
        }
        #expect(try await node.log.keptValue("vapid_private_key") { "a-new-key" } == "the-gateway-key", "browsers stay subscribed")
        // A redelivery of a message the gateway stored is recognised on PostgreSQL too.
        let again = AppendItem(drafts: [EventDraft(channel: "sensors", type: "reading", key: "x", data: "1")],
                               dedupe: MQTTDedupe(message: MQTTMessage(topic: "zigbee2mqtt/living_room/climate",
                                                                       payload: Array(#"{"temperature":21.4}"#.utf8), qos: 1, retain: false, mid: 3)))
        #expect(try await node.log.append(again.drafts, dedupe: again.dedupe) == .duplicate)
        // Ids continue after the copied head.
        #expect(try await node.log.append([EventDraft(channel: "sensors", type: "reading", key: "y", data: "{\"value\":1}")]).map(\.id) == [head + 1])

        // A copy of a store in use (opened again above) is refused.
        let emptyURL = try await server.makeDatabase()
        let inUse = await #expect(throws: StoreCopyError.self) { _ = try await StoreCopy.copy(sqlite: path, to: emptyURL, logger: Self.logger) }
        #expect(inUse?.description.contains("in use or was not shut down cleanly") == true)
        await node.stop()
        await server.stop()
    }

    /// The command as a user runs it: what it copied, or why not, and its exit status.
    @Test func theStoreCopyCommandSaysWhatItCopiedOrWhyNot() async throws {
        let dir = try TempDir()
        let path = dir.file("herald.sqlite")
        let gateway = try Self.openLog(path)
        let writer = Task { try await gateway.run() }
        _ = try await gateway.append([EventDraft(channel: "sensors", type: "reading", key: "a", data: "{\"value\":1}")])
        writer.cancel()
        try await writer.value
        let server = try await PostgresServer()
        // A database a node already ran on (it made a VAPID key) is not empty, though it has no events.
        let used = try await server.makeDatabase()
        let node = try PostgresNode(url: used)
        try await node.waitUntilReady()
        _ = try await node.log.keptValue("vapid_private_key") { "a-node-key" }
        await node.stop()
        let refused = try await NotifyWebhookTests().runHerald(["store", "copy", "--from", path, "--to", used], dir: dir)
        #expect(refused.status == 2 && refused.output.contains("already holds kept_values rows"), "\(refused.output)")
        let url = try await server.makeDatabase()
        let copied = try await NotifyWebhookTests().runHerald(["store", "copy", "--from", path, "--to", url], dir: dir)
        #expect(copied.status == 0 && copied.output.contains("events: 1") && copied.output.contains("copied; ids continue after 1"),
                "\(copied.output)")
        let missing = try await NotifyWebhookTests().runHerald(["store", "copy", "--from", dir.file("nowhere.sqlite"), "--to", url], dir: dir)
        #expect(missing.status == 2 && missing.output.contains("nowhere.sqlite: no such SQLite store"), "\(missing.output)")
        await server.stop()
    }
}

extension ResumeStatus {
    func isReset(_ reason: ResetReason) -> Bool {
        if case .reset(let actual, _) = self { return actual == reason }
        return false
    }
}
