import NIOCore
import NIOPosix
import NIOSSL

/// One connection to the server, driven from async code: each command's reply is a promise
/// kept on NIO's event loop and awaited, so nothing blocks Swift's cooperative pool.
struct SMTPConnection: Sendable {
    let channel: any Channel
    let server: SMTPServer
    /// The server's first words, waited for from the start of the connection.
    let greeting: EventLoopFuture<SMTPReply>
    /// Fails with the reply handler's first error, once the connection is failed or gone.
    let ended: EventLoopFuture<Void>

    /// Connects, with TLS from the first byte when `implicitTLS` is given; the deadline for the
    /// whole send starts now.
    static func connect(
        to server: SMTPServer, group: any EventLoopGroup, implicitTLS: NIOSSLContext?
    ) async throws(SMTPError) -> SMTPConnection {
        let deadline = NIODeadline.now() + TimeAmount(server.timeout)
        let loop = group.next()
        let greeting = loop.makePromise(of: SMTPReply.self)
        let ended = loop.makePromise(of: Void.self)
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(TimeAmount(server.timeout))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let implicitTLS { try pipeline.addHandler(makeTLSHandler(implicitTLS, server: server)) }
                    try pipeline.addHandler(SMTPReplyHandler(greeting: greeting, ended: ended, server: server, deadline: deadline))
                }
            }
        do {
            let channel = try await bootstrap.connect(host: server.host, port: server.port).get()
            return SMTPConnection(channel: channel, server: server, greeting: greeting.futureResult, ended: ended.futureResult)
        } catch {
            // The send's deadline can pass while the connect is still under way (a loaded
            // machine): the reply handler closes the channel then, and that is a timeout.
            let failure = NIODeadline.now() >= deadline ? SMTPError.timedOut(during: "the connection", after: server.timeout)
                : SMTPError.from(error, during: "connect", host: server.host, port: server.port)
            greeting.fail(failure)  // a promise is kept or broken, never dropped
            ended.fail(failure)
            throw failure
        }
    }

    /// Sends `command` and CRLF; `label` names it in errors when the line holds a secret.
    func send(_ command: String, label: String? = nil) async throws(SMTPError) -> SMTPReply {
        try await exchange(ByteBuffer(string: command + "\r\n"), label: label ?? command)
    }

    /// Sends `bytes` as they are (DATA's message) and waits for the reply to them.
    func exchange(_ bytes: ByteBuffer, label: String) async throws(SMTPError) -> SMTPReply {
        let reply = channel.eventLoop.makePromise(of: SMTPReply.self)
        // A write on a closed channel never reaches the reply handler; the handler's first error
        // (a certificate refused just before this write) says why, not "closed channel".
        let written = channel.eventLoop.makePromise(of: Void.self)
        let ended = self.ended
        written.futureResult.whenFailure { _ in
            ended.whenFailure { reply.fail($0) }
        }
        channel.writeAndFlush(SMTPExchange(label: label, bytes: bytes, reply: reply), promise: written)
        return try await wait(for: reply.futureResult, label: label)
    }

    func waitForGreeting() async throws(SMTPError) -> SMTPReply {
        try await wait(for: greeting, label: "the greeting")
    }

    /// Puts TLS under the reply handler, after the server's 220 to STARTTLS; the next command
    /// goes out once the handshake is done, and fails with its error if it fails.
    func startTLS(_ context: NIOSSLContext) async throws(SMTPError) {
        let server = self.server
        let added = channel.eventLoop.submit { [channel] in
            try channel.pipeline.syncOperations.addHandler(makeTLSHandler(context, server: server), position: .first)
        }
        _ = try await wait(for: added, label: "STARTTLS")
    }

    /// Closes without waiting: once the outcome is known, TLS's goodbye is the server's business.
    func close() {
        channel.close(promise: nil)
    }

    /// Awaits `future` on the loop; cancelling the task closes the connection, which breaks it.
    private func wait<T: Sendable>(for future: EventLoopFuture<T>, label: String) async throws(SMTPError) -> T {
        do {
            return try await withTaskCancellationHandler {
                try await future.get()
            } onCancel: { [channel] in
                channel.close(promise: nil)
            }
        } catch {
            if Task.isCancelled { throw .cancelled }
            throw SMTPError.from(error, during: label, host: server.host, port: server.port)
        }
    }
}

/// TLS for `server`: SNI and the certificate check by name, or by address when the host is an
/// IP literal (which SNI must not carry, RFC 6066 §3).
private func makeTLSHandler(_ context: NIOSSLContext, server: SMTPServer) throws -> NIOSSLClientHandler {
    let isAddress = (try? SocketAddress(ipAddress: server.host, port: 0)) != nil
    return try NIOSSLClientHandler(context: context, serverHostname: isAddress ? nil : server.host)
}
