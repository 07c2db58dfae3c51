import Foundation

extension EmailMessage {
    /// The bare addresses for MAIL FROM and RCPT TO, each recipient once.
    func envelope() throws(SMTPError) -> (sender: String, recipients: [String]) {
        let sender = try Mailbox(parsing: from, role: "sender").address
        var recipients: [String] = []
        for text in to {
            let address = try Mailbox(parsing: text, role: "recipient").address
            if !recipients.contains(address) { recipients.append(address) }
        }
        guard !recipients.isEmpty else { throw .invalidMessage("no recipient") }
        return (sender, recipients)
    }

    /// The message as RFC 5322 text with CRLF line ends, before DATA's dot-stuffing. Every line
    /// stays within 998 octets; headers fold at 78 where they can.
    func rendered() throws(SMTPError) -> String {
        let sender = try Mailbox(parsing: from, role: "sender")
        var recipients: [Mailbox] = []
        for text in to {
            let recipient = try Mailbox(parsing: text, role: "recipient")
            recipients.append(recipient)
        }
        let messageID = try Self.messageIDField(self.messageID)
        let headers = [
            "Date: " + Self.rfc5322Date(date),
            "From: " + sender.header,
            "To: " + Self.foldedList(recipients.map(\.header), after: "To: ".count),
            "Subject: " + Self.subjectField(subject),
            "Message-ID: " + messageID,
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: quoted-printable",
        ]
        return headers.joined(separator: "\r\n") + "\r\n\r\n" + QuotedPrintable.encode(body)
    }

    /// "Wed, 02 Dec 2026 13:21:28 +0000" (RFC 5322 §3.3), in UTC, in English whatever the locale.
    static func rfc5322Date(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0)!
        let parts = calendar.dateComponents([.weekday, .day, .month, .year, .hour, .minute, .second], from: date)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int?) -> String { String(format: "%02d", value ?? 0) }
        return "\(days[(parts.weekday ?? 1) - 1]), \(two(parts.day)) \(months[(parts.month ?? 1) - 1]) \(parts.year ?? 1970) "
            + "\(two(parts.hour)):\(two(parts.minute)):\(two(parts.second)) +0000"
    }

    /// The subject with its control characters (a line break would end the header) as spaces;
    /// plain ASCII folded at its spaces, anything else as encoded-words.
    static func subjectField(_ subject: String) -> String {
        let text = String(String.UnicodeScalarView(subject.unicodeScalars.map {
            $0.properties.generalCategory == .control ? " " : $0
        }))
        let words = text.split(separator: " ", omittingEmptySubsequences: false)
        if EncodedWord.isNeeded(for: text) || words.contains(where: { $0.utf8.count > 900 }) {
            return EncodedWord.encode(text)
        }
        return foldedWords(words.map(String.init), after: "Subject: ".count)
    }

    /// `words` joined by spaces, with a fold (CRLF before the space) where a line would pass 78;
    /// unfolding removes only the CRLF, so the text comes back as it was.
    private static func foldedWords(_ words: [String], after used: Int) -> String {
        var output = ""
        var lineLength = used
        for (index, word) in words.enumerated() {
            if index > 0 {
                if lineLength + 1 + word.utf8.count > 78 && !word.isEmpty && lineLength > used {
                    output += "\r\n"
                    lineLength = 0
                }
                output += " "
                lineLength += 1
            }
            output += word
            lineLength += word.utf8.count
        }
        return output
    }

    /// Mailboxes joined by ", ", folded after a comma where a line would pass 78.
    private static func foldedList(_ items: [String], after used: Int) -> String {
        var output = ""
        var lineLength = used
        for (index, item) in items.enumerated() {
            let lines = item.components(separatedBy: "\r\n")  // an encoded name may be folded already
            if index > 0 {
                output += ","
                lineLength += 1
                if lineLength + 1 + lines[0].utf8.count > 78 { output += "\r\n"; lineLength = 0 }
                output += " "
                lineLength += 1
            }
            output += item
            lineLength = lines.count > 1 ? lines[lines.count - 1].utf8.count : lineLength + item.utf8.count
        }
        return output
    }

    /// "<id@host>": brackets added if the caller left them out; printable ASCII without spaces
    /// or brackets inside, with an "@" (RFC 5322 §3.6.4).
    static func messageIDField(_ id: String) throws(SMTPError) -> String {
        let inner = id.hasPrefix("<") && id.hasSuffix(">") && id.count >= 2 ? String(id.dropFirst().dropLast()) : id
        let valid = inner.utf8.count <= 250 && inner.contains("@") && !inner.hasPrefix("@") && !inner.hasSuffix("@")
            && inner.utf8.allSatisfy { (0x21...0x7E).contains($0) && $0 != UInt8(ascii: "<") && $0 != UInt8(ascii: ">") }
        guard valid else { throw .invalidMessage("message id \"\(id)\" is not like <42.ops@herald>") }
        return "<\(inner)>"
    }

    /// What DATA sends: the rendered message, dot-stuffed, with the ending ".".
    func dataLines() throws(SMTPError) -> String {
        let message = try rendered()
        return DotStuffing.dataLines(message)
    }
}
