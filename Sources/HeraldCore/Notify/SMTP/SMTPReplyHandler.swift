import NIOCore

/// A command's bytes on their way out, with the promise for the server's reply to it.
struct SMTPExchange: Sendable {
    /// How errors name the command: "RCPT TO <x@y>", or "AUTH PLAIN" without the credentials.
    let label: String
    let bytes: ByteBuffer
    let reply: EventLoopPromise<SMTPReply>
}

/// Matches the server's replies to the commands that asked for them, in order (RFC 5321 has
/// one reply per command), and bounds the whole conversation by its deadline. Bytes from the
/// server while no command waits are refused: they answer nothing, and after STARTTLS they
/// would be plaintext injected to be read as if it came over TLS (RFC 3207 §6).
final class SMTPReplyHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = SMTPExchange
    typealias OutboundOut = ByteBuffer

    private struct Waiting {
        let label: String
        let reply: EventLoopPromise<SMTPReply>
    }

    /// Open with the commands waiting for replies, oldest first; or failed, for good.
    private enum State {
        case open([Waiting])
        case failed(SMTPError)
    }

    private var state: State
    private var lines = SMTPLineReader()
    private var parser = SMTPReplyParser()
    private let ended: EventLoopPromise<Void>
    private let server: SMTPServer
    private let deadline: NIODeadline
    private var timer: Scheduled<Void>?

    /// `greeting` waits from the start: the server speaks first (RFC 5321 §3.1). `ended` fails
    /// with the first error, or when the handler goes: it outlives the pipeline, for a command
    /// written after the connection closed, which never reaches this handler.
    init(greeting: EventLoopPromise<SMTPReply>, ended: EventLoopPromise<Void>, server: SMTPServer, deadline: NIODeadline) {
        state = .open([Waiting(label: "the greeting", reply: greeting)])
        self.ended = ended
        self.server = server
        self.deadline = deadline
    }

    private var currentLabel: String {
        if case .open(let waiting) = state, let first = waiting.first { return first.label }
        return "the conversation"
    }

    func handlerAdded(context: ChannelHandlerContext) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            self.fail(.timedOut(during: self.currentLabel, after: self.server.timeout), context: context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        fail(.connectionClosed(during: currentLabel, reason: "the connection was closed"), context: nil)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let exchange = unwrapOutboundIn(data)
        switch state {
        case .failed(let error):
            exchange.reply.fail(error)
            promise?.fail(error)
        case .open(var waiting):
            waiting.append(Waiting(label: exchange.label, reply: exchange.reply))
            state = .open(waiting)
            context.write(wrapOutboundOut(exchange.bytes), promise: promise)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .open = state else { return }  // after a failure, the bytes mean nothing
        var bytes = unwrapInboundIn(data)
        lines.append(&bytes)
        do {
            while let line = try lines.nextLine() {
                guard case .open(var waiting) = state, !waiting.isEmpty else {
                    throw SMTPError.protocolViolation("the server sent \"\(line.prefix(80))\" when no command was waiting")
                }
                guard let reply = try parser.feed(line) else { continue }
                let answered = waiting.removeFirst()
                state = .open(waiting)  // before the promise runs its callbacks, which may write
                answered.reply.succeed(reply)
            }
            if case .open(let waiting) = state, waiting.isEmpty, !lines.isEmpty {
                throw SMTPError.protocolViolation("the server sent bytes when no command was waiting")
            }
        } catch {
            fail(SMTPError.from(error, during: currentLabel, host: server.host, port: server.port), context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(.connectionClosed(during: currentLabel, reason: "the server closed the connection"), context: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(SMTPError.from(error, during: currentLabel, host: server.host, port: server.port), context: context)
    }

    /// Fails every waiting command with `error`, and every later one; closes the connection.
    private func fail(_ error: SMTPError, context: ChannelHandlerContext?) {
        guard case .open(let waiting) = state else { return }
        state = .failed(error)
        timer?.cancel()
        for command in waiting { command.reply.fail(error) }
        ended.fail(error)
        context?.close(promise: nil)
    }
}
