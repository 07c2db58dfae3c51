import NIOCore

/// The front of a plain HTTP/1.1 connection's pipeline, next to the socket: where a `LiveStream`
/// writes its pre-framed chunks, past Hummingbird's response path and HTTP encoder. It passes
/// everything else through, and tells the stream when the socket takes writes again.
///
/// Only for connections without TLS: at the front of a TLS pipeline the bytes would skip
/// encryption, and an HTTP/2 stream has no socket of its own.
final class SocketOutlet: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var context: ChannelHandlerContext?
    /// The live stream writing through this connection now, if any (one at a time on HTTP/1.1).
    var stream: LiveStream.LoopState?

    /// Kept from the writability events: asking the channel costs more than a write.
    private(set) var isWritable = false

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        isWritable = context.channel.isWritable
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        isWritable = false
        stream?.connectionClosed()
    }

    /// The client went away: end its stream now, not when its unwritten events would overflow.
    func channelInactive(context: ChannelHandlerContext) {
        isWritable = false
        stream?.connectionClosed()
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        isWritable = context.channel.isWritable
        if isWritable { stream?.resume() }
        context.fireChannelWritabilityChanged()
    }

    func write(_ chunk: ByteBuffer) {
        context?.write(wrapOutboundOut(chunk), promise: nil)
    }

    func flush() {
        context?.flush()
    }

    /// This connection's outlet, put at the front of its pipeline on first use. On the event loop.
    static func of(_ channel: any Channel) throws -> SocketOutlet {
        let pipeline = channel.pipeline.syncOperations
        if let outlet = try? pipeline.handler(type: SocketOutlet.self) { return outlet }
        let outlet = SocketOutlet()
        try pipeline.addHandler(outlet, position: .first)
        return outlet
    }
}
