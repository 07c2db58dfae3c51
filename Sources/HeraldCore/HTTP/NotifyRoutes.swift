import Foundation
import Hummingbird

/// `GET /api/notify`: each notify target, what it takes and what it still owes (DESIGN §12).
struct NotifyRoutes {
    let runtime: HeraldRuntime

    func register(on router: Router<HeraldRequestContext>) {
        router.get("/api/notify") { _, context in
            try context.requireAdmin()
            guard !runtime.notify.targets.isEmpty else { return jsonResponse("{\"targets\":[]}") }
            let outbox = runtime.notifyStore
            let summaries = try await outbox.outboxSummaries()
            let subscriptions = try await outbox.pushSubscriptionCount()
            let now = Clock.nowMilliseconds()
            let targets = runtime.notify.targets.map { target in
                Self.json(target, summary: summaries[target.name] ?? OutboxSummary(), subscriptions: subscriptions, now: now)
            }
            return jsonResponse("{\"targets\":[" + targets.joined(separator: ",") + "]}")
        }
    }

    static func json(_ target: NotifyTarget, summary: OutboxSummary, subscriptions: Int, now: Int64) -> String {
        let state = summary.owed == 0 ? "idle" : summary.lastError == nil ? "sending" : "retrying"
        let filter = target.filter
        var out = "{\"name\":\(JSONText.quoted(target.name)),\"kind\":\(JSONText.quoted(target.kind.name))"
        out += ",\"destination\":\(JSONText.quoted(destination(target.kind, subscriptions: subscriptions)))"
        out += ",\"state\":\"\(state)\",\"owed\":\(summary.owed)"
        out += ",\"oldestOwedSeconds\":" + jsonNumber(summary.oldestCreatedAt.map { Double(now - $0) / 1000 })
        out += ",\"lastError\":" + (summary.lastError.map(JSONText.quoted) ?? "null")
        out += ",\"transitions\":[" + filter.transitions.map(\.rawValue).sorted().map(JSONText.quoted).joined(separator: ",") + "]"
        out += ",\"rules\":" + (filter.rules.map { "[" + $0.map { JSONText.quoted($0.text) }.joined(separator: ",") + "]" } ?? "null")
        out += ",\"keys\":" + (filter.keys.map { "[" + $0.map { JSONText.quoted($0.text) }.joined(separator: ",") + "]" } ?? "null")
        out += ",\"minSeverity\":\(JSONText.quoted(filter.minSeverity.rawValue))"
        out += ",\"rateLimitSeconds\":" + jsonNumber(target.rateLimitSeconds) + ",\"maxAgeSeconds\":" + jsonNumber(target.maxAgeSeconds)
        if case .webpush = target.kind { out += ",\"subscriptions\":\(subscriptions)" }
        return out + "}"
    }

    /// Where it sends, without what may be secret in a URL's path or query (an ntfy topic is a password).
    static func destination(_ kind: NotifyTarget.Kind, subscriptions: Int) -> String {
        func origin(_ text: String) -> String {
            guard let url = URL(string: text), let scheme = url.scheme, let host = url.host else { return "" }
            return scheme + "://" + host + (url.port.map { ":\($0)" } ?? "")
        }
        switch kind {
        case .webhook(let url, _), .ntfy(let url, _): return origin(url)
        case .webpush: return "\(subscriptions) browser subscription\(subscriptions == 1 ? "" : "s")"
        case .mqtt(let mqtt): return mqtt.topic
        case .email(let email): return "\(email.host):\(email.port) to " + email.to.joined(separator: ", ")
        }
    }
}
