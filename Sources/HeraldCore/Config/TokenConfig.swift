/// One configured token: its SHA-256 and its scopes.
public struct TokenConfig: Sendable, Equatable {
    public var name: String
    /// Lowercase hex of SHA-256 of the token.
    public var sha256: String
    public var subscribe: [String]
    public var publish: [String]
    public var admin: Bool

    public init(name: String, sha256: String, subscribe: [String] = ["#"], publish: [String] = [], admin: Bool = false) {
        self.name = name
        self.sha256 = sha256
        self.subscribe = subscribe
        self.publish = publish
        self.admin = admin
    }

    /// The 32 bytes of a SHA-256 written as 64 hex digits, or nil.
    public static func digestBytes(_ hex: String) -> [UInt8]? {
        let characters = Array(hex.utf8)
        guard characters.count == 64 else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: 64, by: 2) {
            guard let byte = UInt8(String(decoding: characters[index...index + 1], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }
}

