import Logging
import NIOCore
import Synchronization

/// The front of a plain HTTP/1.1 connection's pipeline, next to the socket, from the connection's
/// first byte (it must have seen the whole connection to know whether the client already left or
/// half-closed when a stream wants to take it). Its life is `ConnectionState`.
///
/// While serving, it passes everything through. Once a live stream owns the connection
/// (`LiveStream`), the stream's pre-framed chunks go from here to the socket, past Hummingbird's
/// response path and HTTP encoder; bytes from the client are dropped (an SSE client has nothing
/// more to say on this connection), and Hummingbird's writes and close are not passed on: its
/// task for the connection is told to leave (`StreamTookConnection`, see `takeOver`), and on
/// its way out it writes nothing the client should get and closes, which the stream does when
/// it ends.
///
/// Only for connections without TLS: at the front of a TLS pipeline the bytes would skip
/// encryption, and an HTTP/2 stream has no socket of its own.
final class StreamConnection: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private(set) var state = ConnectionState.serving
    private var context: ChannelHandlerContext?
    /// The live stream writing through this connection, while it is `streaming`.
    private(set) var stream: LiveStream?
    /// Kept from the writability events: asking the channel costs more than a write.
    private(set) var isWritable = false
    /// The stream's chunks since its last flush, on their way to the socket.
    private var unsent: [ByteBuffer] = []
    /// The socket, for the direct lane; found when a stream takes the connection.
    private var socket: SocketSend?
    /// Set when a stream takes the connection, for `HeraldHTTP1Channel`'s task, which is not on
    /// the loop: a request pipelined behind the stream is then not run.
    let taken: TakenMark
    private let logger: Logger

    init(taken: TakenMark, logger: Logger) {
        self.taken = taken
        self.logger = logger
    }

    /// Applies `event`; an illegal move is a bug in this file, logged, and the state kept.
    private func move(_ event: ConnectionState.Event) {
        do {
            try state.apply(event)
        } catch {
            assertionFailure(error.description)
            logger.error("\(error.description)")
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        isWritable = context.channel.isWritable
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        isWritable = false
        move(.closed)
        stream?.connectionClosed()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !state.isTaken else { return }
        context.fireChannelRead(data)
    }

    /// A taken connection keeps reading, only to see the client leave: the handler behind that
    /// fed Hummingbird's task stopped asking for reads when the task ended.
    func channelReadComplete(context: ChannelHandlerContext) {
        guard !state.isTaken else { return context.read() }
        context.fireChannelReadComplete()
    }

    /// The client went away: its stream ends now, not when its unwritten events would overflow.
    func channelInactive(context: ChannelHandlerContext) {
        move(.closed)
        isWritable = false
        stream?.connectionClosed()
        context.fireChannelInactive()
    }

    /// The client closed its sending side (for an SSE client, the same as leaving), or ours was
    /// closed (Hummingbird does after a request it could not parse): no stream can go on.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event as? ChannelEvent {
        case .inputClosed?, .outputClosed?:
            move(.sideClosed)
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
        guard !state.isTaken else { promise?.fail(StreamTookConnection()); return }
        context.write(data, promise: promise)
    }

    /// While a stream owns the connection only the stream closes it (`finish`): the closes from
    /// behind are Hummingbird's task leaving, its quiescing an open response at shutdown (the
    /// stream then ends with the hub and closes the connection itself), or the request-head
    /// deadline, restarted by the answer to a request pipelined behind the stream.
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard case .streaming = state else { return context.close(mode: mode, promise: promise) }
        promise?.fail(StreamTookConnection())
    }

    // MARK: For the stream

    /// No stream may take the connection: it is taken already, or a side of it closed.
    var isOpenToAStream: Bool { state == .serving && (context?.channel.isActive ?? false) }

    /// Whether `isOpenToAStream` fails because the client left or half-closed.
    var clientLeft: Bool {
        switch state {
        case .halfClosed, .closed: true
        case .serving: !(context?.channel.isActive ?? false)
        case .streaming, .finishing: false
        }
    }

    /// `stream` takes the connection for good (only one ever does). Hummingbird's task for it is
    /// told to leave: its request sequence fails with `StreamTookConnection`, the one way its
    /// per-connection loop ends before the connection does (a task keeps the deepest stack it
    /// ever had until it ends, ~13 KiB here: most of what an idle stream would cost).
    func takeOver(for stream: LiveStream) {
        guard let context, isOpenToAStream else { return }
        socket = SocketSend.of(context.channel)
        let direct = socket != nil
        move(.handOver(direct: direct))
        taken.set()
        self.stream = stream
        isWritable = context.channel.isWritable
        if direct { flushThroughNIO(context) }  // the response so far may still wait there
        context.fireErrorCaught(StreamTookConnection())
        context.read()
    }

    /// The stream ended: its last bytes (if any) go out, then the connection closes. A client
    /// that stopped reading never takes them, so it is closed a few seconds later regardless.
    func finish(with last: ByteBuffer?) {
        guard let context, case .streaming = state else { return }
        stream = nil
        for chunk in unsent { context.write(wrapOutboundOut(.byteBuffer(chunk)), promise: nil) }
        unsent.removeAll()
        move(.streamEnded)
        let channel = context.channel
        guard let last else { return channel.close(promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(last))).whenComplete { _ in channel.close(promise: nil) }
        channel.eventLoop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
    }

    func write(_ chunk: ByteBuffer) {
        if state.sendsDirect {
            unsent.append(chunk)
        } else {
            context?.write(wrapOutboundOut(.byteBuffer(chunk)), promise: nil)
        }
    }

    /// How a flush went: `socket` straight (`SocketSend`), `channel` through SwiftNIO.
    enum Path { case socket, channel }

    /// Sends what was written since the last flush; more than one chunk is joined in `scratch`
    /// (the loop's, so no connection keeps a buffer for it). nil when the handler is gone.
    func flush(joiningIn scratch: inout ByteBuffer) -> Path? {
        guard let context else { return nil }
        guard state.sendsDirect, !unsent.isEmpty else {
            if case .streaming(.throughNIO) = state { flushThroughNIO(context) } else { context.flush() }
            return .channel
        }
        let bytes = unsent.count == 1 ? unsent[0] : join(unsent, in: &scratch)
        unsent.removeAll(keepingCapacity: true)
        switch socket?.send(bytes) {
        case .bytes(let sent)? where sent == bytes.readableBytes:
            return .socket
        case .bytes(let sent)?:
            // A full socket: SwiftNIO keeps the rest and tells when it is writable again.
            let rest = bytes.getSlice(at: bytes.readerIndex + sent, length: bytes.readableBytes - sent)!
            context.write(wrapOutboundOut(.byteBuffer(rest)), promise: nil)
        case .failed?, nil:
            // SwiftNIO meets the same error on this write and closes the channel its usual way.
            move(.socketFailed)
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

    /// Flushes SwiftNIO's bytes for the connection; the socket is written straight again once
    /// they (and none written after them) are all out.
    private func flushThroughNIO(_ context: ChannelHandlerContext) {
        move(.bytesHeldByNIO)
        guard case .streaming(.throughNIO(let flush)) = state else { return context.flush() }
        // An empty write completes when everything before it is written.
        let done = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(ByteBuffer())), promise: done)
        done.futureResult.assumeIsolated().whenSuccess { self.move(.nioDrained(flush: flush)) }
    }

    /// This connection's front handler (`HeraldHTTP1Channel` puts one in every plain HTTP/1.1
    /// connection). On the event loop.
    static func of(_ channel: any Channel) throws -> StreamConnection {
        try channel.pipeline.syncOperations.handler(type: StreamConnection.self)
    }
}

/// A connection a stream took, as seen from outside its event loop.
final class TakenMark: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}

/// What Hummingbird's task for a connection a stream took meets: its request sequence fails with
/// it, and its writes and closes are refused with it.
struct StreamTookConnection: Error {}
