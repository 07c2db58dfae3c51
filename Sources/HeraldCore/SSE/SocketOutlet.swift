import NIOCore
import Synchronization

/// The front of a plain HTTP/1.1 connection's pipeline, next to the socket: where a `LiveStream`
/// writes its pre-framed chunks, past Hummingbird's response path and HTTP encoder. Once a stream
/// owns the connection, nothing else reaches the socket or Hummingbird until it closes: bytes
/// from the client are dropped (an SSE client has nothing more to say on this connection), and
/// whatever Hummingbird writes (its refusal of a request pipelined behind the stream, see
/// `FrontDoor`) is never sent; the connection closes with the stream's end.
///
/// Only for connections without TLS: at the front of a TLS pipeline the bytes would skip
/// encryption, and an HTTP/2 stream has no socket of its own.
final class SocketOutlet: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private var context: ChannelHandlerContext?
    /// The live stream writing through this connection, until it ends.
    private(set) var stream: LiveStream?
    /// Set when a stream takes the connection, and kept after it ended: the connection serves
    /// nothing more and only closes.
    private(set) var owned = false
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
        guard !owned else { return }
        context.fireChannelRead(data)
    }

    /// The client went away: end its stream now, not when its unwritten events would overflow.
    func channelInactive(context: ChannelHandlerContext) {
        isWritable = false
        stream?.connectionClosed()
        failHeld()
        context.fireChannelInactive()
    }

    /// The client closed its sending side (for an SSE client, the same as leaving), or ours was
    /// closed (Hummingbird does after a request it could not parse): the stream cannot go on.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event as? ChannelEvent {
        case .inputClosed?, .outputClosed?: stream?.connectionClosed()
        default: break
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        isWritable = context.channel.isWritable
        if isWritable { stream?.resume() }
        context.fireChannelWritabilityChanged()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !owned else { return held.append(promise) }
        context.write(data, promise: promise)
    }

    private func failHeld() {
        let promises = held
        held = []
        for promise in promises { promise?.fail(ChannelError.ioOnClosedChannel) }
    }

    // MARK: For the stream

    /// `stream` takes the connection for good (only one ever does: see `owned`).
    func own(for stream: LiveStream) {
        guard !owned, let context else { return }
        owned = true
        self.stream = stream
        // No more requests come through, so none is timed: the deadline would otherwise start
        // at the answer to one pipelined behind the stream, and cut the stream off.
        if let deadline = try? context.pipeline.syncOperations.context(handlerType: RequestHeadDeadline.self) {
            context.pipeline.syncOperations.removeHandler(context: deadline, promise: nil)
        }
        ConnectionOwners.add(context.channel)
    }

    /// The stream ended: its last bytes (if any) go out, then the connection closes. A client
    /// that stopped reading never takes them, so it is closed a few seconds later regardless.
    func finish(with last: ByteBuffer?) {
        guard let context else { return }
        stream = nil
        let channel = context.channel
        guard let last else { return channel.close(promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(last))).whenComplete { _ in channel.close(promise: nil) }
        channel.eventLoop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
    }

    func write(_ chunk: ByteBuffer) {
        context?.write(wrapOutboundOut(.byteBuffer(chunk)), promise: nil)
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

/// The connections a stream has taken (`SocketOutlet.own`), so that a request pipelined behind
/// a stream is refused before it runs (`FrontDoor`): its answer could never be sent.
enum ConnectionOwners {
    private static let owned = Mutex(Set<ObjectIdentifier>())

    static func add(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        owned.withLock { _ = $0.insert(id) }
        channel.closeFuture.whenComplete { _ in owned.withLock { _ = $0.remove(id) } }
    }

    static func contains(_ channel: any Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        return owned.withLock { $0.contains(id) }
    }
}
