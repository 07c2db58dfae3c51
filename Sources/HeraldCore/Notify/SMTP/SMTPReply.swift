/// One reply from the server: its code and the text of each of its lines (RFC 5321 §4.2).
public struct SMTPReply: Sendable, Equatable, CustomStringConvertible {
    /// The three-digit code: 2xx done, 3xx go on, 4xx try later, 5xx never.
    public let code: Int
    /// The text after the code on each line; a multi-line reply has several.
    public let lines: [String]

    public init(code: Int, lines: [String]) {
        self.code = code
        self.lines = lines
    }

    /// The reply as the server wrote it, lines joined by " / ", for errors and logs.
    public var description: String {
        let text = lines.filter { !$0.isEmpty }.joined(separator: " / ")
        return text.isEmpty ? String(code) : "\(code) \(text)"
    }
}

/// Gathers the lines of one reply: `250-…` lines go on, a `250 …` (or a bare `250`) line ends
/// it; every line must carry the same code. The number of lines is bounded, like each line's
/// length in `SMTPLineReader`, so a server cannot make a reply grow without end.
struct SMTPReplyParser {
    static let maxLines = 100
    private var code: Int?
    private var lines: [String] = []

    /// Takes one line without its CRLF; returns the reply once its last line has come.
    mutating func feed(_ line: String) throws(SMTPError) -> SMTPReply? {
        let bytes = Array(line.utf8)
        let digits = bytes.prefix(3)
        guard digits.count == 3, digits.allSatisfy({ (0x30...0x39).contains($0) }),
              (UInt8(ascii: "2")...UInt8(ascii: "5")).contains(digits[0])
        else { throw .protocolViolation("not an SMTP reply: \"\(line.prefix(80))\"") }
        let code = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        let separator = bytes.count > 3 ? bytes[3] : UInt8(ascii: " ")
        guard separator == UInt8(ascii: " ") || separator == UInt8(ascii: "-") else {
            throw .protocolViolation("not an SMTP reply: \"\(line.prefix(80))\"")
        }
        if let expected = self.code, expected != code {
            throw .protocolViolation("a multi-line reply changed its code from \(expected) to \(code)")
        }
        lines.append(String(decoding: bytes.dropFirst(4), as: UTF8.self))
        if separator == UInt8(ascii: "-") {
            guard lines.count < Self.maxLines else {
                throw .protocolViolation("a reply of more than \(Self.maxLines) lines")
            }
            self.code = code
            return nil
        }
        defer { self.code = nil; lines = [] }
        return SMTPReply(code: code, lines: lines)
    }
}
