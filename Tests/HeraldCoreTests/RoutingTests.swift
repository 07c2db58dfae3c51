import Foundation
import Testing
@testable import HeraldCore

@Suite struct RoutingTests {
    let router = TopicRouter([
        RouteConfig(topic: try! Selector("sensors/+/+"), channel: "sensors", type: "reading", key: "{1}/{2}"),
        RouteConfig(topic: try! Selector("jobs/+/progress"), channel: "jobs", key: "{1}", kind: .job),
        RouteConfig(topic: try! Selector("alerts/#"), channel: "alerts", key: "{#}", kind: .alert),
        RouteConfig(topic: try! Selector("raw/#"), channel: "raw"),
    ])

    @Test func capturesFillTheKey() {
        #expect(router.route("sensors/greenhouse/temp") == .init(channel: "sensors", type: "reading", key: "greenhouse/temp", kind: .event))
        #expect(router.route("jobs/backup-1/progress") == .init(channel: "jobs", type: "progress", key: "backup-1", kind: .job))
        #expect(router.route("alerts/house/smoke") == .init(channel: "alerts", type: "alert", key: "house/smoke", kind: .alert))
        #expect(router.route("raw/x") == .init(channel: "raw", type: "message", key: nil, kind: .event))
    }

    @Test func firstMatchWinsAndUnmatchedIsNil() {
        let ordered = TopicRouter([
            RouteConfig(topic: try! Selector("a/special"), channel: "special"),
            RouteConfig(topic: try! Selector("a/+"), channel: "general", key: "{1}"),
        ])
        #expect(ordered.route("a/special")?.channel == "special")
        #expect(ordered.route("a/other")?.channel == "general")
        #expect(router.route("unknown/topic") == nil)
        #expect(router.route("sensors/too/many/levels") == nil)
    }

    @Test func payloadsBecomeJSON() {
        #expect(PayloadNormalizer.json(for: Array("{\"value\": 21.5}".utf8)) == "{\"value\": 21.5}")
        #expect(PayloadNormalizer.json(for: Array("{\n\"a\":1\n}".utf8)) == "{ \"a\":1 }")
        #expect(PayloadNormalizer.json(for: Array("21.5".utf8)) == "21.5")
        #expect(PayloadNormalizer.json(for: Array("open".utf8)) == "\"open\"")
        #expect(PayloadNormalizer.json(for: Array("line\nbreak".utf8)) == "\"line\\nbreak\"")
        #expect(PayloadNormalizer.json(for: []) == "\"\"")
        let bytes: [UInt8] = [0xFF, 0x00, 0xC3]
        #expect(PayloadNormalizer.json(for: bytes) == "{\"base64\":\"\(Data(bytes).base64EncodedString())\"}")
    }
}
