import Crypto
import Foundation

/// What the caller of one request may do (DESIGN §8). `admin` adds acknowledging alerts and
/// reading `/metrics`; it never widens the subscribe and publish scopes.
public struct Access: Sendable {
    public var name: String?
    /// nil: every channel, `$` ones included.
    public var subscribe: SelectorSet?
    public var publish: SelectorSet?
    public var admin: Bool
    /// The hash of the session cookie that authenticated the request, if one did: such a request
    /// is checked against cross-site forgery, and its streams end when the session does.
    public var session: String?

    /// Without tokens configured, Herald serves anyone (and then only on loopback).
    public static let everything = Access(name: nil, subscribe: nil, publish: nil, admin: true)

    public func canRead(_ channel: String) -> Bool { subscribe?.matches(channel) ?? true }
    public func canPublish(_ channel: String) -> Bool { publish?.matches(channel) ?? true }

    /// A filter that only ever passes channels this caller may read, whatever it asked for.
    public func narrow(_ filter: EventFilter) -> EventFilter {
        guard let subscribe else { return filter }
        var narrowed = filter
        narrowed.allowed = subscribe
        return narrowed
    }
}

/// Checks presented tokens against the configured hashes.
public struct TokenAuthority: Sendable {
    struct Entry: Sendable {
        let digest: [UInt8]
        let access: Access
    }

    let entries: [Entry]

    public init(_ tokens: [TokenConfig]) {
        entries = tokens.map { token in
            Entry(digest: TokenConfig.digestBytes(token.sha256) ?? [],
                  access: Access(name: token.name,
                                 subscribe: SelectorSet(token.subscribe.compactMap { try? Selector($0) }),
                                 publish: SelectorSet(token.publish.compactMap { try? Selector($0) }),
                                 admin: token.admin))
        }
    }

    public var isEnabled: Bool { !entries.isEmpty }

    /// The access of a token, comparing its digest with every entry in constant time, so the
    /// answer's timing says nothing about how close a guess was.
    public func access(forToken token: String) -> Access? {
        let digest = Array(SHA256.hash(data: Data(token.utf8)))
        var found: Access?
        for entry in entries where Self.constantTimeEqual(entry.digest, digest) {
            found = entry.access
        }
        return found
    }

    /// The access of the token whose SHA-256 is `hex` (a session's), if that token is still configured.
    public func access(forDigest hex: String) -> Access? {
        guard let digest = TokenConfig.digestBytes(hex) else { return nil }
        return entries.first { Self.constantTimeEqual($0.digest, digest) }?.access
    }

    /// The digests of the configured tokens, lowercase hex.
    public var digests: [String] { entries.map { $0.digest.map { String(format: "%02x", $0) }.joined() } }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    public static func sha256Hex(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// A fresh random token: 32 bytes, URL-safe base64.
    public static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Base64URL.encode(bytes)
    }
}
