import Foundation
import HeraldCore
import NIOCore
import NIOPosix
import Testing

/// Herald's SMTP client against a real SMTP server (aiosmtpd, Tests/receivers/smtp_receiver.py)
/// on loopback: STARTTLS and implicit TLS with a private CA, AUTH, and which failures the
/// outbox may retry.
@Suite struct SMTPClientTests {
    private let user = ["--user", "herald", "--password", "s3cret"]

    private func message(to: [String] = ["ops@example.com"], subject: String = "Door open", body: String = "The door is open.\n") -> EmailMessage {
        EmailMessage(from: "Herald <herald@example.com>", to: to, subject: subject, body: body,
                     messageID: "<42.ops@herald>", date: Date())
    }

    /// The error `send` threw, or nil (recorded as an issue) if it succeeded.
    private func failure(_ client: SMTPClient, _ message: EmailMessage) async -> SMTPError? {
        do {
            try await client.send(message)
            Issue.record("the send succeeded")
            return nil
        } catch {
            return error
        }
    }

    @Test func deliversOverSTARTTLSWithAuthentication() async throws {
        let receiver = try await SMTPReceiver(user)
        let server = try SMTPServer(host: "localhost", port: receiver.port, caFile: receiver.certificate,
                                    username: "herald", password: "s3cret")
        let subject = "Température élevée 🔥 dans la cuisine — " + String(repeating: "très ", count: 20)
        let longLine = (1...400).map(String.init).joined(separator: ",")
        let body = "Kitchen: 31 °C\n.hidden line that starts with a dot\n.\n\(longLine)\nend = done \n"
        try await SMTPClient(server: server).send(message(to: ["ops@example.com", "Night Shift <night@example.com>"],
                                                          subject: subject, body: body))
        try await eventually("the message to arrive") { receiver.mail().count == 1 }
        let mail = try #require(receiver.mail().first)
        #expect(mail.tls && mail.auth_user == "herald")
        #expect(mail.mail_from == "herald@example.com")
        #expect(mail.rcpt_tos == ["ops@example.com", "night@example.com"])
        #expect(mail.subject == subject, "RFC 2047 decoded by Python's email package")
        #expect(mail.body == body.replacingOccurrences(of: "\n", with: "\r\n"), "quoted-printable decoded by Python")
        let head = mail.data.components(separatedBy: "\r\n\r\n")[0]
        for header in ["Message-ID: <42.ops@herald>", "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
                       "Content-Transfer-Encoding: quoted-printable", "From: \"Herald\" <herald@example.com>",
                       "To: ops@example.com, \"Night Shift\" <night@example.com>"] {
            #expect(head.contains("\r\n" + header + "\r\n") || head.hasSuffix("\r\n" + header), "\(header) in \(head)")
        }
        #expect(head.hasPrefix("Date: "))
        #expect(mail.data.contains("\r\n.hidden line"), "the dot-stuffing was undone by the server")
        #expect(mail.data.components(separatedBy: "\r\n").allSatisfy { $0.utf8.count <= 78 })
        await receiver.stop()
    }

    @Test func deliversOverImplicitTLS() async throws {
        let receiver = try await SMTPReceiver(user + ["--tls-mode", "implicit"])
        let server = try SMTPServer(host: "127.0.0.1", port: receiver.port, security: .tls, caFile: receiver.certificate,
                                    username: "herald", password: "s3cret")
        try await SMTPClient(server: server).send(message())
        try await eventually("the message to arrive") { receiver.mail().count == 1 }
        #expect(receiver.mail().first?.tls == true)
        await receiver.stop()
    }

    @Test func deliversInPlainToALocalRelay() async throws {
        let receiver = try await SMTPReceiver(["--tls-mode", "none"])
        let server = try SMTPServer(host: "127.0.0.1", port: receiver.port, security: .none)
        try await SMTPClient(server: server).send(message())
        try await eventually("the message to arrive") { receiver.mail().count == 1 }
        #expect(receiver.mail().first?.tls == false)
        await receiver.stop()
    }

    @Test func usesAUTHLOGINWhenPLAINIsNotOffered() async throws {
        let receiver = try await SMTPReceiver(user + ["--auth-exclude", "PLAIN"])
        let server = try SMTPServer(host: "localhost", port: receiver.port, caFile: receiver.certificate,
                                    username: "herald", password: "s3cret")
        try await SMTPClient(server: server).send(message())
        try await eventually("the message to arrive") { receiver.mail().count == 1 }
        #expect(receiver.mail().first?.auth_user == "herald")
        await receiver.stop()
    }

    @Test func aTryLaterIsRetryableAndTheRetryIsDelivered() async throws {
        let receiver = try await SMTPReceiver(user + ["--fail-first", "1"])
        let client = SMTPClient(server: try SMTPServer(host: "localhost", port: receiver.port, caFile: receiver.certificate,
                                                      username: "herald", password: "s3cret"))
        let error = try #require(await failure(client, message()))
        #expect(error.isRetryable, "\(error)")
        #expect(error.description.contains("refused: 451 4.3.0 try again later"), "\(error)")
        try await client.send(message())
        try await eventually("the retry to arrive") { receiver.mail().count == 1 }
        await receiver.stop()
    }

    @Test func aRejectedRecipientIsPermanentNamedAndStopsTheMessage() async throws {
        let receiver = try await SMTPReceiver(user + ["--reject-rcpt", "nobody@example.com"])
        let client = SMTPClient(server: try SMTPServer(host: "localhost", port: receiver.port, caFile: receiver.certificate,
                                                      username: "herald", password: "s3cret"))
        let error = try #require(await failure(client, message(to: ["ops@example.com", "nobody@example.com"])))
        #expect(!error.isRetryable)
        #expect(error.description == "RCPT TO <nobody@example.com> refused: 550 5.1.1 no such user")
        #expect(receiver.mail().isEmpty, "no DATA was sent, so no one got it")
        await receiver.stop()
    }

    @Test func aWrongPasswordIsPermanent() async throws {
        let receiver = try await SMTPReceiver(user)
        let client = SMTPClient(server: try SMTPServer(host: "localhost", port: receiver.port, caFile: receiver.certificate,
                                                      username: "herald", password: "wrong"))
        let error = try #require(await failure(client, message()))
        #expect(!error.isRetryable)
        #expect(error.description.hasPrefix("AUTH PLAIN refused: 535"), "\(error)")
        #expect(!error.description.contains("wrong"), "the password is not in the message")
        await receiver.stop()
    }

    @Test func noCredentialsWhereTheServerWantsThemIsPermanent() async throws {
        let receiver = try await SMTPReceiver(user)
        let client = SMTPClient(server: try SMTPServer(host: "localhost", port: receiver.port, caFile: receiver.certificate))
        let error = try #require(await failure(client, message()))
        guard case .authenticationRequired = error else { Issue.record("\(error)"); return }
        #expect(!error.isRetryable)
        await receiver.stop()
    }

    @Test func aCertificateNotTrustedIsPermanent() async throws {
        let receiver = try await SMTPReceiver(user)
        let client = SMTPClient(server: try SMTPServer(host: "localhost", port: receiver.port,
                                                      username: "herald", password: "s3cret"))
        let error = try #require(await failure(client, message()))
        guard case .certificateNotTrusted = error else { Issue.record("\(error)"); return }
        #expect(!error.isRetryable)
        await receiver.stop()
    }

    @Test func aServerWithoutSTARTTLSIsRefusedWhenItIsRequired() async throws {
        let receiver = try await SMTPReceiver(["--tls-mode", "none"])
        let client = SMTPClient(server: try SMTPServer(host: "localhost", port: receiver.port, caFile: receiver.certificate))
        let error = try #require(await failure(client, message()))
        guard case .startTLSNotOffered = error else { Issue.record("\(error)"); return }
        #expect(!error.isRetryable)
        #expect(receiver.mail().isEmpty)
        await receiver.stop()
    }

    @Test func aPortWithNothingListeningIsRetryable() async throws {
        let client = SMTPClient(server: try SMTPServer(host: "127.0.0.1", port: try freePort()))
        let error = try #require(await failure(client, message()))
        guard case .connectionFailed = error else { Issue.record("\(error)"); return }
        #expect(error.isRetryable)
    }

    @Test func aServerThatNeverSpeaksTimesOutRetryably() async throws {
        let peer = try await ScriptedPeer(hangUp: false)
        let client = SMTPClient(server: try SMTPServer(host: "127.0.0.1", port: peer.port, timeout: .seconds(3)))
        let error = try #require(await failure(client, message()))
        guard case .timedOut(let during, _) = error else { Issue.record("\(error)"); return }
        // The greeting, unless a loaded machine took the whole bound to connect.
        #expect(["the greeting", "the connection"].contains(during) && error.isRetryable, "\(error)")
        await peer.stop()
    }

    @Test func aCancelledSendEndsAtOnceAndIsRetryable() async throws {
        let peer = try await ScriptedPeer(hangUp: false)
        let client = SMTPClient(server: try SMTPServer(host: "127.0.0.1", port: peer.port, security: .none))
        let message = message()
        let send = Task { await failure(client, message) }
        send.cancel()
        let error = try #require(await send.value)
        guard case .cancelled = error else { Issue.record("\(error)"); return }
        #expect(error.isRetryable)
        await peer.stop()
    }

    @Test func aHangUpInTheTLSHandshakeIsRetryable() async throws {
        let peer = try await ScriptedPeer(hangUp: true)
        let client = SMTPClient(server: try SMTPServer(host: "127.0.0.1", port: peer.port, security: .tls))
        let error = try #require(await failure(client, message()))
        guard case .connectionClosed = error else { Issue.record("\(error)"); return }
        #expect(error.isRetryable, "\(error)")
        await peer.stop()
    }

    @Test func plainToAHostElsewhereIsRefusedAtInit() {
        #expect(throws: SMTPError.self) { try SMTPServer(host: "mail.example.com", port: 25, security: .none) }
    }
}

/// A loopback TCP server that does one thing with every connection: hang up at once, or
/// never say a word.
private struct ScriptedPeer {
    private final class HangUp: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        func channelActive(context: ChannelHandlerContext) { context.close(promise: nil) }
    }

    let channel: any Channel
    var port: Int { channel.localAddress?.port ?? 0 }

    init(hangUp: Bool) async throws {
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    if hangUp { try child.pipeline.syncOperations.addHandler(HangUp()) }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func stop() async { try? await channel.close() }
}
