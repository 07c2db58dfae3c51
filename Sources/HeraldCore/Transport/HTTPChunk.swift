import NIOCore

/// HTTP/1.1 chunked transfer framing (RFC 9112 §7.1), for bytes that skip Hummingbird's response
/// encoder on the direct lane (`LiveStream`): `<size in hex>\r\n<bytes>\r\n`.
enum HTTPChunk {
    static func framed(_ body: ByteBuffer) -> ByteBuffer {
        // A chunk of size 0 is the end of the body; no SSE frame or comment is ever empty.
        precondition(body.readableBytes > 0, "an empty chunk would end the response")
        let size = String(body.readableBytes, radix: 16)
        var chunk = ByteBuffer()
        chunk.reserveCapacity(size.utf8.count + body.readableBytes + 4)
        chunk.writeString(size)
        chunk.writeStaticString("\r\n")
        var body = body
        chunk.writeBuffer(&body)
        chunk.writeStaticString("\r\n")
        return chunk
    }

    /// The zero-size chunk that ends a chunked body (no trailers).
    static let last = ByteBuffer(string: "0\r\n\r\n")
}
