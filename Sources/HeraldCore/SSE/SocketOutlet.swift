import NIOCore

/// The front of a plain HTTP/1.1 connection's pipeline, next to the socket: where a `LiveStream`
/// writes its pre-framed chunks, past Hummingbird's response path and HTTP encoder. While a
/// stream owns the connection, nothing else reaches the socket or Hummingbird: bytes from the
/// client are dropped (an SSE client has nothing more to say on this connection) and whatever
/// Hummingbird writes (the answer to a request pipelined behind the stream) waits, unwritten,
/// until the connection closes with the stream's end. Otherwise it passes everything through.
///
/// Only for connections without TLS: at the front of a TLS pipeline the bytes would skip
/// encryption, and an HTTP/2 stream has no socket of its own.
final class SocketOutlet: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private var context: ChannelHandlerContext?
    /// The live stream that owns this connection now, if any (one at a time on HTTP/1.1).
    var stream: LiveStream?
    /// Hummingbird's writes held while a stream owns the connection; failed when it closes.
    private var held: [EventLoopPromise<Void>?] = []

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
        failHeld()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard stream == nil else { return }
        context.fireChannelRead(data)
    }

    /// The client went away: end its stream now, not when its unwritten events would overflow.
    func channelInactive(context: ChannelHandlerContext) {
        isWritable = false
        stream?.connectionClosed()
        failHeld()
        context.fireChannelInactive()
    }

    /// The client closed its sending side: for an SSE client, the same as leaving.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed = event as? ChannelEvent { stream?.connectionClosed() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        isWritable = context.channel.isWritable
        if isWritable { stream?.resume() }
        context.fireChannelWritabilityChanged()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard stream == nil else { return held.append(promise) }
        context.write(data, promise: promise)
    }

    private func failHeld() {
        let promises = held
        held = []
        for promise in promises { promise?.fail(ChannelError.ioOnClosedChannel) }
    }

    // MARK: For the stream

    func write(_ chunk: ByteBuffer) {
        context?.write(wrapOutboundOut(.byteBuffer(chunk)), promise: nil)
    }

    func flush() {
        context?.flush()
    }

    func close() {
        context?.close(promise: nil)
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
