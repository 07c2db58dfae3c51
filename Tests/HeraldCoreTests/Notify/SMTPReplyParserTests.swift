@testable import HeraldCore
import NIOCore
import Testing

/// Replies and the lines they come in: the parts of the client that need no server.
@Suite struct SMTPReplyParserTests {
    private func replies(_ lines: [String]) throws -> [SMTPReply] {
        var parser = SMTPReplyParser()
        return try lines.compactMap { try parser.feed($0) }
    }

    @Test func aOneLineReplyIsItsCodeAndText() throws {
        #expect(try replies(["250 2.0.0 ok"]) == [SMTPReply(code: 250, lines: ["2.0.0 ok"])])
        #expect(try replies(["354"]) == [SMTPReply(code: 354, lines: [""])], "a bare code is a whole reply")
    }

    @Test func aMultiLineReplyEndsAtTheLineWithASpace() throws {
        let ehlo = try replies(["250-mail.example.com", "250-STARTTLS", "250 AUTH PLAIN LOGIN", "221 bye"])
        #expect(ehlo == [SMTPReply(code: 250, lines: ["mail.example.com", "STARTTLS", "AUTH PLAIN LOGIN"]),
                         SMTPReply(code: 221, lines: ["bye"])])
        #expect(ehlo[0].description == "250 mail.example.com / STARTTLS / AUTH PLAIN LOGIN")
    }

    @Test func whatIsNotAReplyIsAnError() {
        for line in ["HTTP/1.1 400 Bad Request", "25 short", "650 no such class", "250_x", ""] {
            #expect(throws: SMTPError.self, "\(line)") { try replies([line]) }
        }
        #expect(throws: SMTPError.self, "a code that changes inside a reply") { try replies(["250-a", "251 b"]) }
    }

    @Test func aReplyCannotGrowWithoutEnd() {
        let endless = Array(repeating: "250-more", count: SMTPReplyParser.maxLines + 1)
        #expect(throws: SMTPError.self) { try replies(endless) }
    }

    @Test func linesAreCutAtTheirEndsWhereverTheBytesBreak() throws {
        var reader = SMTPLineReader()
        var first = ByteBuffer(string: "220 ready\r\n250-a")
        reader.append(&first)
        #expect(try reader.nextLine() == "220 ready")
        #expect(try reader.nextLine() == nil)
        var second = ByteBuffer(string: "\r\n250 b\n")
        reader.append(&second)
        #expect(try reader.nextLine() == "250-a")
        #expect(try reader.nextLine() == "250 b", "a bare LF ends a line too")
        #expect(reader.isEmpty)
    }

    @Test func anEndlessLineIsAnErrorNotABuffer() {
        var reader = SMTPLineReader(limit: 16)
        var bytes = ByteBuffer(string: String(repeating: "2", count: 17))
        reader.append(&bytes)
        #expect(throws: SMTPError.self) { try reader.nextLine() }
        var ended = SMTPLineReader(limit: 16)
        var long = ByteBuffer(string: String(repeating: "2", count: 17) + "\r\n")
        ended.append(&long)
        #expect(throws: SMTPError.self, "a long line with its end is still too long") { try ended.nextLine() }
    }

    @Test func capabilitiesComeFromTheLinesAfterTheFirst() {
        let reply = SMTPReply(code: 250, lines: ["mail.example.com greets herald", "SIZE 1000", "starttls", "AUTH=LOGIN", "AUTH PLAIN CRAM-MD5"])
        let capabilities = SMTPCapabilities(ehlo: reply)
        #expect(capabilities.startTLS)
        #expect(capabilities.authMechanisms == ["LOGIN", "PLAIN", "CRAM-MD5"])
        #expect(!SMTPCapabilities(ehlo: SMTPReply(code: 250, lines: ["STARTTLS is my name"])).startTLS,
                "the first line is the server's name, not a capability")
    }
}
