import HTTPTypes
import Metrics
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOHTTPTypes

/// The deadlines of one HTTP/1.1 connection (or one HTTP/2 stream), so that no client holds a
/// connection by sending slowly or not at all: the first request head must arrive within
/// `head`, a request body within `body` of its head, and the next request within `idle` of the
/// last response. While a request is being answered nothing is timed: a stream lasts for hours.
///
/// A request head that does not parse gets Herald's JSON error here (400, or 431 when it is too
/// large), since no route ever sees it. On HTTP/1.1 a response that says `Connection: close`
/// closes the connection once it is written, so a body refused unread (413) is never waited
/// for; on an HTTP/2 stream, where that header is not allowed, it is taken out.
final class RequestDeadlines: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    struct Limits: Sendable {
        var head: TimeAmount
        var body: TimeAmount
        var idle: TimeAmount
    }

    /// Where the connection is, counted rather than named, since HTTP/1.1 lets requests be
    /// pipelined behind the one being answered and lets an answer go out before its body is in.
    struct Cycle: Equatable {
        /// Request heads received whose response has not ended.
        var unanswered = 0
        /// A request's body has begun and not ended.
        var bodyOpen = false
        /// A request came on this connection before (the next wait is `idle`, not `head`).
        var servedOne = false
        /// A response said `Connection: close`: the connection ends with it.
        var closing = false

        enum Deadline: Equatable {
            case head, body, idle
            var reason: String {
                switch self {
                case .head: "slow_head"
                case .body: "slow_body"
                case .idle: "idle"
                }
            }
        }

        /// What is awaited from the client, if anything: its body first, else its next request
        /// once every request has been answered.
        var deadline: Deadline? {
            if closing { return nil }
            if bodyOpen { return .body }
            if unanswered == 0 { return servedOne ? .idle : .head }
            return nil
        }

        /// No request is in progress: an unparsable head is this handler's to answer.
        var betweenRequests: Bool { unanswered == 0 && !bodyOpen && !closing }

        mutating func headReceived() {
            unanswered += 1
            bodyOpen = true
            servedOne = true
        }

        mutating func bodyEnded() { bodyOpen = false }

        mutating func responseEnded() { unanswered = max(unanswered - 1, 0) }
    }

    let limits: Limits
    /// On an HTTP/2 stream (one configuration serves HTTP/1.1 over TLS and HTTP/2's streams):
    /// no `Connection` header, and the stream ends by itself.
    private var http2Stream = false
    private(set) var cycle = Cycle()
    private var timer: (deadline: Cycle.Deadline, task: Scheduled<Void>)?

    init(limits: Limits) {
        self.limits = limits
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // An HTTP/2 stream's parent is its connection, on the same loop, with NIO's HTTP/2 handler.
        if let parent = context.channel.parent, parent.eventLoop === context.eventLoop {
            http2Stream = (try? parent.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self)) != nil
        }
        if context.channel.isActive { rearm(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        rearm(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.task.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: cycle.headReceived()
        case .end: cycle.bodyEnded()
        case .body: break
        }
        rearm(context)
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var response) where response.headerFields[.connection] == "close":
            if http2Stream {
                response.headerFields[.connection] = nil
                return context.write(wrapOutboundOut(.head(response)), promise: promise)
            }
            cycle.closing = true
            rearm(context)
        case .end where cycle.closing:
            let written = promise ?? context.eventLoop.makePromise()
            context.write(data, promise: written)
            written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            return
        case .end:
            cycle.responseEnded()
            rearm(context)
        case .head, .body:
            break
        }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parseError = error as? HTTPParserError, cycle.betweenRequests else {
            // Inside a request the route reading its body answers (APIError maps parser errors).
            return context.fireErrorCaught(error)
        }
        let answer = APIError.forMalformedHead(parseError)
        cycle.closing = true
        rearm(context)
        var fields = answer.headers
        fields[.contentType] = "application/json; charset=utf-8"
        fields[.connection] = "close"
        fields[.xContentTypeOptions] = "nosniff"
        let body = ByteBuffer(string: answer.jsonBody)
        fields[.contentLength] = String(body.readableBytes)
        context.write(wrapOutboundOut(.head(HTTPResponse(status: answer.status, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    /// Starts the deadline the cycle now awaits, unless it is the one already running (a body
    /// part does not restart the body's deadline).
    private func rearm(_ context: ChannelHandlerContext) {
        let wanted = cycle.deadline
        guard wanted != timer?.deadline else { return }
        timer?.task.cancel()
        timer = nil
        guard let wanted else { return }
        let amount: TimeAmount = switch wanted {
        case .head: limits.head
        case .body: limits.body
        case .idle: limits.idle
        }
        let task = context.eventLoop.assumeIsolated().scheduleTask(in: amount) { [weak self] in
            guard let self, self.cycle.deadline == wanted else { return }
            Counter(label: "herald_http_refused_total", dimensions: [("reason", wanted.reason)]).increment()
            context.close(promise: nil)
        }
        timer = (wanted, task)
    }
}
