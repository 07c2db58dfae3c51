import Testing
@testable import HeraldCore

@Suite struct NoticeTests {
    func alert(_ type: String, rule: String? = "greenhouse-hot", key: String = "greenhouse/temp", severity: String = "warning") -> StoredEvent {
        let data = "{\"alertId\":\"x\",\"rule\":" + (rule.map(JSONText.quoted) ?? "null") + ",\"severity\":\"\(severity)\""
            + ",\"message\":\"temp is 31\",\"state\":\"\(type)\",\"sensorKey\":\(JSONText.quoted(key))}"
        return StoredEvent(id: 7, draft: EventDraft(channel: "alerts", type: type, key: "greenhouse-hot:" + key, data: data))
    }

    @Test func alertChangesStaleReadingsAndOfflineDevicesAreNotices() throws {
        let raised = try #require(Notice(alert("raised", severity: "critical"), alertChannels: ["alerts"]))
        #expect(raised.transition == .raised && raised.rule == "greenhouse-hot" && raised.key == "greenhouse/temp")
        #expect(raised.severity == .critical && raised.title == "critical: greenhouse-hot" && raised.message == "temp is 31")
        #expect(raised.subject == "alerts/greenhouse-hot:greenhouse/temp")
        let stale = try #require(Notice(StoredEvent(id: 8, draft: EventDraft(channel: "sensors", type: "stale", key: "a/b", data: #"{"last_seen":"x","stale_after_seconds":90}"#)),
                                        alertChannels: ["alerts"]))
        #expect(stale.transition == .stale && stale.message == "a/b on sensors has sent nothing for 1 min 30 s")
        let offline = try #require(Notice(StoredEvent(id: 9, draft: EventDraft(channel: "devices", type: "offline", key: "door", data: #"{"offline_seconds":600}"#)),
                                          alertChannels: ["alerts"]))
        #expect(offline.transition == .offline && offline.key == "door" && offline.rule == nil)
        // A reading, and a "raised" event on a channel that holds no alerts, owe nothing.
        #expect(Notice(StoredEvent(id: 10, draft: EventDraft(channel: "sensors", type: "reading", data: "{}")), alertChannels: ["alerts"]) == nil)
        #expect(Notice(alert("raised"), alertChannels: ["other"]) == nil)
    }

    @Test func filtersTakeTransitionsRulesKeysAndASeverityFloor() throws {
        var filter = NotifyFilter()
        let raised = try #require(Notice(alert("raised"), alertChannels: ["alerts"]))
        let acked = try #require(Notice(alert("acked"), alertChannels: ["alerts"]))
        #expect(filter.accepts(raised) && !filter.accepts(acked))  // raised and cleared unless told
        filter.minSeverity = .critical
        #expect(!filter.accepts(raised))
        filter.minSeverity = .warning
        filter.rules = [try Selector("door-open")]
        #expect(!filter.accepts(raised))
        filter.rules = [try Selector("greenhouse-hot")]
        filter.keys = [try Selector("greenhouse/+")]
        #expect(filter.accepts(raised))
        filter.keys = [try Selector("kitchen/#")]
        #expect(!filter.accepts(raised))
        // With rules named, an alert no rule made (a device's own) is not taken.
        filter.keys = nil
        #expect(!filter.accepts(try #require(Notice(alert("raised", rule: nil), alertChannels: ["alerts"]))))
    }

    @Test func anHTTPAnswerIsSentRetriedOrRefused() {
        #expect(DeliveryResult.http(status: 204, retryAfter: nil, body: "") == .sent)
        #expect(DeliveryResult.http(status: 503, retryAfter: "7", body: "") == .retry(reason: "HTTP 503", after: .seconds(7)))
        #expect(DeliveryResult.http(status: 429, retryAfter: nil, body: "slow down") == .retry(reason: "HTTP 429: slow down", after: nil))
        #expect(DeliveryResult.http(status: 408, retryAfter: nil, body: "") == .retry(reason: "HTTP 408", after: nil))
        #expect(DeliveryResult.http(status: 404, retryAfter: nil, body: "") == .permanent(reason: "HTTP 404"))
        let now: Int64 = 784_111_777_000  // Sun, 06 Nov 1994 08:49:37 GMT
        #expect(DeliveryResult.retryAfter("Sun, 06 Nov 1994 08:50:07 GMT", now: now) == .seconds(30))
        #expect(DeliveryResult.retryAfter("whenever", now: now) == nil)
    }

    @Test func backoffDoublesWithJitterUpToItsCapAndRetryAfterWins() {
        let policy = RetryPolicy(base: .seconds(1), cap: .seconds(60))
        #expect(policy.delay(afterAttempt: 1, retryAfter: nil, random: { $0.upperBound }) == .seconds(1))
        #expect(policy.delay(afterAttempt: 4, retryAfter: nil, random: { $0.upperBound }) == .seconds(8))
        #expect(policy.delay(afterAttempt: 4, retryAfter: nil, random: { $0.lowerBound }) == .seconds(4))
        #expect(policy.delay(afterAttempt: 30, retryAfter: nil, random: { $0.upperBound }) == .seconds(60))
        #expect(policy.delay(afterAttempt: 2, retryAfter: .seconds(20), random: { $0.upperBound }) == .seconds(20))
        #expect(policy.delay(afterAttempt: 2, retryAfter: .seconds(600), random: { $0.upperBound }) == .seconds(60))
    }
}
