import Foundation
@testable import HeraldCore
import Testing

/// Quoted-printable, RFC 2047 words and dot-stuffing, checked against decoders written here
/// from the RFCs (the integration tests check them against Python's email package).
@Suite struct SMTPEncodingTests {
    @Test func quotedPrintableKeepsPlainTextAndEscapesTheRest() {
        #expect(QuotedPrintable.encode("hello world") == "hello world\r\n")
        #expect(QuotedPrintable.encode("a=b") == "a=3Db\r\n")
        #expect(QuotedPrintable.encode("café") == "caf=C3=A9\r\n")
        #expect(QuotedPrintable.encode("trailing \nspace\t") == "trailing=20\r\nspace=09\r\n", "whitespace ending a line is escaped")
        #expect(QuotedPrintable.encode("one\r\ntwo\rthree\nfour\n") == "one\r\ntwo\r\nthree\r\nfour\r\n")
        #expect(QuotedPrintable.encode("") == "\r\n")
    }

    @Test func quotedPrintableLinesStayWithin76AndComeBackWhole() {
        let text = String(repeating: "0123456789 ", count: 300) + "\n" + String(repeating: "é=", count: 200) + "\n.dot\n"
        let encoded = QuotedPrintable.encode(text)
        let lines = encoded.components(separatedBy: "\r\n").dropLast()
        #expect(lines.allSatisfy { $0.utf8.count <= 76 }, "\(lines.map(\.count).max() ?? 0)")
        #expect(decodeQuotedPrintable(encoded) == text.replacingOccurrences(of: "\n", with: "\r\n"))
    }

    @Test func encodedWordsOnlyWhenNeededAndEachWithinTheLimit() throws {
        #expect(!EncodedWord.isNeeded(for: "Kitchen door open"))
        #expect(EncodedWord.isNeeded(for: "Température élevée"))
        #expect(EncodedWord.isNeeded(for: "looks =?like?= a word"))
        let subject = "Température élevée dans la cuisine 🔥 " + String(repeating: "ü", count: 40)
        let encoded = EncodedWord.encode(subject)
        let words = encoded.components(separatedBy: "\r\n ")
        #expect(words.count > 1)
        #expect(words.allSatisfy { $0.hasPrefix("=?utf-8?B?") && $0.hasSuffix("?=") && $0.count <= 75 })
        let decoded = try words.map { word in
            let base64 = String(word.dropFirst("=?utf-8?B?".count).dropLast(2))
            let data = try #require(Data(base64Encoded: base64))
            return try #require(String(data: data, encoding: .utf8), "each word holds whole characters")
        }
        #expect(decoded.joined() == subject)
    }

    @Test func dotStuffingDoublesALeadingDotOnly() {
        #expect(DotStuffing.dataLines("a\r\n.b\r\n") == "a\r\n..b\r\n.\r\n")
        #expect(DotStuffing.dataLines(".\r\n") == "..\r\n.\r\n", "a lone dot would end DATA")
        #expect(DotStuffing.dataLines("a.b\r\n...\r\n") == "a.b\r\n....\r\n.\r\n")
        #expect(DotStuffing.dataLines("no end") == "no end\r\n.\r\n")
    }
}

/// RFC 2045 §6.7 in reverse: soft breaks dropped, "=XX" to its byte.
private func decodeQuotedPrintable(_ text: String) -> String {
    var bytes: [UInt8] = []
    let input = Array(text.replacingOccurrences(of: "=\r\n", with: "").utf8)
    var index = 0
    while index < input.count {
        if input[index] == UInt8(ascii: "="), index + 2 < input.count,
           let byte = UInt8(String(decoding: input[index + 1...index + 2], as: UTF8.self), radix: 16) {
            bytes.append(byte)
            index += 3
        } else {
            bytes.append(input[index])
            index += 1
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}
