import Crypto
import Foundation

/// Where and to whom a push message goes: what a browser's `PushSubscription.toJSON()` says
/// (RFC 8030 endpoint, RFC 8291 keys), checked once on the way in so sending never meets a bad key.
public struct PushSubscription: Sendable, Equatable {
    /// The push service's URL for this browser; a POST there delivers a message.
    public var endpoint: String
    /// The browser's P-256 public key, 65 bytes uncompressed: what messages are encrypted to.
    public var p256dh: [UInt8]
    /// The browser's 16-byte authentication secret, mixed into the key derivation.
    public var auth: [UInt8]

    /// Unchecked parts, for tests and for rows already checked when they were stored.
    public init(endpoint: String, p256dh: [UInt8], auth: [UInt8]) {
        self.endpoint = endpoint
        self.p256dh = p256dh
        self.auth = auth
    }

    /// `{"endpoint":"https://…","expirationTime":null,"keys":{"p256dh":"…","auth":"…"}}`, refused
    /// with the first thing wrong, said so a person pasting one can fix it.
    public init(json: [UInt8]) throws(PushSubscriptionError) {
        let text: JSONText
        do { text = try JSONText(validating: json) } catch { throw .notJSON(error.description) }
        guard (try? text.objectMembers()) != nil else { throw .notJSON("not an object") }
        guard let endpoint = text.value(at: "endpoint")?.stringValue, !endpoint.isEmpty else { throw .noEndpoint }
        guard Self.origin(of: endpoint) != nil else { throw .endpointNotURL(endpoint) }
        guard let p256dhText = text.value(at: "keys.p256dh")?.stringValue else { throw .p256dhMissing }
        guard let p256dh = Base64URL.decode(p256dhText) else { throw .p256dhNotBase64URL }
        guard p256dh.count == 65 else { throw .p256dhWrongLength(p256dh.count) }
        guard (try? P256.KeyAgreement.PublicKey(x963Representation: p256dh)) != nil else { throw .p256dhNotOnCurve }
        guard let authText = text.value(at: "keys.auth")?.stringValue else { throw .authMissing }
        guard let auth = Base64URL.decode(authText) else { throw .authNotBase64URL }
        guard auth.count == 16 else { throw .authWrongLength(auth.count) }
        self.init(endpoint: endpoint, p256dh: p256dh, auth: auth)
    }

    /// The same shape `init(json:)` reads, for storing and for `GET` listings.
    public var json: String {
        "{\"endpoint\":\(JSONText.quoted(endpoint)),\"expirationTime\":null,\"keys\":{\"p256dh\":\""
            + Base64URL.encode(p256dh) + "\",\"auth\":\"" + Base64URL.encode(auth) + "\"}}"
    }

    /// `scheme://host[:port]` of an http(s) URL with a host, lowercased: a VAPID token's audience.
    static func origin(of url: String) -> String? {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
              scheme == "https" || scheme == "http", let host = components.host?.lowercased(), !host.isEmpty else { return nil }
        let bracketed = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return scheme + "://" + bracketed + (components.port.map { ":\($0)" } ?? "")
    }
}

/// What is wrong with a subscription a browser (or a person) sent.
public enum PushSubscriptionError: Error, CustomStringConvertible, Equatable {
    case notJSON(String)
    case noEndpoint
    case endpointNotURL(String)
    case p256dhMissing
    case p256dhNotBase64URL
    case p256dhWrongLength(Int)
    case p256dhNotOnCurve
    case authMissing
    case authNotBase64URL
    case authWrongLength(Int)

    public var description: String {
        switch self {
        case .notJSON(let detail): "the subscription is not JSON: \(detail)"
        case .noEndpoint: "the subscription has no \"endpoint\""
        case .endpointNotURL(let endpoint): "the subscription's endpoint \(JSONText.quoted(endpoint)) is not an http(s) URL with a host"
        case .p256dhMissing: "the subscription has no \"keys.p256dh\""
        case .p256dhNotBase64URL: "the subscription's keys.p256dh is not base64url"
        case .p256dhWrongLength(let count): "the subscription's keys.p256dh is \(count) bytes, not the 65 of an uncompressed P-256 key"
        case .p256dhNotOnCurve: "the subscription's keys.p256dh is not a point on P-256"
        case .authMissing: "the subscription has no \"keys.auth\""
        case .authNotBase64URL: "the subscription's keys.auth is not base64url"
        case .authWrongLength(let count): "the subscription's keys.auth is \(count) bytes, not 16"
        }
    }
}
