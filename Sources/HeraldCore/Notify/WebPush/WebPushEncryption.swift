import Crypto
import Foundation

/// RFC 8291 message encryption: the push service relays bytes only the subscribed browser can
/// read. The body is RFC 8188 `aes128gcm` with one record, its header carrying the sender's
/// ephemeral public key as the key id.
public enum WebPushEncryption {
    /// A push service must accept at least this much body (RFC 8030 §7.2, RFC 8291 §4).
    public static let pushServiceLimit = 4096
    /// Salt (16), record size (4), key id length (1), the sender's key (65).
    static let headerSize = 86
    /// The AES-GCM tag and the last record's delimiter.
    static let recordOverhead = 17

    /// The `aes128gcm` body for `subscription`. `senderKey` and `salt` are fresh per message unless
    /// a test pins them: reusing both would repeat a key and nonce.
    public static func encrypt(
        _ plaintext: [UInt8], for subscription: PushSubscription, recordSize: UInt32 = 4096,
        senderKey: P256.KeyAgreement.PrivateKey = .init(), salt: [UInt8] = WebPushEncryption.randomBytes(16)
    ) throws -> [UInt8] {
        guard salt.count == 16 else { throw WebPushEncryptionError.saltNotSixteenBytes(salt.count) }
        guard plaintext.count + recordOverhead <= Int(recordSize) else {
            throw WebPushEncryptionError.doesNotFitOneRecord(plaintext: plaintext.count, recordSize: recordSize)
        }
        guard headerSize + plaintext.count + recordOverhead <= pushServiceLimit else {
            throw WebPushEncryptionError.tooLargeForPushServices(plaintext: plaintext.count)
        }
        let receiver = try P256.KeyAgreement.PublicKey(x963Representation: subscription.p256dh)
        let senderPublic = Array(senderKey.publicKey.x963Representation)
        let shared = try senderKey.sharedSecretFromKeyAgreement(with: receiver)

        // §3.3–3.4: the ECDH secret and the auth secret make the input key material; the salt and
        // that make the content key and nonce (RFC 8188 §2.2–2.3).
        let keyInfo = Array("WebPush: info".utf8) + [0] + subscription.p256dh + senderPublic
        let ikm = shared.hkdfDerivedSymmetricKey(using: SHA256.self, salt: subscription.auth, sharedInfo: keyInfo, outputByteCount: 32)
        let cek = HKDF<SHA256>.deriveKey(inputKeyMaterial: ikm, salt: salt,
                                         info: Array("Content-Encoding: aes128gcm".utf8) + [0], outputByteCount: 16)
        let nonce = HKDF<SHA256>.deriveKey(inputKeyMaterial: ikm, salt: salt,
                                           info: Array("Content-Encoding: nonce".utf8) + [0], outputByteCount: 12)

        // One record, so its sequence number is 0 and the nonce is used as derived; 0x02 marks it last.
        let sealed = try AES.GCM.seal(plaintext + [2], using: cek,
                                      nonce: AES.GCM.Nonce(data: nonce.withUnsafeBytes { Array($0) }))
        var body = salt
        body.reserveCapacity(headerSize + plaintext.count + recordOverhead)
        body += withUnsafeBytes(of: recordSize.bigEndian) { Array($0) }
        body.append(UInt8(senderPublic.count))
        body += senderPublic
        body += sealed.ciphertext
        body += sealed.tag
        return body
    }

    /// `count` bytes from the system's secure generator.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        SymmetricKey(size: .init(bitCount: count * 8)).withUnsafeBytes { Array($0) }
    }
}

/// Why a message could not be encrypted: each says what would have to change.
public enum WebPushEncryptionError: Error, CustomStringConvertible, Equatable {
    case doesNotFitOneRecord(plaintext: Int, recordSize: UInt32)
    case tooLargeForPushServices(plaintext: Int)
    case saltNotSixteenBytes(Int)

    public var description: String {
        switch self {
        case .doesNotFitOneRecord(let plaintext, let recordSize):
            "a \(plaintext)-byte message does not fit one \(recordSize)-byte record (at most \(Int(recordSize) - WebPushEncryption.recordOverhead))"
        case .tooLargeForPushServices(let plaintext):
            "a \(plaintext)-byte message is more than push services accept (at most "
                + "\(WebPushEncryption.pushServiceLimit - WebPushEncryption.headerSize - WebPushEncryption.recordOverhead))"
        case .saltNotSixteenBytes(let count): "the salt is \(count) bytes, not 16"
        }
    }
}
