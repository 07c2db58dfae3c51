import Foundation
import Testing

/// The smtp target end to end: Herald raises an alert, aiosmtpd receives the mail over STARTTLS
/// with a login, after a 451 that Herald retries.
@Suite struct NotifyEmailTests {
    @Test func anAlertIsMailedOverSTARTTLSAfterATemporaryRefusal() async throws {
        let receiver = try await SMTPReceiver(["--user", "herald", "--password", "s3cret", "--fail-first", "1"])
        let dir = try TempDir()
        try "s3cret\n".write(toFile: dir.file("smtp.password"), atomically: true, encoding: .utf8)
        let herald = try await HeraldInstance(dir: dir, config: NotifyWebhookTests.rules + """

            notify:
              - name: mail
                smtp: { host: localhost, port: \(receiver.port), ca_file: \(receiver.certificate), username: herald,
                        password_file: \(dir.file("smtp.password")), from: herald@example.com, to: [ops@example.com] }
            """)
        try await NotifyWebhookTests.reading(herald, 31)
        try await eventually("the alert mailed after the 451 was retried") { !receiver.mail().isEmpty }
        let mail = try #require(receiver.mail().first)
        let alert = try #require(try await herald.allEvents(channel: "alerts").first)
        #expect(mail.tls && mail.auth_user == "herald")
        #expect(mail.rcpt_tos == ["ops@example.com"])
        #expect(mail.subject == "[Herald] warning: greenhouse-hot")
        #expect(mail.body?.contains("value of greenhouse/temp is 31, beyond 30") == true, "\(mail.body ?? "no body")")
        #expect(mail.body?.contains("Rule:      greenhouse-hot") == true)
        #expect(mail.data.contains("Message-ID: <\(alert.id).mail@herald>"))
        #expect(try await herald.get("/api/notify").body.contains("\"kind\":\"smtp\""))
    }
}
