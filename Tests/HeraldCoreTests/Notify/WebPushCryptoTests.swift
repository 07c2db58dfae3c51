import Crypto
import Foundation
import Testing
@testable import HeraldCore

@Suite struct WebPushCryptoTests {
    // RFC 8291 Appendix A: fixed keys and salt, so the body is known byte for byte.
    enum RFC8291 {
        static let plaintext = "When I grow up, I want to be a watermelon"
        static let senderPrivate = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
        static let senderPublic = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
        static let receiverPublic = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
        static let salt = "DGv6ra1nlYgDCS1FRnbzlw"
        static let auth = "BTBZMqHH6r4Tts7J_aSIgg"
        static let body = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
    }

    static func subscriptionJSON(endpoint: String? = "https://push.example.net/send/abc",
                                 p256dh: String? = RFC8291.receiverPublic, auth: String? = RFC8291.auth) -> String {
        var keys: [String] = []
        if let p256dh { keys.append("\"p256dh\":\"\(p256dh)\"") }
        if let auth { keys.append("\"auth\":\"\(auth)\"") }
        let endpointMember = endpoint.map { "\"endpoint\":\"\($0)\"," } ?? ""
        return "{\(endpointMember)\"expirationTime\":null,\"keys\":{\(keys.joined(separator: ","))}}"
    }

    @Test func encryptsTheRFC8291Vector() throws {
        let subscription = try PushSubscription(json: Array(Self.subscriptionJSON().utf8))
        let sender = try P256.KeyAgreement.PrivateKey(rawRepresentation: #require(Base64URL.decode(RFC8291.senderPrivate)))
        #expect(Base64URL.encode(sender.publicKey.x963Representation) == RFC8291.senderPublic)
        let body = try WebPushEncryption.encrypt(Array(RFC8291.plaintext.utf8), for: subscription, recordSize: 4096,
                                                 senderKey: sender, salt: #require(Base64URL.decode(RFC8291.salt)))
        #expect(Base64URL.encode(body) == RFC8291.body)
    }

    @Test func refusesWhatDoesNotFitOneRecord() throws {
        let subscription = try PushSubscription(json: Array(Self.subscriptionJSON().utf8))
        #expect(throws: WebPushEncryptionError.doesNotFitOneRecord(plaintext: 100, recordSize: 116)) {
            try WebPushEncryption.encrypt(Array(repeating: 0x61, count: 100), for: subscription, recordSize: 116)
        }
        #expect(throws: Never.self) { try WebPushEncryption.encrypt(Array(repeating: 0x61, count: 99), for: subscription, recordSize: 116) }
        #expect(throws: WebPushEncryptionError.tooLargeForPushServices(plaintext: 3994)) {
            try WebPushEncryption.encrypt(Array(repeating: 0x61, count: 3994), for: subscription, recordSize: 8192)
        }
    }

    @Test func freshKeyAndSaltPerMessage() throws {
        let subscription = try PushSubscription(json: Array(Self.subscriptionJSON().utf8))
        let first = try WebPushEncryption.encrypt(Array("hi".utf8), for: subscription)
        let second = try WebPushEncryption.encrypt(Array("hi".utf8), for: subscription)
        #expect(first.count == 86 + 2 + 17)
        #expect(first[0..<16] != second[0..<16])
        #expect(first[21..<86] != second[21..<86])
    }

    @Test func base64URLRoundTrips() {
        for count in 0..<40 {
            let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 250) }
            let text = Base64URL.encode(bytes)
            #expect(!text.contains("=") && !text.contains("+") && !text.contains("/"))
            #expect(Base64URL.decode(text) == bytes)
        }
        #expect(Base64URL.decode("_-8=") == [0xFF, 0xEF])
        #expect(Base64URL.decode("AA==") == [0])
        #expect(Base64URL.decode("AA") == [0])
        for bad in ["A", "AAAAA", "A+B/", "AA=", "A===", "AB", "=AAA"] { #expect(Base64URL.decode(bad) == nil, "\(bad)") }
    }

    @Test func vapidTokenVerifiesAndSaysItsClaims() throws {
        let key = VAPIDKey()
        let stored = try VAPIDKey(privateKeyBase64URL: key.privateKeyBase64URL)
        #expect(stored.publicKeyBase64URL == key.publicKeyBase64URL)
        #expect(Base64URL.decode(key.publicKeyBase64URL)?.count == 65)

        let header = try stored.authorization(audienceOf: "https://Push.Example.net:8443/send/abc?x=1",
                                              subject: "mailto:ops@example.com", expiresAt: 1_800_000_000)
        let parts = header.split(separator: ", ")
        #expect(parts.count == 2 && parts[0].hasPrefix("vapid t=") && parts[1] == "k=" + key.publicKeyBase64URL)
        let jwt = parts[0].dropFirst("vapid t=".count).split(separator: ".").map(String.init)
        try #require(jwt.count == 3)
        #expect(Base64URL.decode(jwt[0]).map { String(decoding: $0, as: UTF8.self) } == #"{"typ":"JWT","alg":"ES256"}"#)

        let claims = try JSONText(validating: #require(Base64URL.decode(jwt[1])))
        #expect(claims.value(at: "aud")?.stringValue == "https://push.example.net:8443")
        #expect(claims.value(at: "exp")?.numberValue == 1_800_000_000)
        #expect(claims.value(at: "sub")?.stringValue == "mailto:ops@example.com")

        let publicKey = try P256.Signing.PublicKey(x963Representation: #require(Base64URL.decode(key.publicKeyBase64URL)))
        let raw = try #require(Base64URL.decode(jwt[2]))
        #expect(raw.count == 64)
        let signature = try P256.Signing.ECDSASignature(rawRepresentation: raw)
        #expect(publicKey.isValidSignature(signature, for: Array((jwt[0] + "." + jwt[1]).utf8)))
        #expect(!publicKey.isValidSignature(signature, for: Array((jwt[0] + "." + jwt[0]).utf8)))
    }

    @Test func vapidRefusals() {
        #expect(throws: VAPIDKeyError.notBase64URL) { try VAPIDKey(privateKeyBase64URL: "not base64!") }
        #expect(throws: VAPIDKeyError.wrongLength(16)) { try VAPIDKey(privateKeyBase64URL: RFC8291.auth) }
        #expect(throws: VAPIDKeyError.notAScalar) { try VAPIDKey(privateKeyBase64URL: Base64URL.encode([UInt8](repeating: 0, count: 32))) }
        let key = VAPIDKey()
        #expect(throws: VAPIDKeyError.endpointNotURL("ftp://x/y")) {
            try key.authorization(audienceOf: "ftp://x/y", subject: "mailto:a@b", expiresAt: 0)
        }
        #expect(throws: VAPIDKeyError.subjectNotContact("ops@example.com")) {
            try key.authorization(audienceOf: "https://x/y", subject: "ops@example.com", expiresAt: 0)
        }
    }

    @Test func subscriptionRoundTripsItsJSON() throws {
        let subscription = try PushSubscription(json: Array(Self.subscriptionJSON().utf8))
        #expect(subscription.endpoint == "https://push.example.net/send/abc")
        #expect(subscription.p256dh.count == 65 && subscription.auth.count == 16)
        #expect(try PushSubscription(json: Array(subscription.json.utf8)) == subscription)
        #expect(subscription.json == Self.subscriptionJSON())
    }

    // The receiver's key with one coordinate byte changed: 65 bytes, uncompressed, off the curve.
    static let offCurve: String = {
        var bytes = Base64URL.decode(RFC8291.receiverPublic)!
        bytes[64] ^= 1
        return Base64URL.encode(bytes)
    }()

    @Test(arguments: [
        ("{\"endpoint\":", "the subscription is not JSON"),
        ("[1]", "the subscription is not JSON: not an object"),
        (WebPushCryptoTests.subscriptionJSON(endpoint: nil), "the subscription has no \"endpoint\""),
        (WebPushCryptoTests.subscriptionJSON(endpoint: "push.example.net/x"), "is not an http(s) URL with a host"),
        (WebPushCryptoTests.subscriptionJSON(endpoint: "ftp://push.example.net/x"), "is not an http(s) URL with a host"),
        (WebPushCryptoTests.subscriptionJSON(endpoint: "https:///x"), "is not an http(s) URL with a host"),
        (WebPushCryptoTests.subscriptionJSON(p256dh: nil), "the subscription has no \"keys.p256dh\""),
        (WebPushCryptoTests.subscriptionJSON(p256dh: "BCVx+r7N"), "keys.p256dh is not base64url"),
        (WebPushCryptoTests.subscriptionJSON(p256dh: RFC8291.auth), "keys.p256dh is 16 bytes, not the 65"),
        (WebPushCryptoTests.subscriptionJSON(p256dh: WebPushCryptoTests.offCurve), "keys.p256dh is not a point on P-256"),
        (WebPushCryptoTests.subscriptionJSON(auth: nil), "the subscription has no \"keys.auth\""),
        (WebPushCryptoTests.subscriptionJSON(auth: "BTBZ/qHH"), "keys.auth is not base64url"),
        (WebPushCryptoTests.subscriptionJSON(auth: RFC8291.salt + "AAAA"), "keys.auth is 19 bytes, not 16"),
    ])
    func subscriptionErrorsSayWhatIsWrong(json: String, message: String) {
        do {
            _ = try PushSubscription(json: Array(json.utf8))
            Issue.record("accepted \(json)")
        } catch {
            #expect(error.description.contains(message), "\(error.description)")
        }
    }
}
