import NIOCore

/// Cuts the server's bytes into lines, holding at most `limit` bytes of a line not yet ended:
/// a server that never sends a line break costs a bounded buffer, then an error.
struct SMTPLineReader {
    /// RFC 5321 §4.5.3.1.5 allows 512 octets per reply line; servers with long texts get 8 times that.
    static let defaultLimit = 4096
    let limit: Int
    private var buffer = ByteBuffer()

    init(limit: Int = Self.defaultLimit) { self.limit = limit }

    /// Whether part of a line is waiting for its end.
    var isEmpty: Bool { buffer.readableBytes == 0 }

    mutating func append(_ bytes: inout ByteBuffer) { buffer.writeBuffer(&bytes) }

    /// The next whole line without its line end (CRLF, or a bare LF from a lax server), or nil
    /// until one has come.
    mutating func nextLine() throws(SMTPError) -> String? {
        guard let length = lengthBeforeLineFeed else {
            guard buffer.readableBytes <= limit else { throw .protocolViolation("a reply line longer than \(limit) bytes") }
            buffer.discardReadBytes()
            return nil
        }
        guard length <= limit else { throw .protocolViolation("a reply line longer than \(limit) bytes") }
        var line = buffer.readSlice(length: length + 1)!.readableBytesView.dropLast()
        if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
        return String(decoding: line, as: UTF8.self)
    }

    /// Bytes before the first LF, if one has come; the view is gone before the buffer changes.
    private var lengthBeforeLineFeed: Int? {
        let view = buffer.readableBytesView
        return view.firstIndex(of: UInt8(ascii: "\n")).map { $0 - view.startIndex }
    }
}
