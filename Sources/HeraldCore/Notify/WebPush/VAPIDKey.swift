import Crypto
import Foundation

/// The application server's identity to push services (RFC 8292): browsers subscribe with its
/// public key, and each request carries a JWT it signed, so only this server can push to them.
public struct VAPIDKey: Sendable {
    /// The private scalar: swift-crypto's key types are not `Sendable`, so the key is rebuilt from it to sign.
    let scalar: [UInt8]
    /// Derived once, as it goes into every header.
    public let publicKeyBase64URL: String

    /// A new random key: made once, then stored by `privateKeyBase64URL` (subscriptions are bound to it).
    public init() { self.init(P256.Signing.PrivateKey()) }

    /// The key stored before; refused unless it is a valid 32-byte P-256 scalar.
    public init(privateKeyBase64URL: String) throws(VAPIDKeyError) {
        guard let raw = Base64URL.decode(privateKeyBase64URL) else { throw .notBase64URL }
        guard raw.count == 32 else { throw .wrongLength(raw.count) }
        let key: P256.Signing.PrivateKey
        do { key = try P256.Signing.PrivateKey(rawRepresentation: raw) } catch { throw .notAScalar }
        self.init(key)
    }

    private init(_ key: P256.Signing.PrivateKey) {
        scalar = Array(key.rawRepresentation)
        // The 65-byte uncompressed point: `applicationServerKey` for `pushManager.subscribe`.
        publicKeyBase64URL = Base64URL.encode(key.publicKey.x963Representation)
    }

    /// The 32-byte private scalar, for the server's own storage only.
    public var privateKeyBase64URL: String { Base64URL.encode(scalar) }

    /// The `Authorization` header for a POST to `endpoint`: `vapid t=<ES256 JWT>, k=<public key>`,
    /// the JWT's audience being the endpoint's origin, as push services check.
    public func authorization(audienceOf endpoint: String, subject: String, expiresAt: Int64) throws(VAPIDKeyError) -> String {
        guard let audience = PushSubscription.origin(of: endpoint) else { throw .endpointNotURL(endpoint) }
        guard subject.hasPrefix("mailto:") || subject.hasPrefix("https://") else { throw .subjectNotContact(subject) }
        let header = #"{"typ":"JWT","alg":"ES256"}"#
        let claims = "{\"aud\":\(JSONText.quoted(audience)),\"exp\":\(expiresAt),\"sub\":\(JSONText.quoted(subject))}"
        let signingInput = Base64URL.encode(header.utf8) + "." + Base64URL.encode(claims.utf8)
        // ES256 in a JWS is the raw r‖s (RFC 7518 §3.4), not DER.
        let signature: P256.Signing.ECDSASignature
        do {
            signature = try P256.Signing.PrivateKey(rawRepresentation: scalar).signature(for: Array(signingInput.utf8))
        } catch { throw .signingFailed(String(describing: error)) }
        return "vapid t=" + signingInput + "." + Base64URL.encode(signature.rawRepresentation) + ", k=" + publicKeyBase64URL
    }
}

/// What is wrong with a stored VAPID key or a request to sign.
public enum VAPIDKeyError: Error, CustomStringConvertible, Equatable {
    case notBase64URL
    case wrongLength(Int)
    case notAScalar
    case endpointNotURL(String)
    case subjectNotContact(String)
    case signingFailed(String)

    public var description: String {
        switch self {
        case .notBase64URL: "the VAPID private key is not base64url"
        case .wrongLength(let count): "the VAPID private key is \(count) bytes, not the 32 of a P-256 scalar"
        case .notAScalar: "the VAPID private key is not a valid P-256 private key"
        case .endpointNotURL(let endpoint): "the push endpoint \(JSONText.quoted(endpoint)) is not an http(s) URL with a host"
        case .subjectNotContact(let subject): "the VAPID subject \(JSONText.quoted(subject)) is not a mailto: or https: URL"
        case .signingFailed(let detail): "signing the VAPID token failed: \(detail)"
        }
    }
}
