import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Who a request comes from, for the per-client limits: the peer address, or, when the peer is
/// a trusted proxy (`server.trusted_proxies`, loopback by default), the address that proxy names
/// in `X-Forwarded-For`. The list is read from the right, skipping trusted hops, since only what
/// a trusted proxy appended can be believed. `Forwarded` is not read: the proxies in front of
/// gateways (nginx, HAProxy, Caddy, Traefik) append to `X-Forwarded-For` and pass a client's own
/// `Forwarded` through untouched, so it would let a client choose its address.
struct ClientAddress: Sendable {
    let trusted: [AddressRange]

    init(trustedProxies: [AddressRange]) {
        trusted = trustedProxies
    }

    func client(of request: Request, peer: SocketAddress?) -> String {
        guard let peerAddress = peer?.ipAddress else { return "unknown" }
        guard isTrusted(peerAddress) else { return Self.budgetKey(peerAddress) }
        let hops = Self.list(request.headers[values: .xForwardedFor])
        for hop in hops.reversed() where !isTrusted(hop) { return Self.budgetKey(hop) }
        // Every hop is trusted: the request began on a trusted host.
        return hops.first ?? peerAddress
    }

    /// What the per-client budgets count by: an IPv4 address, or an IPv6 address's /64, the
    /// smallest network a host is usually given, so one host cannot take a fresh budget with
    /// each of its addresses.
    static func budgetKey(_ address: String) -> String {
        guard address.contains(":"), !isLoopback(address), let bytes = AddressRange.bytes(of: address), bytes.count == 16 else {
            return address
        }
        if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            return bytes[12...].map(String.init).joined(separator: ".")  // IPv4 on a dual-stack socket
        }
        let groups = stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
        return groups.joined(separator: ":") + "::/64"
    }

    /// A loopback client is the gateway itself (a local tool, or a proxy that names nobody): the
    /// per-client limits do not apply to it, the totals do.
    static func isLoopback(_ address: String) -> Bool {
        AddressRange.loopback.contains { $0.contains(address) }
    }

    private func isTrusted(_ address: String) -> Bool {
        trusted.contains { $0.contains(address) }
    }

    static func list(_ values: [String]) -> [String] {
        values.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}

/// An IPv4 or IPv6 address, or a CIDR range of them (`10.0.0.0/8`, `::1`).
public struct AddressRange: Sendable, Equatable, CustomStringConvertible {
    let network: [UInt8]
    let prefix: Int
    public let description: String

    public static let loopback = [try! AddressRange("127.0.0.0/8"), try! AddressRange("::1")]

    public init(_ text: String) throws(InvalidAddressRange) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let bytes = Self.bytes(of: parts[0]) else { throw InvalidAddressRange(text: text) }
        let bits = bytes.count * 8
        let prefix = parts.count == 2 ? Int(parts[1]) : bits
        guard let prefix, (0...bits).contains(prefix) else { throw InvalidAddressRange(text: text) }
        (network, self.prefix, description) = (bytes, prefix, text)
    }

    func contains(_ address: String) -> Bool {
        guard var bytes = Self.bytes(of: address) else { return false }
        // An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d.
        if bytes.count == 16, network.count == 4, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            bytes = Array(bytes[12...])
        }
        guard bytes.count == network.count else { return false }
        var left = prefix
        for index in bytes.indices where left > 0 {
            let mask: UInt8 = left >= 8 ? 0xFF : ~(0xFF >> UInt8(left))
            if bytes[index] & mask != network[index] & mask { return false }
            left -= 8
        }
        return true
    }

    static func bytes(of address: String) -> [UInt8]? {
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, address, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        if inet_pton(AF_INET6, address, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}

public struct InvalidAddressRange: Error, CustomStringConvertible {
    public var text: String
    public var description: String { "\(String(reflecting: text)) is not an IP address or CIDR range (e.g. 10.0.0.0/8, ::1)" }
}

extension HTTPField.Name {
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
}
