import Foundation
import Yams

/// `notify:` — where alerts go when they leave the box (`NotifyTarget`).
extension ConfigReader {
    mutating func readNotify(_ node: Node) -> [NotifyTarget] {
        guard let sequence = node.sequence else { fail(node, "notify must be a list of targets"); return [] }
        var targets: [NotifyTarget] = []
        let kinds: Set = ["webhook", "ntfy", "webpush", "mqtt", "smtp"]
        let known = kinds.union(["name", "transitions", "rules", "keys", "min_severity", "rate_limit", "max_age", "timeout"])
        for item in sequence {
            let problemsBefore = problems.count
            var name = "", kind: NotifyTarget.Kind?
            var filter = NotifyFilter(), rateLimit: Double?, maxAge = 86_400.0, timeout: Double?
            for (key, value) in members(item, "a notify target", known: known) {
                switch key {
                case "name": name = string(value, key) ?? ""
                case "transitions":
                    var transitions = Set<NotifyFilter.Transition>()
                    for text in strings(value, key) {
                        if let transition = NotifyFilter.Transition(rawValue: text) { transitions.insert(transition) }
                        else { fail(value, "'\(text)' is no transition (one of \(NotifyFilter.Transition.allCases.map(\.rawValue).joined(separator: ", ")))") }
                    }
                    if transitions.isEmpty { fail(value, "transitions must name at least one") } else { filter.transitions = transitions }
                case "rules", "keys":
                    let selectors = strings(value, key).compactMap { text -> Selector? in
                        do throws(InvalidSelector) { return try Selector(text) } catch { fail(value, error.description); return nil }
                    }
                    if key == "rules" { filter.rules = selectors } else { filter.keys = selectors }
                case "min_severity":
                    if let text = string(value, key), let severity = AlertRule.Severity(rawValue: text) { filter.minSeverity = severity }
                    else { fail(value, "min_severity must be one of info, warning, critical") }
                case "rate_limit": rateLimit = positiveDuration(value, key)
                case "max_age": maxAge = positiveDuration(value, key) ?? maxAge
                case "timeout": timeout = positiveDuration(value, key)
                default:
                    if let kind { fail(value, "a notify target has one kind: \(kind.name), or \(key), not both"); continue }
                    kind = readNotifyKind(key, value)
                }
            }
            guard problems.count == problemsBefore else { continue }
            guard let kind else { fail(item, "a notify target needs a name and one of \(kinds.sorted().joined(separator: ", "))"); continue }
            if name.isEmpty || name.utf8.contains(where: { !($0.isASCIIAlphanumeric || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")) }) {
                fail(item, "a notify target needs a name of letters, digits, '-' and '_'")
                continue
            }
            if let other = targets.first(where: { $0.name == name }) {
                fail(item, "notify target names must be unique ('\(name)' is also on line \(other.line ?? 0))")
                continue
            }
            if kind.isWebPush, targets.contains(where: { $0.kind.isWebPush }) {
                fail(item, "only one webpush target: the browsers' subscriptions belong to it")
                continue
            }
            var target = NotifyTarget(name: name, kind: kind)
            target.filter = filter
            target.rateLimitSeconds = rateLimit
            target.maxAgeSeconds = maxAge
            // A mail's conversation (greeting, TLS, login, data) takes longer than one POST.
            target.timeoutSeconds = timeout ?? (kind.name == "smtp" ? 30 : 10)
            target.line = item.mark?.line
            targets.append(target)
        }
        return targets
    }

    private mutating func positiveDuration(_ node: Node, _ name: String) -> Double? {
        let text = node.string ?? ""
        guard let seconds = Self.duration(text), seconds > 0 else { fail(node, "\(name) must be a duration like 30s, 10m or 24h"); return nil }
        return seconds
    }

    private mutating func readNotifyKind(_ kind: String, _ node: Node) -> NotifyTarget.Kind? {
        let problemsBefore = problems.count
        switch kind {
        case "webhook":
            var url: String?, secret: [UInt8]?
            for (key, value) in members(node, "webhook", known: ["url", "secret_file"]) {
                if key == "url" { url = httpURL(value, "webhook.url") } else { secret = secretFile(value, "webhook.secret_file").map { Array($0.utf8) } }
            }
            guard problems.count == problemsBefore else { return nil }
            guard let url, let secret else { fail(node, "webhook needs url and secret_file (the key its HMAC-SHA256 signature is made with)"); return nil }
            return .webhook(url: url, secret: secret)
        case "ntfy":
            var url: String?, token: String?
            for (key, value) in members(node, "ntfy", known: ["url", "token_file"]) {
                if key == "url" { url = httpURL(value, "ntfy.url") } else { token = secretFile(value, "ntfy.token_file") }
            }
            guard problems.count == problemsBefore else { return nil }
            guard let url else { fail(node, "ntfy needs url: the topic's URL, e.g. https://ntfy.sh/my-alerts"); return nil }
            return .ntfy(url: url, token: token)
        case "webpush":
            var subject: String?
            for (_, value) in members(node, "webpush", known: ["subject"]) {
                guard let text = string(value, "webpush.subject") else { continue }
                if text.hasPrefix("mailto:") && text.count > 7 || URL(string: text).map({ $0.scheme == "https" && $0.host != nil }) == true {
                    subject = text
                } else {
                    fail(value, "webpush.subject must be a mailto: or https: URL the push services can reach you at")
                }
            }
            guard problems.count == problemsBefore else { return nil }
            guard let subject else { fail(node, "webpush needs subject: a mailto: or https: contact for the push services"); return nil }
            return .webpush(subject: subject)
        case "mqtt":
            var target = NotifyTarget.MQTTTarget(topic: "")
            for (key, value) in members(node, "mqtt", known: ["topic", "homeassistant_discovery", "discovery_prefix"]) {
                switch key {
                case "topic", "discovery_prefix":
                    guard let text = string(value, key) else { continue }
                    if text.isEmpty || text.contains("+") || text.contains("#") || text.hasSuffix("/") {
                        fail(value, "mqtt.\(key) must be a topic without wildcards or a trailing '/'")
                    } else if key == "topic" { target.topic = text } else { target.discoveryPrefix = text }
                default: target.homeAssistantDiscovery = bool(value, key) ?? false
                }
            }
            guard problems.count == problemsBefore else { return nil }
            guard !target.topic.isEmpty else { fail(node, "mqtt needs topic, e.g. herald/alerts"); return nil }
            return .mqtt(target)
        default:
            return readSMTP(node).map { .email($0) }
        }
    }

    private mutating func readSMTP(_ node: Node) -> NotifyTarget.EmailTarget? {
        let problemsBefore = problems.count
        var email = NotifyTarget.EmailTarget()
        var portSet = false
        let known: Set = ["host", "port", "security", "ca_file", "username", "password_file", "from", "to"]
        for (key, value) in members(node, "smtp", known: known) {
            switch key {
            case "host": email.host = string(value, key) ?? ""
            case "port": email.port = int(value, key, 1...65535) ?? email.port; portSet = true
            case "security":
                let text = string(value, key) ?? ""
                if ["starttls", "tls", "none"].contains(text) { email.security = text }
                else { fail(value, "smtp.security must be starttls, tls or none") }
            case "ca_file": email.caFile = string(value, key)
            case "username": email.username = string(value, key)
            case "password_file": email.password = secretFile(value, "smtp.password_file")
            case "from": email.from = string(value, key) ?? ""
            default:
                email.to = value.sequence == nil ? [string(value, key)].compactMap { $0 } : strings(value, key)
            }
        }
        guard problems.count == problemsBefore else { return nil }
        if !portSet && email.security == "tls" { email.port = 465 }
        if email.host.isEmpty || !email.from.contains("@") || email.to.isEmpty || email.to.contains(where: { !$0.contains("@") }) {
            fail(node, "smtp needs host, from and to (addresses like ops@example.com)")
            return nil
        }
        // The client's own checks (security none beyond loopback, half a login, the CA file), here
        // so that check-config names the line.
        do throws(SMTPError) {
            _ = try email.server(timeout: .seconds(30))
        } catch {
            fail(node, error.description)
            return nil
        }
        return email
    }

    /// An http or https URL with a host.
    private mutating func httpURL(_ node: Node, _ name: String) -> String? {
        guard let text = string(node, name) else { return nil }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty else {
            fail(node, "\(name) must be an http:// or https:// URL, not '\(text)'")
            return nil
        }
        return text
    }

    /// A secret kept in a file of its own (so the configuration can be shown), its last newline cut.
    private mutating func secretFile(_ node: Node, _ name: String) -> String? {
        guard let path = string(node, name) else { return nil }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { fail(node, "cannot read \(name) \(path)"); return nil }
        let secret = text.trimmingCharacters(in: .newlines)
        if secret.isEmpty { fail(node, "\(name) \(path) is empty"); return nil }
        return secret
    }
}
