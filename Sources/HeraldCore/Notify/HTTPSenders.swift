import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1

/// POSTs one request and reads what the server says; every failure becomes a `DeliveryResult`.
struct HTTPPost: Sendable {
    var client: HTTPClient = .shared
    var timeout: Duration

    /// `classify` reads the answer: what HTTP's status says (`DeliveryResult.http`) unless told otherwise.
    func send(to url: String, headers: HTTPHeaders, body: [UInt8],
              classify: (_ status: Int, _ retryAfter: String?, _ body: String) -> DeliveryResult = DeliveryResult.http) async -> DeliveryResult {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers = headers
        request.headers.replaceOrAdd(name: "User-Agent", value: "Herald")
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, timeout: .nanoseconds(Int64(timeout / .nanoseconds(1))))
            // Only the start of an answer matters for the log; a large one is not read whole.
            var text = ""
            if var answer = try? await response.body.collect(upTo: 4_096) { text = answer.readString(length: answer.readableBytes) ?? "" }
            return classify(Int(response.status.code), response.headers.first(name: "Retry-After"), text)
        } catch {
            return .retry(reason: "\(error)", after: nil)
        }
    }
}

/// `webhook:` — the envelope as the stream's `data:` carries it, signed so the receiver can tell
/// it came from this Herald, with the event id as idempotency key.
struct WebhookSender: NotifySender {
    var url: String
    var secret: [UInt8]
    var post: HTTPPost

    func send(_ delivery: NoticeDelivery) async -> DeliveryResult {
        let body = Array(delivery.envelope.utf8)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Idempotency-Key", value: delivery.idempotencyKey)
        headers.add(name: "X-Herald-Signature", value: "sha256=" + Self.signature(of: body, key: SymmetricKey(data: secret)))
        if delivery.folded > 0 { headers.add(name: "X-Herald-Folded", value: "\(delivery.folded)") }
        return await post.send(to: url, headers: headers, body: body)
    }

    static func signature(of body: [UInt8], key: SymmetricKey) -> String {
        HMAC<SHA256>.authenticationCode(for: body, using: key).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}

/// `ntfy:` — a message to an ntfy topic, with its title, priority and tags (ntfy's publish API).
struct NtfySender: NotifySender {
    var url: String
    var token: String?
    var post: HTTPPost

    func send(_ delivery: NoticeDelivery) async -> DeliveryResult {
        let notice = delivery.notice
        var headers = HTTPHeaders()
        headers.add(name: "Title", value: Self.headerSafe(notice.title))
        headers.add(name: "Priority", value: Self.priority(notice))
        headers.add(name: "Tags", value: Self.tags(notice).joined(separator: ","))
        if let token { headers.add(name: "Authorization", value: "Bearer " + token) }
        var message = notice.message
        if delivery.folded > 0 { message += " (\(delivery.folded) earlier change\(delivery.folded == 1 ? "" : "s") folded in)" }
        return await post.send(to: url, headers: headers, body: Array(message.utf8))
    }

    /// ntfy's 1 (min) … 5 (urgent): a raised critical alert is urgent, one that clears is not.
    static func priority(_ notice: Notice) -> String {
        guard notice.transition == .raised else { return notice.transition == .cleared ? "3" : "2" }
        switch notice.severity {
        case .critical: return "5"
        case .warning: return "4"
        case .info: return "3"
        }
    }

    /// Emoji short codes ntfy shows before the title, then the rule for filtering.
    static func tags(_ notice: Notice) -> [String] {
        let mark: String = switch notice.transition {
        case .raised: notice.severity == .critical ? "rotating_light" : "warning"
        case .cleared: "white_check_mark"
        case .acked: "eyes"
        case .stale: "hourglass"
        case .offline: "electric_plug"
        }
        return [mark, notice.transition.rawValue] + (notice.rule.map { [$0] } ?? [])
    }

    /// Header values travel as ASCII: other text goes as an RFC 2047 encoded word, which ntfy
    /// decodes; control characters never go.
    static func headerSafe(_ text: String) -> String {
        let line = String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) })
        if line.unicodeScalars.allSatisfy(\.isASCII) { return line }
        return "=?UTF-8?B?" + Data(line.utf8).base64EncodedString() + "?="
    }
}
