import NIOCore
import Testing
@testable import HeraldCore

/// The direct lane's framing (RFC 9112 §7.1) and its grouping of streams by filter.
@Suite struct HTTPChunkTests {
    @Test(arguments: [(1, "1"), (9, "9"), (26, "1a"), (255, "ff"), (4_096, "1000")])
    func aChunkIsItsHexSizeTheBytesAndCRLF(size: Int, hex: String) {
        let body = String(repeating: "x", count: size)
        let chunk = HTTPChunk.framed(ByteBuffer(string: body))
        #expect(String(buffer: chunk) == hex + "\r\n" + body + "\r\n")
    }

    @Test func multiByteCharactersCountAsBytes() {
        let chunk = HTTPChunk.framed(ByteBuffer(string: "é€"))  // 2 + 3 bytes
        #expect(String(buffer: chunk) == "5\r\né€\r\n")
    }

    @Test func filtersThatMatchTheSameEventsShareAnIdentity() throws {
        func filter(_ selectors: [String], key: String? = nil, allowed: [String]? = nil) throws -> EventFilter {
            var filter = EventFilter(selectors: SelectorSet(try selectors.map(Selector.init)), key: key)
            filter.allowed = try allowed.map { SelectorSet(try $0.map(Selector.init)) }
            return filter
        }
        #expect(try filter(["a", "b/#"]).identity == filter(["b/#", "a"]).identity)
        #expect(try filter(["a"]).identity != filter(["a"], key: "k").identity)
        #expect(try filter(["a"], key: "k").identity != filter(["a"], key: "j").identity)
        #expect(try filter(["a"]).identity != filter(["a"], allowed: ["a"]).identity)
        #expect(try filter(["a/b"]).identity != filter(["a", "b"]).identity)
    }
}
