import Foundation
@testable import HeraldCore
import Testing

/// The duplicate check on PostgreSQL: a message redelivered to another node (the broker
/// sends a dead holder's unacknowledged messages to whoever takes the session) stores nothing.
@Suite(.serialized) struct PostgresMQTTDedupeTests {
    private func message(_ payload: String, mid: Int32, topic: String = "zigbee2mqtt/kitchen", retain: Bool = false) -> MQTTDedupe {
        MQTTDedupe(message: MQTTMessage(topic: topic, payload: Array(payload.utf8), qos: 1, retain: retain, mid: mid))
    }

    private func draft(_ payload: String) -> [EventDraft] { [EventDraft(channel: "sensors/kitchen", data: payload)] }

    @Test func aRedeliveryReachingAnotherNodeIsStoredOnce() async throws {
        let server = try await PostgresServer()
        let url = try await server.makeDatabase()
        let holder = try PostgresNode(url: url, name: "holder")
        let successor = try PostgresNode(url: url, name: "successor")
        try await holder.waitUntilReady()
        try await successor.waitUntilReady()
        let payload = #"{"temperature":21.5,"humidity":40}"#

        guard case .stored(let first) = try await holder.log.append(draft(payload), dedupe: message(payload, mid: 7)) else {
            Issue.record("the first delivery is stored")
            return
        }
        #expect(try await successor.log.append(draft(payload), dedupe: message(payload, mid: 7)) == .duplicate)
        // Same packet id, other payload: a new message under a recycled id.
        #expect(try await successor.log.append(draft(#"{"temperature":22}"#), dedupe: message(#"{"temperature":22}"#, mid: 7)) != .duplicate)
        // Past the first messages of a resumed session no redelivery can come: not even looked up.
        var later = message(payload, mid: 7)
        later.mayBeRedelivery = false
        #expect(try await successor.log.append(draft(payload), dedupe: later) != .duplicate)
        // Two copies in one batch: the second is the duplicate.
        async let a = successor.log.append(draft("{\"n\":1}"), dedupe: message("{\"n\":1}", mid: 9))
        async let b = successor.log.append(draft("{\"n\":1}"), dedupe: message("{\"n\":1}", mid: 9))
        let outcomes = try await [a, b]
        #expect(outcomes.filter { $0 == .duplicate }.count == 1)
        #expect(first.map(\.id) == [1])
        await holder.stop()
        await successor.stop()
        await server.stop()
    }

    @Test func aRetainedCopyOfTheLastPayloadIsNotStoredAgainOnAnyNode() async throws {
        let server = try await PostgresServer()
        let url = try await server.makeDatabase()
        let nodes = try (0..<2).map { try PostgresNode(url: url, name: "r\($0)") }
        for node in nodes { try await node.waitUntilReady() }
        let online = #"{"state":"online"}"#
        #expect(try await nodes[0].log.append(draft(online), dedupe: message(online, mid: 0, topic: "z/availability")) != .duplicate)
        #expect(try await nodes[1].log.append(draft(online), dedupe: message(online, mid: 0, topic: "z/availability", retain: true)) == .duplicate)
        let offline = #"{"state":"offline"}"#
        #expect(try await nodes[1].log.append(draft(offline), dedupe: message(offline, mid: 0, topic: "z/availability", retain: true)) != .duplicate)
        #expect(try await nodes[0].log.headId() == 2)
        for node in nodes { await node.stop() }
        await server.stop()
    }
}
