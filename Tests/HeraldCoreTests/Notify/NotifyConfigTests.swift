import Foundation
import Testing
@testable import HeraldCore

@Suite struct NotifyConfigTests {
    let secretPath: String = {
        let path = NSTemporaryDirectory() + "herald-notify-secret-" + UUID().uuidString
        try? "s3cret\n".write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }()

    @Test func targetsOfEveryKindAreReadWithTheirFilters() throws {
        let config = try ConfigLoader.parse("""
            notify:
              - name: ops
                webhook: { url: "https://hooks.example.com/herald?k=1", secret_file: \(secretPath) }
                transitions: [raised, cleared, offline]
                rules: [greenhouse-hot]
                keys: ["greenhouse/#"]
                min_severity: warning
                rate_limit: 10m
                max_age: 2h
              - name: phone
                ntfy: { url: "https://ntfy.sh/herald-alerts", token_file: \(secretPath) }
              - name: browsers
                webpush: { subject: "mailto:ops@example.com" }
              - name: back
                mqtt: { topic: herald/alerts, homeassistant_discovery: true }
              - name: mail
                smtp: { host: mail.example.com, username: herald, password_file: \(secretPath), from: herald@example.com, to: [ops@example.com] }
            """)
        #expect(config.notify.map(\.name) == ["ops", "phone", "browsers", "back", "mail"])
        let ops = config.notify[0]
        guard case .webhook(let url, let secret) = ops.kind else { Issue.record("ops is \(ops.kind)"); return }
        #expect(url == "https://hooks.example.com/herald?k=1")
        #expect(secret == Array("s3cret".utf8))  // the file's last newline is not part of the key
        #expect(ops.filter.transitions == [.raised, .cleared, .offline])
        #expect(ops.filter.rules?.map(\.text) == ["greenhouse-hot"])
        #expect(ops.filter.keys?.map(\.text) == ["greenhouse/#"])
        #expect(ops.filter.minSeverity == .warning)
        #expect(ops.rateLimitSeconds == 600)
        #expect(ops.maxAgeSeconds == 7200)
        let phone = config.notify[1]
        #expect(phone.filter.transitions == [.raised, .cleared])  // the default
        #expect(phone.rateLimitSeconds == nil)
        #expect(phone.maxAgeSeconds == 86_400)
        guard case .ntfy(_, let token) = phone.kind else { Issue.record("phone is \(phone.kind)"); return }
        #expect(token == "s3cret")
        guard case .mqtt(let mqtt) = config.notify[3].kind else { Issue.record("back is not mqtt"); return }
        #expect(mqtt.topic == "herald/alerts" && mqtt.homeAssistantDiscovery && mqtt.discoveryPrefix == "homeassistant")
        guard case .email(let email) = config.notify[4].kind else { Issue.record("mail is not smtp"); return }
        #expect(email.port == 587 && email.security == "starttls" && email.password == "s3cret")
    }

    @Test func badTargetsAreNamedWithTheirLine() {
        let problems = problems(of: """
            notify:
              - name: ops
                webhook: { url: "ftp://hooks.example.com/x", secret_file: /nonexistent/herald-secret }
              - name: phone
                ntfy: { url: "ntfy.sh/topic" }
              - name: browsers
                webpush: { subject: "ops@example.com" }
              - name: mail
                smtp: { host: mail.example.com, security: none, from: herald@example.com, to: [ops@example.com] }
              - name: twice
                ntfy: { url: "https://ntfy.sh/a" }
                webhook: { url: "https://example.com", secret_file: \(secretPath) }
              - name: late
                ntfy: { url: "https://ntfy.sh/a" }
                transitions: [raised, exploded]
                rate_limit: soon
            """)
        #expect(problems.contains { $0.line == 3 && $0.message.contains("webhook.url must be an http:// or https:// URL") })
        #expect(problems.contains { $0.line == 3 && $0.message.contains("cannot read webhook.secret_file /nonexistent/herald-secret") })
        #expect(problems.contains { $0.line == 5 && $0.message.contains("ntfy.url") })
        #expect(problems.contains { $0.line == 7 && $0.message.contains("webpush.subject must be a mailto: or https: URL") })
        #expect(problems.contains { $0.line == 9 && $0.message.contains("allowed only to 127.0.0.1") })
        #expect(problems.contains { $0.line == 12 && $0.message.contains("one kind") })
        #expect(problems.contains { $0.line == 15 && $0.message.contains("'exploded' is no transition") })
        #expect(problems.contains { $0.line == 16 && $0.message.contains("rate_limit must be a duration") })
    }

    @Test func namesAreUniqueAndAnMQTTTargetNeedsTheBroker() {
        let problems = problems(of: """
            mqtt: { enabled: false }
            notify:
              - { name: back, mqtt: { topic: herald/alerts } }
              - { name: back, ntfy: { url: "https://ntfy.sh/a" } }
              - { name: a, webpush: { subject: "mailto:a@example.com" } }
              - { name: b, webpush: { subject: "mailto:b@example.com" } }
              - { name: "bad name", ntfy: { url: "https://ntfy.sh/a" } }
            """)
        #expect(problems.contains { $0.line == 3 && $0.message.contains("mqtt.enabled is false") })
        #expect(problems.contains { $0.line == 4 && $0.message.contains("must be unique") })
        #expect(problems.contains { $0.line == 6 && $0.message.contains("only one webpush target") })
        #expect(problems.contains { $0.line == 7 && $0.message.contains("letters, digits") })
    }

    private func problems(of yaml: String) -> [ConfigError.Problem] {
        do {
            _ = try ConfigLoader.parse(yaml)
            return []
        } catch {
            return error.problems
        }
    }
}
