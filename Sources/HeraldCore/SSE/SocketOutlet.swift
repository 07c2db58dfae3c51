import NIOCore
import Synchronization

/// The front of a plain HTTP/1.1 connection's pipeline, next to the socket: where a `LiveStream`
/// writes its pre-framed chunks, past Hummingbird's response path and HTTP encoder. Once a stream
/// owns the connection, nothing else reaches the socket or Hummingbird until it closes: bytes
/// from the client are dropped (an SSE client has nothing more to say on this connection),
/// whatever Hummingbird writes (its refusal of a request pipelined behind the stream, see
/// `FrontDoor`) is refused, and so is every close but the stream's own.
///
/// Taking the connection also ends Hummingbird's task for it: the outlet fails the connection's
/// request sequence (`StreamTookConnection`), so the task's request loop throws, and the close it
/// then makes on its way out is refused. A Swift task keeps the deepest stack it ever had until it
/// ends (its allocator keeps its slabs), ~13 KiB here: most of what an idle stream cost.
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
    /// Set when the stream ended: from then on the connection may close.
    private var released = false

    /// Kept from the writability events: asking the channel costs more than a write.
    private(set) var isWritable = false
    /// A side of the connection closed, or all of it: no stream may take it.
    private var sideClosed = false

    /// The socket, written straight (`DirectSocket`) while a stream owns the connection and
    /// SwiftNIO holds none of its bytes. nil before a stream owns the connection, when its
    /// descriptor could not be confirmed, after a send failed, once either side closed and once
    /// the stream finished.
    private var socket: DirectSocket?
    /// The stream's chunks since its last flush, on their way to `socket`.
    private var unsent: [ByteBuffer] = []
    /// SwiftNIO holds bytes of this connection (the response's head and history at first, later
    /// what a full socket did not take): the stream's bytes go the same way until they are out.
    private var bytesInNIO = false
    /// Counts the flushes through SwiftNIO, so that only the latest one clears `bytesInNIO`.
    private var flushesThroughNIO = 0

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        isWritable = context.channel.isWritable
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        socket = nil
        isWritable = false
        stream?.connectionClosed()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !owned else { return }
        context.fireChannelRead(data)
    }

    /// An owned connection keeps reading, only to see the client leave: the handler behind that
    /// fed Hummingbird's task stopped asking for reads when the task ended.
    func channelReadComplete(context: ChannelHandlerContext) {
        guard !owned else { return context.read() }
        context.fireChannelReadComplete()
    }

    /// The client went away: end its stream now, not when its unwritten events would overflow.
    func channelInactive(context: ChannelHandlerContext) {
        // SwiftNIO closed the descriptor just before telling us, in the same call on this loop.
        socket = nil
        isWritable = false
        sideClosed = true
        stream?.connectionClosed()
        context.fireChannelInactive()
    }

    /// The client closed its sending side (for an SSE client, the same as leaving), or ours was
    /// closed (Hummingbird does after a request it could not parse): the stream cannot go on.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event as? ChannelEvent {
        case .inputClosed?, .outputClosed?:
            socket = nil
            sideClosed = true
            stream?.connectionClosed()
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
        guard !owned else { promise?.fail(StreamTookConnection()); return }
        context.write(data, promise: promise)
    }

    /// While a stream owns the connection only the stream closes it (`finish`): the closes from
    /// behind are Hummingbird's task leaving, its quiescing an open response at shutdown (the
    /// stream then ends with the hub and closes the connection itself), or the request-head
    /// deadline, restarted by the answer to a request pipelined behind the stream.
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard !owned || released else { promise?.fail(StreamTookConnection()); return }
        context.close(mode: mode, promise: promise)
    }

    // MARK: For the stream

    /// The client closed its sending side or is gone: a stream has nobody to go to.
    var clientLeft: Bool {
        sideClosed || !(context?.channel.isActive ?? false)
    }

    /// `stream` takes the connection for good (only one ever does: see `owned`).
    func own(for stream: LiveStream) {
        guard !owned, let context else { return }
        owned = true
        self.stream = stream
        isWritable = context.channel.isWritable
        socket = DirectSocket.of(context.channel)
        if socket != nil { flushThroughNIO(context) }  // the response so far may still wait there
        ConnectionOwners.add(context.channel)
        // Ends Hummingbird's request loop for this connection (see the type's comment), then
        // keeps reading for the client's leaving.
        context.fireErrorCaught(StreamTookConnection())
        context.read()
    }

    /// The stream ended: its last bytes (if any) go out, then the connection closes. A client
    /// that stopped reading never takes them, so it is closed a few seconds later regardless.
    func finish(with last: ByteBuffer?) {
        guard let context else { return }
        stream = nil
        released = true
        handUnsentToNIO(context)
        socket = nil
        let channel = context.channel
        guard let last else { return channel.close(promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(last))).whenComplete { _ in channel.close(promise: nil) }
        channel.eventLoop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
    }

    func write(_ chunk: ByteBuffer) {
        if socket != nil && !bytesInNIO {
            unsent.append(chunk)
        } else {
            context?.write(wrapOutboundOut(.byteBuffer(chunk)), promise: nil)
        }
    }

    /// How a flush went: `socket` straight (`DirectSocket`), `channel` through SwiftNIO.
    enum Path { case socket, channel }

    /// Sends what was written since the last flush; more than one chunk is joined in `scratch`
    /// (the loop's, so no connection keeps a buffer for it). nil when the handler is gone.
    func flush(joiningIn scratch: inout ByteBuffer) -> Path? {
        guard let context else { return nil }
        guard let socket, !unsent.isEmpty else {
            // The chunks went to SwiftNIO: behind bytes it still holds, or there is no socket.
            if socket != nil && bytesInNIO { flushThroughNIO(context) } else { context.flush() }
            return .channel
        }
        let bytes = unsent.count == 1 ? unsent[0] : join(unsent, in: &scratch)
        unsent.removeAll(keepingCapacity: true)
        switch socket.send(bytes) {
        case .bytes(let sent) where sent == bytes.readableBytes:
            return .socket
        case .bytes(let sent):
            // A full socket: SwiftNIO keeps the rest and tells when it is writable again.
            context.write(wrapOutboundOut(.byteBuffer(bytes.getSlice(at: bytes.readerIndex + sent,
                                                                     length: bytes.readableBytes - sent)!)),
                          promise: nil)
        case .failed:
            // SwiftNIO meets the same error on this write and closes the channel its usual way.
            self.socket = nil
            context.write(wrapOutboundOut(.byteBuffer(bytes)), promise: nil)
        }
        flushThroughNIO(context)
        return .channel
    }

    private func join(_ chunks: [ByteBuffer], in scratch: inout ByteBuffer) -> ByteBuffer {
        scratch.clear()  // a copy if SwiftNIO still holds the rest of an earlier one
        for chunk in chunks { scratch.writeImmutableBuffer(chunk) }
        return scratch
    }

    private func handUnsentToNIO(_ context: ChannelHandlerContext) {
        for chunk in unsent { context.write(wrapOutboundOut(.byteBuffer(chunk)), promise: nil) }
        unsent.removeAll()
    }

    /// Flushes SwiftNIO's bytes for the connection; the socket is written straight again once
    /// they (and none written after them) are all out.
    private func flushThroughNIO(_ context: ChannelHandlerContext) {
        bytesInNIO = true
        flushesThroughNIO += 1
        let flush = flushesThroughNIO
        // An empty write completes when everything before it is written.
        let done = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(ByteBuffer())), promise: done)
        done.futureResult.assumeIsolated().whenSuccess {
            if self.flushesThroughNIO == flush { self.bytesInNIO = false }
        }
    }

    /// This connection's outlet (`OutletHTTP1Channel` puts one in every plain HTTP/1.1
    /// connection). On the event loop.
    static func of(_ channel: any Channel) throws -> SocketOutlet {
        try channel.pipeline.syncOperations.handler(type: SocketOutlet.self)
    }
}

/// What Hummingbird's task for a connection a stream took meets: its request sequence fails with
/// it, and its writes and closes are refused with it.
struct StreamTookConnection: Error {}

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
