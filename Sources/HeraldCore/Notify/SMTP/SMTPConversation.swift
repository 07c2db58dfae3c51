import Foundation
import NIOCore
import NIOSSL

/// The dialogue of one send (RFC 5321 §3, RFC 3207, RFC 4954), step by step on one connection.
struct SMTPConversation {
    let connection: SMTPConnection
    let server: SMTPServer

    func deliver(sender: String, recipients: [String], data: ByteBuffer, startTLS: NIOSSLContext?) async throws(SMTPError) {
        try expect(await connection.waitForGreeting(), "the greeting", 220)
        var capabilities = try await hello()
        if let startTLS {
            guard capabilities.startTLS else { throw .startTLSNotOffered(host: server.host) }
            try expect(await connection.send("STARTTLS"), "STARTTLS", 220)
            try await connection.startTLS(startTLS)
            capabilities = try await hello()  // what was offered in the clear may have been forged
        }
        if let username = server.username, let password = server.password {
            try await authenticate(username: username, password: password, offered: capabilities.authMechanisms)
        }
        let mail = "MAIL FROM:<\(sender)>"
        let mailReply = try await connection.send(mail)
        if mailReply.code == 530 && server.username == nil {
            throw .authenticationRequired(command: "MAIL FROM <\(sender)>", reply: mailReply)
        }
        try expect(mailReply, "MAIL FROM <\(sender)>", 250)
        for recipient in recipients {
            let reply = try await connection.send("RCPT TO:<\(recipient)>")
            try expect(reply, "RCPT TO <\(recipient)>", 250, 251)
        }
        try expect(await connection.send("DATA"), "DATA", 354)
        try expect(await connection.exchange(data, label: "the message after DATA"), "the message after DATA", 250)
        // Accepted: the server owns the message now, and a failed QUIT changes nothing.
        _ = try? await connection.send("QUIT")
    }

    private func hello() async throws(SMTPError) -> SMTPCapabilities {
        let reply = try await connection.send("EHLO \(server.heloName)")
        try expect(reply, "EHLO", 250)
        return SMTPCapabilities(ehlo: reply)
    }

    /// AUTH PLAIN (RFC 4616) where offered, else LOGIN; only ever after TLS, which the
    /// configuration guarantees (credentials with security `none` are refused there).
    private func authenticate(username: String, password: String, offered: Set<String>) async throws(SMTPError) {
        func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
        if offered.contains("PLAIN") {
            let reply = try await connection.send("AUTH PLAIN " + base64("\0\(username)\0\(password)"), label: "AUTH PLAIN")
            try expect(reply, "AUTH PLAIN", 235)
        } else if offered.contains("LOGIN") {
            try expect(await connection.send("AUTH LOGIN"), "AUTH LOGIN", 334)
            try expect(await connection.send(base64(username), label: "AUTH LOGIN username"), "AUTH LOGIN username", 334)
            try expect(await connection.send(base64(password), label: "AUTH LOGIN password"), "AUTH LOGIN password", 235)
        } else {
            throw .authenticationNotOffered(host: server.host, offered: offered.sorted())
        }
    }

    /// A 4xx or 5xx is the server refusing `label`; any other unexpected code is not SMTP.
    private func expect(_ reply: SMTPReply, _ label: String, _ codes: Int...) throws(SMTPError) {
        guard !codes.contains(reply.code) else { return }
        if reply.code >= 400 { throw .rejected(command: label, reply: reply) }
        throw .protocolViolation("\(label) answered \(reply), not \(codes.map(String.init).joined(separator: " or "))")
    }
}
