import Crypto
import Foundation
import HeraldCore
import Testing

/// The webpush target end to end against push_receiver.py, a push service that checks the VAPID
/// token and decrypts with Python's http_ece: subscriptions over HTTP, an alert pushed to every
/// browser, a subscription the push service calls gone removed, bad subscriptions refused.
@Suite struct NotifyWebPushTests {
    static let config = NotifyWebhookTests.rules + """

        notify:
          - name: browsers
            webpush: { subject: "mailto:ops@example.com" }
            transitions: [raised, cleared]
        """

    @Test func anAlertIsPushedEncryptedToEachSubscriptionAndAGoneOneIsRemoved() async throws {
        let dir = try TempDir()
        let (receiver, main, gone) = try await PushReceiverTests.start(dir)
        defer { receiver.signal(SIGTERM) }
        let herald = try await HeraldInstance(dir: dir, config: Self.config)
        let key = try await herald.get("/api/push/key")
        #expect(key.status == 200)
        let publicKey = try #require(try JSONText(validating: Array(key.body.utf8)).value(at: "publicKey")?.stringValue)
        #expect(Base64URL.decode(publicKey)?.count == 65)
        #expect(try await herald.post("/api/push/subscriptions", main.json).status == 201)
        #expect(try await herald.post("/api/push/subscriptions", main.json).status == 200)  // the same browser again
        #expect(try await herald.post("/api/push/subscriptions", gone.json).status == 201)

        try await NotifyWebhookTests.reading(herald, 31)
        do {
            try await eventually("the raised alert decrypted by the push service, and the gone subscription removed") {
                let pushed = PushReceiverTests.lines(receiver).contains { $0.value(at: "path")?.stringValue == "/push/main" }
                let notify = try await herald.get("/api/notify").body
                return pushed && notify.contains("\"subscriptions\":1")
            }
        } catch {
            throw TestFailure("\(error)\nthe push service's log:\n\(receiver.log)\nherald's:\n\(herald.process.log.suffix(3000))")
        }
        let alert = try #require(try await herald.allEvents(channel: "alerts").first)
        let line = try #require(PushReceiverTests.lines(receiver).first { $0.value(at: "path")?.stringValue == "/push/main" })
        #expect(line.value(at: "ok")?.singleLine == "true", "\(receiver.log)")
        let payload = try #require(line.value(at: "payload")?.stringValue)
        #expect(try await herald.get("/api/events?channel=alerts").body.contains(payload), "the payload is the alert's envelope")
        #expect(payload.contains("\"id\":\(alert.id)"))
        #expect(line.value(at: "sub")?.stringValue == "mailto:ops@example.com")
        #expect(line.value(at: "urgency")?.stringValue == "normal")
        #expect(line.value(at: "ttl")?.singleLine == "86400" || line.value(at: "ttl")?.stringValue == "86400")

        // The key pair is kept in the store: the browsers' subscriptions stay valid across a restart.
        try await herald.restart()
        #expect(try await herald.get("/api/push/key").body == key.body)
        #expect(try await herald.delete("/api/push/subscriptions", "{\"endpoint\":\(JSONText.quoted(main.endpoint))}") == 204)
        #expect(try await herald.delete("/api/push/subscriptions", "{\"endpoint\":\(JSONText.quoted(main.endpoint))}") == 404)
    }

    @Test func aSubscriptionWithBadKeysOrANonHTTPEndpointIsRefusedSayingWhy() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir, config: Self.config)
        let p256dh = Base64URL.encode(P256.KeyAgreement.PrivateKey().publicKey.x963Representation)
        let bad = [
            (#"{"endpoint":"ftp://push.example.com/x","keys":{"p256dh":"\#(p256dh)","auth":"AAAAAAAAAAAAAAAAAAAAAA"}}"#, "endpoint"),
            (#"{"endpoint":"https://push.example.com/x","keys":{"p256dh":"AAAA","auth":"AAAAAAAAAAAAAAAAAAAAAA"}}"#, "p256dh"),
            (#"{"endpoint":"https://push.example.com/x","keys":{"p256dh":"\#(p256dh)","auth":"AAAA"}}"#, "auth"),
            (#"{"endpoint":"http://192.168.1.10/x","keys":{"p256dh":"\#(p256dh)","auth":"AAAAAAAAAAAAAAAAAAAAAA"}}"#, "https"),
            ("not json", "JSON"),
        ]
        for (body, word) in bad {
            let answer = try await herald.post("/api/push/subscriptions", body)
            #expect(answer.status == 400 && answer.body.contains(word), "\(body) → \(answer.status) \(answer.body)")
        }
        #expect(try await herald.get("/api/notify").body.contains("\"subscriptions\":0"))
    }

    @Test func withoutAWebPushTargetThereIsNoKeyToSubscribeWith() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir)
        let answer = try await herald.get("/api/push/key")
        #expect(answer.status == 404 && answer.body.contains("no webpush target"))
    }
}
