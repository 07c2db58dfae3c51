import Crypto
import NIOHTTP1
import Synchronization

/// `webpush:` — the alert's envelope, encrypted for one browser's subscription (RFC 8291) and
/// handed to its push service (RFC 8030) with this Herald's VAPID signature (RFC 8292).
struct WebPushSender: NotifySender {
    var subject: String
    var keys: VAPIDKeys
    var log: any NotifyStore
    var post: HTTPPost
    /// How long the push service keeps a message for a browser that is offline.
    var ttlSeconds: Int

    func send(_ delivery: NoticeDelivery) async -> DeliveryResult {
        let subscription: PushSubscription
        do {
            guard let json = try await log.pushSubscription(endpoint: delivery.lane) else {
                return .recipientGone(reason: "the subscription was removed")
            }
            subscription = try PushSubscription(json: Array(json.utf8))
        } catch {
            return .retry(reason: "subscription unreadable: \(error)", after: nil)
        }
        let key: VAPIDKey
        let body: [UInt8]
        let authorization: String
        do {
            key = try await keys.key(from: log)
            body = try WebPushEncryption.encrypt(Self.payload(delivery), for: subscription)
            authorization = try key.authorization(audienceOf: subscription.endpoint, subject: subject,
                                                  expiresAt: Clock.nowMilliseconds() / 1000 + 12 * 3600)
        } catch {
            return .permanent(reason: "cannot make the push message: \(error)")
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/octet-stream")
        headers.add(name: "Content-Encoding", value: "aes128gcm")
        headers.add(name: "TTL", value: "\(ttlSeconds)")
        headers.add(name: "Urgency", value: Self.urgency(delivery.notice))
        // One per alert: a push service that still holds an older message of it replaces it.
        headers.add(name: "Topic", value: Self.topic(delivery.notice.subject))
        headers.add(name: "Authorization", value: authorization)
        return await post.send(to: subscription.endpoint, headers: headers, body: body) { status, retryAfter, text in
            // RFC 8030 §7.3: the subscription expired or was withdrawn.
            status == 404 || status == 410 ? .recipientGone(reason: "HTTP \(status)" + (text.isEmpty ? "" : ": " + String(text.prefix(200))))
                : .http(status: status, retryAfter: retryAfter, body: text)
        }
    }

    /// The envelope as the stream carries it; one too large for a push message (3,993 bytes of
    /// plaintext) goes without its `source` and with only what the notification shows of `data`.
    static func payload(_ delivery: NoticeDelivery) -> [UInt8] {
        let whole = Array(delivery.envelope.utf8)
        if whole.count <= 3_900 { return whole }
        let event = delivery.event, notice = delivery.notice
        let data = "{\"rule\":" + (notice.rule.map(JSONText.quoted) ?? "null") + ",\"severity\":\(JSONText.quoted(notice.severity.rawValue))"
            + ",\"message\":\(JSONText.quoted(String(notice.message.prefix(1_000)))),\"truncated\":true}"
        var small = event
        small.draft.data = data
        small.draft.source = nil
        return Array(small.envelope.utf8)
    }

    /// RFC 8030 §5.3: how hard the push service should try to wake the browser.
    static func urgency(_ notice: Notice) -> String {
        guard notice.transition == .raised else { return "normal" }
        return notice.severity == .critical ? "high" : "normal"
    }

    /// RFC 8030 §5.4: at most 32 characters of the URL-safe base64 alphabet.
    static func topic(_ subject: String) -> String {
        String(Base64URL.encode(SHA256.hash(data: Array(subject.utf8)).prefix(24)).prefix(32))
    }
}

/// The VAPID key pair, made once and kept in the store, so subscriptions survive a restart.
final class VAPIDKeys: Sendable {
    private let cached = Mutex<VAPIDKey?>(nil)

    func key(from log: any NotifyStore) async throws -> VAPIDKey {
        if let key = cached.withLock({ $0 }) { return key }
        let stored = try await log.keptValue("vapid_private_key") { VAPIDKey().privateKeyBase64URL }
        let key = try VAPIDKey(privateKeyBase64URL: stored)
        cached.withLock { $0 = key }
        return key
    }
}
