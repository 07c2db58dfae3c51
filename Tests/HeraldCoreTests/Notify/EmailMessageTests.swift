import Foundation
@testable import HeraldCore
import Testing

/// The RFC 5322 rendering of a message and the envelope taken from it.
@Suite struct EmailMessageTests {
    private func message(from: String = "Herald <ops@herald.example>", to: [String] = ["a@example.com"],
                         subject: String = "Door open", body: String = "The door is open.\n",
                         id: String = "<42.ops@herald>") -> EmailMessage {
        EmailMessage(from: from, to: to, subject: subject, body: body, messageID: id,
                     date: Date(timeIntervalSince1970: 1_796_214_088))  // Wed, 02 Dec 2026 12:21:28 UTC
    }

    private func headers(_ rendered: String) -> String {
        rendered.components(separatedBy: "\r\n\r\n")[0]
    }

    @Test func theHeadersAreThoseOfAPlainTextMIMEMessage() throws {
        let rendered = try message().rendered()
        #expect(headers(rendered) == """
            Date: Wed, 02 Dec 2026 12:21:28 +0000\r
            From: "Herald" <ops@herald.example>\r
            To: a@example.com\r
            Subject: Door open\r
            Message-ID: <42.ops@herald>\r
            MIME-Version: 1.0\r
            Content-Type: text/plain; charset=utf-8\r
            Content-Transfer-Encoding: quoted-printable
            """)
        #expect(rendered.hasSuffix("\r\n\r\nThe door is open.\r\n"))
    }

    @Test func theEnvelopeHoldsBareAddressesEachOnce() throws {
        let envelope = try message(to: ["a@example.com", "B <b@example.com>", "a@example.com"]).envelope()
        #expect(envelope.sender == "ops@herald.example")
        #expect(envelope.recipients == ["a@example.com", "b@example.com"])
    }

    @Test func anAddressThatCouldBreakTheDialogueIsRefused() {
        for address in ["", "no-at-sign", "a@b\r\nRCPT TO:<evil@x>", "a b@c", "<a@b>>", "a@b@c", "é@example.com"] {
            #expect(throws: SMTPError.self, "\(address)") { try message(to: [address]).envelope() }
        }
        #expect(throws: SMTPError.self, "no recipient") { try message(to: []).envelope() }
        #expect(throws: SMTPError.self) { try message(id: "no at sign").rendered() }
        #expect(throws: SMTPError.self) { try message(id: "<a b@c>").rendered() }
    }

    @Test func theMessageIDGetsItsBrackets() throws {
        #expect(try message(id: "7.door@herald").rendered().contains("\r\nMessage-ID: <7.door@herald>\r\n"))
    }

    @Test func aLineBreakInTheSubjectCannotAddAHeader() throws {
        let rendered = try message(subject: "Door\r\nBcc: victim@example.com").rendered()
        #expect(rendered.contains("\r\nSubject: Door  Bcc: victim@example.com\r\n"))
        #expect(!rendered.contains("\r\nBcc:"))
    }

    @Test func aSubjectThatIsNotASCIIIsEncodedAndNamesToo() throws {
        let rendered = try message(from: "Hérald <ops@herald.example>", subject: "Température élevée").rendered()
        #expect(rendered.contains("\r\nSubject: =?utf-8?B?"))
        #expect(rendered.contains("\r\nFrom: =?utf-8?B?SMOpcmFsZA==?= <ops@herald.example>\r\n"))
    }

    @Test func longHeadersFoldAndNoLinePassesSMTPsLimit() throws {
        let recipients = (1...12).map { "recipient\($0)@example.com" }
        let subject = String(repeating: "word ", count: 60) + String(repeating: "x", count: 1200)
        let body = String(repeating: "long line ", count: 500)
        let rendered = try message(to: recipients, subject: subject, body: body).rendered()
        let lines = rendered.components(separatedBy: "\r\n")
        #expect(lines.allSatisfy { $0.utf8.count <= 998 })
        let head = headers(rendered).components(separatedBy: "\r\n")
        #expect(head.allSatisfy { $0.utf8.count <= 78 }, "\(head.filter { $0.utf8.count > 78 })")
        #expect(headers(rendered).contains("recipient1@example.com, recipient2@example.com,"))
        let unfoldedTo = headers(rendered).replacingOccurrences(of: "\r\n ", with: " ")
        #expect(unfoldedTo.contains("To: " + recipients.joined(separator: ", ") + "\r\n"))
    }

    @Test func aPlainSubjectUnfoldsToItself() throws {
        let subject = String(repeating: "The kitchen door has been open  for ten minutes ", count: 4)
        let rendered = try message(subject: subject).rendered()
        let field = headers(rendered).components(separatedBy: "\r\nSubject: ")[1].components(separatedBy: "\r\nMessage-ID")[0]
        #expect(field.contains("\r\n "))
        #expect(field.replacingOccurrences(of: "\r\n", with: "") == subject)
    }
}
