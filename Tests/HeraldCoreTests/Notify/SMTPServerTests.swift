import Foundation
@testable import HeraldCore
import Testing

/// The settings check that `check-config` shows, and how errors read and sort.
@Suite struct SMTPServerTests {
    private func refusal(_ build: () throws -> SMTPServer) -> String? {
        do { _ = try build(); return nil } catch { return String(describing: error) }
    }

    @Test func aSettingThatCannotWorkIsRefusedWithItsReason() throws {
        #expect(refusal { try SMTPServer(host: "", port: 587) }?.contains("host is empty") == true)
        #expect(refusal { try SMTPServer(host: "mail example", port: 587) }?.contains("spaces") == true)
        #expect(refusal { try SMTPServer(host: "mail.example.com", port: 0) }?.contains("outside 1–65535") == true)
        #expect(refusal { try SMTPServer(host: "mail.example.com", port: 70000) } != nil)
        #expect(refusal { try SMTPServer(host: "mail.example.com", port: 25, security: .none) }?
            .contains("allowed only to 127.0.0.1, ::1 or localhost") == true)
        #expect(refusal { try SMTPServer(host: "mail.example.com", port: 587, username: "u") }?.contains("without a password") == true)
        #expect(refusal { try SMTPServer(host: "localhost", port: 25, security: .none, username: "u", password: "p") }?
            .contains("over TLS only") == true)
        #expect(refusal { try SMTPServer(host: "mail.example.com", port: 587, caFile: "/nonexistent/ca.pem") }?
            .contains("does not exist") == true)
        #expect(refusal { try SMTPServer(host: "mail.example.com", port: 587, timeout: .zero) } != nil)
    }

    @Test func aCAFileWithoutACertificateIsRefused() throws {
        let path = NSTemporaryDirectory() + "herald-smtp-ca-\(UUID().uuidString).pem"
        try "not a certificate\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(refusal { try SMTPServer(host: "mail.example.com", port: 587, caFile: path) }?.contains("no PEM certificate") == true)
    }

    @Test func plainIsAllowedToLoopback() throws {
        for host in ["127.0.0.1", "::1", "localhost", "LOCALHOST"] {
            #expect(try SMTPServer(host: host, port: 25, security: .none).security == .none)
        }
        let server = try SMTPServer(host: "mail.example.com", port: 587)
        #expect(server.security == .startTLS && server.heloName == "herald" && server.timeout == .seconds(30))
    }

    @Test func errorsSayWhatWasRefusedAndWhetherToRetry() {
        let rcpt = SMTPError.rejected(command: "RCPT TO <x@y>", reply: SMTPReply(code: 550, lines: ["5.1.1 no such user"]))
        #expect(rcpt.description == "RCPT TO <x@y> refused: 550 5.1.1 no such user")
        #expect(!rcpt.isRetryable)
        #expect(SMTPError.rejected(command: "DATA", reply: SMTPReply(code: 451, lines: ["4.3.0 later"])).isRetryable)
        #expect(SMTPError.connectionFailed(host: "h", port: 1, reason: "Connection refused").isRetryable)
        #expect(SMTPError.connectionClosed(during: "the TLS handshake", reason: "EOF").isRetryable)
        #expect(SMTPError.timedOut(during: "DATA", after: .seconds(30)).isRetryable)
        #expect(!SMTPError.startTLSNotOffered(host: "h").isRetryable)
        #expect(!SMTPError.certificateNotTrusted(host: "h", reason: "r").isRetryable)
        #expect(!SMTPError.authenticationRequired(command: "MAIL FROM <a@b>", reply: SMTPReply(code: 530, lines: [])).isRetryable)
        #expect(!SMTPError.invalidConfiguration("x").isRetryable)
    }
}
