import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// Sends email through one SMTP server, one connection per message: the outbox sends rarely,
/// and a fresh connection has no state left over from a failed one.
public struct SMTPClient: Sendable {
    public let server: SMTPServer
    private let eventLoopGroup: any EventLoopGroup

    /// `eventLoopGroup` carries the connections; the process-wide NIO group unless a test brings its own.
    public init(server: SMTPServer, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.server = server
        self.eventLoopGroup = eventLoopGroup
    }

    /// Hands `message` to the server: returns once the server has accepted it (250 after DATA).
    /// A rejected recipient ends the transaction before DATA, so no one gets the message and a
    /// retry cannot duplicate it for the others. A connection lost after DATA but before the
    /// reply leaves the outcome unknown; a retry may then deliver twice, which the stable
    /// Message-ID lets a reader recognise.
    public func send(_ message: EmailMessage) async throws(SMTPError) {
        let envelope = try message.envelope()
        let data = ByteBuffer(string: try message.dataLines())
        var tls: NIOSSLContext?
        if server.security != .none { tls = try await makeTLSContext() }
        let connection = try await SMTPConnection.connect(
            to: server, group: eventLoopGroup, implicitTLS: server.security == .tls ? tls : nil)
        defer { connection.close() }
        try await SMTPConversation(connection: connection, server: server)
            .deliver(sender: envelope.sender, recipients: envelope.recipients, data: data, startTLS: server.security == .startTLS ? tls : nil)
    }

    /// The TLS settings, built on NIO's thread pool: the system's roots are read from disk.
    private func makeTLSContext() async throws(SMTPError) -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let roots = server.trustRoots { configuration.trustRoots = .certificates(roots) }
        let settings = configuration
        do {
            return try await NIOThreadPool.singleton.runIfActive { try NIOSSLContext(configuration: settings) }
        } catch {
            throw .tlsFailed(reason: "cannot set up TLS: \(error)")
        }
    }
}
