/// Quoted-printable (RFC 2045 §6.7) for the body. Chosen over 8bit even when a server offers
/// 8BITMIME: every encoded line is at most 76 characters, so an event's long line never meets
/// SMTP's 1000-octet limit, and the bytes sent do not depend on the server, so a message resent
/// to another server is the same message.
enum QuotedPrintable {
    static let maxLineLength = 76

    /// `text` with each line break (CRLF, CR or LF) a CRLF, ending with one.
    static func encode(_ text: String) -> String {
        var output = ""
        for line in lines(of: text) {
            encode(line: Array(line.utf8), into: &output)
            output += "\r\n"
        }
        return output
    }

    /// The lines of `text`, without a last empty one after its final line break.
    private static func lines(of text: String) -> [Substring] {
        // Swift's Character treats "\r\n" as one, so it is one break, not two.
        var lines = text.split(omittingEmptySubsequences: false) { $0 == "\r\n" || $0 == "\n" || $0 == "\r" }
        if lines.count > 1, lines.last?.isEmpty == true { lines.removeLast() }
        return lines
    }

    /// One line: printable ASCII but "=" stays, a space or tab stays unless it ends the line
    /// (where transports may strip it), the rest is "=XX"; soft breaks ("=" CRLF) keep each
    /// output line within 76 characters and never split an "=XX".
    private static func encode(line: [UInt8], into output: inout String) {
        var current = ""
        for (index, byte) in line.enumerated() {
            let isLast = index == line.count - 1
            let token: String
            switch byte {
            case 0x20, 0x09: token = isLast ? escape(byte) : String(UnicodeScalar(byte))
            case 0x21...0x7E where byte != UInt8(ascii: "="): token = String(UnicodeScalar(byte))
            default: token = escape(byte)
            }
            if current.utf8.count + token.utf8.count > maxLineLength - 1 {
                output += current + "=\r\n"
                current = ""
            }
            current += token
        }
        output += current
    }

    private static func escape(_ byte: UInt8) -> String {
        let hex = Array("0123456789ABCDEF")
        return "=" + String(hex[Int(byte >> 4)]) + String(hex[Int(byte & 0x0F)])
    }
}
