/// The transparency rule of DATA (RFC 5321 §4.5.2): a line that starts with "." gets another,
/// so no line of the message reads as the end of it; the server removes the extra one.
enum DotStuffing {
    /// `message` (CRLF lines) stuffed, ending with CRLF, then the "." line that ends DATA.
    static func dataLines(_ message: String) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(message.utf8.count + 8)
        var atLineStart = true
        for byte in message.utf8 {
            if atLineStart && byte == UInt8(ascii: ".") { output.append(byte) }
            output.append(byte)
            atLineStart = byte == UInt8(ascii: "\n")
        }
        if !atLineStart { output += Array("\r\n".utf8) }
        output += Array(".\r\n".utf8)
        return String(decoding: output, as: UTF8.self)
    }
}
