@testable import HeraldCore
import NIOCore
import NIOEmbedded
import Testing

/// The reply handler on SwiftNIO's testing channel: replies matched to commands, and what
/// the server may not do (speak out of turn, outlast the deadline).
@Suite struct SMTPReplyHandlerTests {
    private final class Setup {
        let channel = EmbeddedChannel()
        let greeting: EventLoopPromise<SMTPReply>
        let ended: EventLoopPromise<Void>

        init() throws {
            greeting = channel.eventLoop.makePromise()
            ended = channel.eventLoop.makePromise()
            let server = try SMTPServer(host: "localhost", port: 25, security: .none, timeout: .seconds(30))
            let deadline = channel.eventLoop.now + .seconds(30)
            let handler = SMTPReplyHandler(greeting: greeting, ended: ended, server: server, deadline: deadline)
            try channel.pipeline.syncOperations.addHandler(handler)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 25)).wait()
        }

        deinit { _ = try? channel.finish(acceptAlreadyClosed: true) }

        func command(_ text: String) -> EventLoopFuture<SMTPReply> {
            let reply = channel.eventLoop.makePromise(of: SMTPReply.self)
            // Not writeOutbound, which would throw a refused write: the reply's promise says why.
            channel.writeAndFlush(SMTPExchange(label: text, bytes: ByteBuffer(string: text + "\r\n"), reply: reply), promise: nil)
            return reply.futureResult
        }

        func serverSays(_ text: String) throws { try channel.writeInbound(ByteBuffer(string: text)) }

        func sent() throws -> String? { try channel.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) } }
    }

    private func result(_ future: EventLoopFuture<SMTPReply>) -> Result<SMTPReply, any Error>? {
        var result: Result<SMTPReply, any Error>?
        future.assumeIsolated().whenComplete { result = $0 }
        return result
    }

    @Test func repliesAnswerTheirCommandsInOrder() throws {
        let setup = try Setup()
        try setup.serverSays("220 mail.example.com ready\r\n")
        #expect(try result(setup.greeting.futureResult)?.get().code == 220)
        let ehlo = setup.command("EHLO herald")
        #expect(try setup.sent() == "EHLO herald\r\n")
        try setup.serverSays("250-mail.example.com\r\n250-STAR")
        #expect(result(ehlo) == nil, "half a reply answers nothing yet")
        try setup.serverSays("TTLS\r\n250 8BITMIME\r\n")
        #expect(try result(ehlo)?.get() == SMTPReply(code: 250, lines: ["mail.example.com", "STARTTLS", "8BITMIME"]))
    }

    @Test func bytesWithNoCommandWaitingEndTheConversation() throws {
        let setup = try Setup()
        // What a man in the middle would add behind the 220 to STARTTLS, to be read as a reply over TLS.
        try setup.serverSays("220 go ahead\r\n250 AUTH PLAIN\r\n")
        #expect(!setup.channel.isActive)
        let next = setup.command("EHLO herald")
        guard case .failure(SMTPError.protocolViolation(let text))? = result(next) else {
            Issue.record("\(String(describing: result(next)))")
            return
        }
        #expect(text.contains("no command was waiting"))
    }

    @Test func theDeadlineFailsWhatWaits() throws {
        let setup = try Setup()
        try setup.serverSays("220 ready\r\n")
        let ehlo = setup.command("EHLO herald")
        setup.channel.embeddedEventLoop.advanceTime(by: .seconds(31))
        guard case .failure(SMTPError.timedOut(let during, _))? = result(ehlo) else {
            Issue.record("\(String(describing: result(ehlo)))")
            return
        }
        #expect(during == "EHLO herald")
        #expect(!setup.channel.isActive)
    }

    @Test func anEndlessLineFailsTheGreeting() throws {
        let setup = try Setup()
        try setup.serverSays(String(repeating: "2", count: SMTPLineReader.defaultLimit + 1))
        guard case .failure(let error as SMTPError)? = result(setup.greeting.futureResult) else {
            Issue.record("the greeting did not fail")
            return
        }
        #expect(!error.isRetryable, "\(error)")
    }

    @Test func aClosedConnectionIsRetryable() throws {
        let setup = try Setup()
        try setup.serverSays("220 ready\r\n")
        let mail = setup.command("MAIL FROM:<a@b>")
        setup.channel.pipeline.fireChannelInactive()
        guard case .failure(let error as SMTPError)? = result(mail) else {
            Issue.record("MAIL FROM did not fail")
            return
        }
        #expect(error.isRetryable && error.description.contains("MAIL FROM"), "\(error)")
    }
}
