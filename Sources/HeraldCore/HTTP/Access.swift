import Crypto
import Foundation

/// What the caller of one request may do (DESIGN §8).
public struct Access: Sendable {
    public var name: String?
    /// nil: every channel, `$` ones included.
    public var subscribe: SelectorSet?
    public var publish: SelectorSet?
    public var admin: Bool

    /// Without tokens configured, Herald serves anyone (and then only on loopback).
    public static let everything = Access(name: nil, subscribe: nil, publish: nil, admin: true)

    public func canRead(_ channel: String) -> Bool { admin || subscribe?.matches(channel) ?? true }
    public func canPublish(_ channel: String) -> Bool { admin || publish?.matches(channel) ?? true }

    /// A filter that only ever passes channels this caller may read, whatever it asked for.
    public func narrow(_ filter: EventFilter) -> EventFilter {
        guard !admin, let subscribe else { return filter }
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

    public func access(named name: String) -> Access? {
        entries.first { $0.access.name == name }?.access
    }

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
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}
