import NIOCore

/// HTTP/1.1 chunked transfer framing (RFC 9112 §7.1), for bytes that skip Hummingbird's response
/// encoder on the direct lane (`LiveStream`): `<size in hex>\r\n<bytes>\r\n`.
enum HTTPChunk {
    static func framed(_ body: ByteBuffer) -> ByteBuffer {
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
}
