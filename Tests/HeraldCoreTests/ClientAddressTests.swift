import HTTPTypes
import Hummingbird
import NIOCore
import Testing
@testable import HeraldCore

/// Who a request is counted against: the peer, or the client a trusted proxy names.
@Suite struct ClientAddressTests {
    func request(_ headers: HTTPFields) -> Request {
        Request(head: HTTPRequest(method: .get, scheme: "http", authority: "h", path: "/", headerFields: headers),
                body: .init(buffer: ByteBuffer()))
    }

    let loopbackPeer = try! SocketAddress(ipAddress: "127.0.0.1", port: 5000)
    let remotePeer = try! SocketAddress(ipAddress: "198.51.100.9", port: 5000)

    @Test func aTrustedProxyNamesTheClientFromTheRight() throws {
        let clients = ClientAddress(trustedProxies: AddressRange.loopback + [try AddressRange("10.0.0.0/8")])
        #expect(clients.client(of: request([:]), peer: loopbackPeer) == "127.0.0.1")
        #expect(clients.client(of: request([.xForwardedFor: "203.0.113.7"]), peer: loopbackPeer) == "203.0.113.7")
        // The leftmost entry is whatever the client wrote; only the hops trusted proxies added count.
        #expect(clients.client(of: request([.xForwardedFor: "1.2.3.4, 203.0.113.7, 10.1.1.1"]), peer: loopbackPeer) == "203.0.113.7")
        #expect(clients.client(of: request([.xForwardedFor: "2001:db8::1"]), peer: loopbackPeer) == "2001:db8:0:0::/64")
        #expect(clients.client(of: request([.xForwardedFor: "2001:db8::ffff:1"]), peer: loopbackPeer) == "2001:db8:0:0::/64",
                 "one host's addresses share its /64's budget")
        #expect(ClientAddress.budgetKey("::ffff:192.0.2.1") == "192.0.2.1")
        // A client's own Forwarded, passed through by a proxy that appends X-Forwarded-For, is not believed.
        #expect(clients.client(of: request([HTTPField.Name("Forwarded")!: "for=127.0.0.1", .xForwardedFor: "203.0.113.7"]),
                               peer: loopbackPeer) == "203.0.113.7")
        #expect(!ClientAddress.isLoopback("127.x") && ClientAddress.isLoopback("127.0.0.9"))
    }

    @Test func anUntrustedPeerIsTheClientWhateverItClaims() {
        let clients = ClientAddress(trustedProxies: AddressRange.loopback)
        #expect(clients.client(of: request([.xForwardedFor: "127.0.0.1"]), peer: remotePeer) == "198.51.100.9")
    }

    @Test func rangesMatchByPrefix() throws {
        let range = try AddressRange("192.168.0.0/16")
        #expect(range.contains("192.168.4.2") && !range.contains("192.169.0.1") && !range.contains("::1"))
        #expect(try AddressRange("127.0.0.0/8").contains("::ffff:127.0.0.1"), "an IPv4 client on a dual-stack socket")
        #expect(try AddressRange("2001:db8::/32").contains("2001:db8:1::5"))
        #expect(throws: InvalidAddressRange.self) { try AddressRange("nonsense") }
        #expect(throws: InvalidAddressRange.self) { try AddressRange("10.0.0.0/40") }
        for text in ["", "/", "/8", "10.0.0.0/"] { #expect(throws: InvalidAddressRange.self) { try AddressRange(text) } }
    }

    @Test func keysRefuseWhatWouldMisleadOrSplitALine() {
        #expect(throws: Never.self) { try Names.validateKey("kitchen/temp °C") }
        #expect(throws: InvalidName.self) { try Names.validateKey("a\u{202E}txt.exe") }
        #expect(throws: InvalidName.self) { try Names.validateKey("x\u{2066}y") }
        do {
            try Names.validateKey(String(repeating: "k", count: 300))
            Issue.record("a 300-byte key was accepted")
        } catch {
            #expect(error.reason == "key longer than 256 bytes (300)")
        }
    }
}
