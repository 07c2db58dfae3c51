/// One notification to send: the event as the stream carried it, and what it means.
struct NoticeDelivery: Sendable {
    var envelope: String
    var event: StoredEvent
    var notice: Notice
    /// Older changes of the same alert a rate limit folded into this one.
    var folded = 0
    /// The Web Push subscription (its endpoint) this one is for; "" for other targets.
    var lane = ""
    /// The idempotency key: the same for every attempt, so a receiver can drop a duplicate.
    var idempotencyKey: String
}

/// How one attempt went. Retried: connection errors, timeouts, 408, 429 and 5xx; any other
/// refusal is permanent (DESIGN §12).
enum DeliveryResult: Sendable, Equatable {
    case sent
    case retry(reason: String, after: Duration?)
    case permanent(reason: String)
    /// The Web Push service says the subscription is gone (404, 410): it is removed.
    case recipientGone(reason: String)
}

/// A kind of target: sends one delivery. Never throws: every failure is a `DeliveryResult`.
protocol NotifySender: Sendable {
    func send(_ delivery: NoticeDelivery) async -> DeliveryResult
    /// Work before the first delivery and after a reconnect (Home Assistant discovery).
    func start() async
    func stop() async
}

extension NotifySender {
    func start() async {}
    func stop() async {}
}

extension DeliveryResult {
    /// An HTTP answer's meaning; `retryAfter` is the `Retry-After` header, if any.
    static func http(status: Int, retryAfter: String?, body: String) -> DeliveryResult {
        let reason = "HTTP \(status)" + (body.isEmpty ? "" : ": " + String(body.prefix(200)))
        switch status {
        case 200..<300: return .sent
        case 408, 429, 500..<600: return .retry(reason: reason, after: retryAfter.flatMap { Self.retryAfter($0) })
        default: return .permanent(reason: reason)
        }
    }

    /// `Retry-After` in seconds or as an HTTP date (RFC 9110 §10.2.3).
    static func retryAfter(_ text: String, now: Int64 = Clock.nowMilliseconds()) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(trimmed), seconds >= 0 { return .seconds(seconds) }
        guard let date = HTTPDate.parse(trimmed) else { return nil }
        return .milliseconds(max(Int64(date.timeIntervalSince1970 * 1000) - now, 0))
    }
}
