import HTTPTypes
import Metrics
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// The deadlines of one HTTP/1.1 connection (or one HTTP/2 stream), so that no client holds a
/// connection by sending slowly or not at all: the first request head must arrive within
/// `head`, a request body within `body` of its head, and the next request within `idle` of the
/// last response. A response being written is never timed: a stream lasts for hours.
///
/// A request head that does not parse gets Herald's JSON error here (400, or 431 when it is too
/// large), since no route ever sees it. A response that says `Connection: close` closes the
/// connection once it is written, so a body that was refused unread (413) is never waited for.
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

    /// Where the connection is in its request/response cycle; each case names what is awaited.
    enum Phase: Equatable {
        /// Connected; the first request head is not complete yet.
        case awaitingFirstHead
        /// A head came; its body (possibly empty) is not complete yet.
        case readingBody
        /// The request is in; a response is being made or written (untimed).
        case responding(closeAfter: Bool)
        /// A response was written; the next head has not come.
        case idle

        /// The deadline that runs in this phase, and the refusal it counts when it passes.
        func deadline(_ limits: Limits) -> (TimeAmount, reason: String)? {
            switch self {
            case .awaitingFirstHead: (limits.head, "slow_head")
            case .readingBody: (limits.body, "slow_body")
            case .idle: (limits.idle, "idle")
            case .responding: nil
            }
        }
    }

    let limits: Limits
    private(set) var phase = Phase.awaitingFirstHead
    private var timer: Scheduled<Void>?

    init(limits: Limits) {
        self.limits = limits
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { enter(.awaitingFirstHead, context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        enter(.awaitingFirstHead, context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (unwrapInboundIn(data), phase) {
        case (.head, .awaitingFirstHead), (.head, .idle):
            enter(.readingBody, context)
        case (.end, .readingBody):
            enter(.responding(closeAfter: false), context)
        default:
            break  // body parts, and requests pipelined behind a response (not timed)
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let response) where response.headerFields[.connection] == "close":
            phase = .responding(closeAfter: true)
            timer?.cancel()
        case .head:
            // An answer that does not wait for the body (a 401 before reading): the body's
            // deadline still runs until the body is in.
            break
        case .end:
            if phase == .responding(closeAfter: true) {
                let written = promise ?? context.eventLoop.makePromise()
                context.write(data, promise: written)
                written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
                return
            }
            if case .responding = phase { enter(.idle, context) }
        case .body:
            break
        }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parseError = error as? HTTPParserError, phase == .awaitingFirstHead || phase == .idle else {
            // Inside a body the route reading it answers (APIError maps parser errors).
            return context.fireErrorCaught(error)
        }
        let answer = APIError.forMalformedHead(parseError)
        phase = .responding(closeAfter: true)
        timer?.cancel()
        var fields = answer.headers
        fields[.contentType] = "application/json; charset=utf-8"
        fields[.connection] = "close"
        let body = ByteBuffer(string: answer.jsonBody)
        fields[.contentLength] = String(body.readableBytes)
        context.write(wrapOutboundOut(.head(HTTPResponse(status: answer.status, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    private func enter(_ next: Phase, _ context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        phase = next
        guard let (amount, reason) = next.deadline(limits) else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: amount) { [weak self] in
            guard let self, self.phase == next else { return }
            Counter(label: "herald_http_refused_total", dimensions: [("reason", reason)]).increment()
            context.close(promise: nil)
        }
    }
}
