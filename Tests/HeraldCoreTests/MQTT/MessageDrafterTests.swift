import Logging
import Testing
@testable import HeraldCore

/// What a message becomes: a user route's event, else a source's, else a dead letter with why.
@Suite struct MessageDrafterTests {
    let drafter = MessageDrafter(
        router: TopicRouter([
            RouteConfig(topic: try! Selector("sensors/+/+"), channel: "sensors", type: "reading", key: "{1}/{2}"),
            RouteConfig(topic: try! Selector("tele/mine/SENSOR"), channel: "mine"),
        ]),
        sources: SourcesConfig().makeSourceSet(), payloadLimit: 64, logger: Logger(label: "test"), onceAMinute: OncePerMinuteLog())

    func message(_ topic: String, _ payload: String, qos: Int = 1, retain: Bool = false) -> MQTTMessage {
        MQTTMessage(topic: topic, payload: Array(payload.utf8), qos: qos, retain: retain, mid: 1)
    }

    @Test func aRoutedMessageBecomesItsRoutesEventWithWhereItCameFrom() {
        let drafted = drafter.draft(message("sensors/attic/temp", #"{"v":1}"#, qos: 0, retain: true))
        let event = drafted.item.drafts
        #expect(event.map(\.channel) == ["sensors"] && event.first?.key == "attic/temp" && event.first?.data == #"{"v":1}"#)
        #expect(event.first?.source == #"{"mqtt":{"topic":"sensors/attic/temp","qos":0,"retain":true}}"#)
        #expect(drafted.item.effects.isEmpty && drafted.subscribe.isEmpty)
    }

    @Test func aUserRouteWinsOverTheSourceThatKnowsTheTopic() {
        let payload = #"{"AM2301":{"Temperature":24.6}}"#
        #expect(drafter.draft(message("tele/mine/SENSOR", payload)).item.drafts.map(\.channel) == ["mine"])
        let sourced = drafter.draft(message("tele/other/SENSOR", payload)).item
        #expect(sourced.drafts.contains { $0.key == "tasmota/other/am2301_temperature" }, "\(sourced.drafts)")
        #expect(!sourced.effects.isEmpty, "the device's state goes with its events")
    }

    @Test func aDiscoveryConfigAsksToFollowTheTopicsItNames() {
        let config = #"{"name":"T","stat_t":"attic/t/state","uniq_id":"t1","dev":{"ids":"d1","name":"attic"}}"#
        let drafted = drafter.draft(message("homeassistant/sensor/attic/t/config", config, retain: true))
        #expect(drafted.subscribe == ["attic/t/state"])
    }

    @Test func whatNothingTakesGoesToTheDeadLetterChannelWithTheReason() {
        let unrouted = drafter.draft(message("nowhere/x", "hello")).item.drafts
        #expect(unrouted.map(\.channel) == ["$deadletter"] && unrouted.first?.type == "unrouted")
        #expect(unrouted.first?.data == #"{"topic":"nowhere/x","size":5,"reason":"no route or source takes the topic","payload":"hello"}"#)
        let oversize = drafter.draft(message("sensors/attic/temp", String(repeating: "y", count: 65))).item.drafts
        #expect(oversize.first?.type == "oversize" && oversize.first?.data.contains("yyy") == false, "the payload itself is not kept")
        let badKey = drafter.draft(message("sensors/" + String(repeating: "k", count: 300) + "/x", "1")).item.drafts
        #expect(badKey.first?.type == "invalid")
    }
}
