import NIOCore
import NIOHTTP1

/// Answers an HTTP/1.0 request as HTTP/1.0 (RFC 9112 §2.3): Hummingbird's codec labels every
/// response HTTP/1.1, so SwiftNIO's encoder would send an HTTP/1.0 client chunked bodies it must
/// not be sent. With the version set here the encoder sends a body without Content-Length as
/// plain bytes, delimited by the close that this handler then makes. A 1.0 connection stays open
/// only when the client asked for keep-alive and the answer has a Content-Length.
///
/// Sits between SwiftNIO's HTTP/1 codec and Hummingbird's, where requests and answers still have
/// their versions. Requests may be pipelined, so the versions wait in order for their answers.
/// A stream to an HTTP/1.0 client stays on SwiftNIO's path (`LiveStream.handOver` declines it):
/// the direct lane writes chunks.
final class HTTP10Replies: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private struct Asked {
        let isHTTP10: Bool
        let keepAlive: Bool
    }

    /// The requests read and not yet answered, oldest first.
    private var unanswered: [Asked] = []
    /// The answer being written ends with a close.
    private var closeAfterAnswer = false

    /// The request whose answer is due next came as HTTP/1.0 (a stream then cannot use chunks).
    var answeringHTTP10: Bool { unanswered.first?.isHTTP10 ?? false }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) {
            unanswered.append(Asked(isHTTP10: head.version == .http1_0, keepAlive: head.isKeepAlive))
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head) where answeringHTTP10:
            head.version = .http1_0
            let asked = unanswered[0]
            closeAfterAnswer = !asked.keepAlive || !head.headers.contains(name: "content-length")
            head.headers.replaceOrAdd(name: "connection", value: closeAfterAnswer ? "close" : "keep-alive")
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .end where !unanswered.isEmpty:
            unanswered.removeFirst()
            guard closeAfterAnswer else { return context.write(data, promise: promise) }
            closeAfterAnswer = false
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.cascade(to: promise)
            context.writeAndFlush(data, promise: written)
            written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        default:
            context.write(data, promise: promise)
        }
    }
}

extension HTTP10Replies {
    /// Puts one behind SwiftNIO's request decoder of `channel`'s pipeline. On the event loop.
    static func install(on channel: any Channel) throws {
        let pipeline = channel.pipeline.syncOperations
        let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
        try pipeline.addHandler(HTTP10Replies(), position: .after(decoder))
    }

    /// Whether the answer `channel` writes next goes to an HTTP/1.0 request. On the event loop.
    static func answeringHTTP10(on channel: any Channel) -> Bool {
        (try? channel.pipeline.syncOperations.handler(type: HTTP10Replies.self).answeringHTTP10) ?? false
    }
}
