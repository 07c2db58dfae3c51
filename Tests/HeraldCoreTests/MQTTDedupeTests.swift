import Foundation
import Logging
import Testing
@testable import HeraldCore

/// The writer's MQTT bookkeeping against a real SQLite file: what counts as a message stored before.
@Suite struct MQTTDedupeTests {
    @Test func aRetainedCopyIsRecognisedInTheSameBatchAndInLaterOnes() async throws {
        try await withEventLog("dedupe") { log in
            let live = message("sensors/a", #"{"v":1}"#, mid: 1)
            let sameBurst = await submit([item(live), item(message("sensors/a", #"{"v":1}"#, retain: true, mid: 2))], to: log)
            #expect(stored(sameBurst) == [true, false])
            let later = await submit([item(message("sensors/a", #"{"v":1}"#, retain: true, mid: 3))], to: log)
            #expect(stored(later) == [false])
        }
    }

    @Test func theNewestPayloadOfABurstIsTheOneRemembered() async throws {
        try await withEventLog("dedupe") { log in
            _ = await submit([item(message("sensors/b", #"{"v":1}"#, mid: 1)), item(message("sensors/b", #"{"v":2}"#, mid: 2))], to: log)
            let retainedNew = await submit([item(message("sensors/b", #"{"v":2}"#, retain: true, mid: 3))], to: log)
            #expect(stored(retainedNew) == [false])
            let retainedOld = await submit([item(message("sensors/b", #"{"v":1}"#, retain: true, mid: 4))], to: log)
            #expect(stored(retainedOld) == [true], "v1 is no longer the last payload")
        }
    }

    /// MQTT compares topics byte for byte; Swift's `String` would take these two for one.
    @Test func canonicallyEquivalentTopicsKeepTheirOwnLastPayload() async throws {
        try await withEventLog("dedupe") { log in
            let composed = "sensors/caf\u{E9}", decomposed = "sensors/cafe\u{301}"
            _ = await submit([item(message(composed, #"{"v":1}"#, mid: 1)), item(message(decomposed, #"{"v":2}"#, mid: 2))], to: log)
            let retained = await submit([item(message(composed, #"{"v":1}"#, retain: true, mid: 3)),
                                         item(message(decomposed, #"{"v":2}"#, retain: true, mid: 4))], to: log)
            #expect(stored(retained) == [false, false])
        }
    }

    @Test func aRedeliveryIsRecognisedByItsPacketIdEvenInTheSameBurst() async throws {
        try await withEventLog("dedupe") { log in
            let first = message("sensors/c", #"{"v":7}"#, mid: 42)
            let outcomes = await submit([item(first), item(first), item(message("sensors/c", #"{"v":7}"#, mid: 43))], to: log)
            #expect(stored(outcomes) == [true, false, true], "a new packet id is a new message")
            let filter = EventFilter(selectors: SelectorSet([try Selector("sensors")]))
            #expect(try await log.events(after: 0, matching: filter, limit: 10).events.map(\.draft.data) == [#"{"v":7}"#, #"{"v":7}"#])
        }
    }

    /// Hands the requests to the writer together (so it commits them in one transaction) and
    /// waits on a thread of its own: a blocking wait on the cooperative pool could starve the writer.
    private func submit(_ items: [AppendItem], to log: EventLog) async -> [Result<AppendOutcome, any Error>] {
        await log.submitOffThePool(items)
    }

    /// Per request: stored (true), recognised as stored before (false), or failed (nil).
    private func stored(_ outcomes: [Result<AppendOutcome, any Error>]) -> [Bool?] {
        outcomes.map { outcome in
            switch outcome {
            case .success(.stored): true
            case .success(.duplicate): false
            case .failure: nil
            }
        }
    }

    private func message(_ topic: String, _ payload: String, retain: Bool = false, mid: Int32) -> MQTTMessage {
        MQTTMessage(topic: topic, payload: Array(payload.utf8), qos: 1, retain: retain, mid: mid)
    }

    private func item(_ message: MQTTMessage) -> AppendItem {
        AppendItem(drafts: [EventDraft(channel: "sensors", type: "reading", key: message.topic,
                                       data: String(decoding: message.payload, as: UTF8.self))],
                   dedupe: MQTTDedupe(message: message))
    }
}

@Suite struct MQTTDigestTests {
    /// Receipts stored by earlier versions hold this form, so it must never change.
    @Test func theDigestKeepsItsStoredForm() {
        // Three-byte payloads as well: hundreds of their hashes start with one or more zero digits.
        let payloads = [[], Array("{\"v\":1}".utf8), Array(repeating: 0xff, count: 4096)]
            + (0..<8192).map { [UInt8($0 & 0xff), UInt8($0 >> 8), 0] }
        for payload in payloads as [[UInt8]] {
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in payload { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
            #expect(MQTTDedupe.digest(payload) == String(hash, radix: 16) + ":" + String(payload.count))
        }
        #expect(MQTTDedupe.digest([]) == "cbf29ce484222325:0")
        // FNV-1a 64's published vectors, so the reference above is not the only witness.
        #expect(MQTTDedupe.digest(Array("a".utf8)) == "af63dc4c8601ec8c:1")
        #expect(MQTTDedupe.digest(Array("foobar".utf8)) == "85944171f73967e8:6")
    }
}

@Suite struct ByteExactStringTests {
    @Test func spellingsOfOneTextAreDifferentTopics() {
        let composed = "sensors/caf\u{E9}", decomposed = "sensors/cafe\u{301}"
        #expect(composed == decomposed, "Swift's String takes them for one")
        #expect(!composed.hasSameBytes(as: decomposed))
        #expect(composed.hasSameBytes(as: "sensors/" + "caf\u{E9}"))
        #expect(!"sensors/a".hasSameBytes(as: "sensors/b") && !"sensors/a".hasSameBytes(as: "sensors/ab"))
        #expect(Set([ByteExactString(composed), ByteExactString(decomposed), ByteExactString(composed)]).count == 2)
    }
}
