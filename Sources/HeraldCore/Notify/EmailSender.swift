import Foundation

/// `smtp:` — one plain-text email per notification. Its Message-ID is made of the event id and
/// the target, so a resent duplicate is recognisable as the same message.
struct EmailSender: NotifySender {
    var client: SMTPClient
    var target: String
    var from: String
    var to: [String]

    func send(_ delivery: NoticeDelivery) async -> DeliveryResult {
        let message = EmailMessage(from: from, to: to, subject: "[Herald] " + delivery.notice.title, body: Self.body(delivery),
                                   messageID: "<\(delivery.idempotencyKey).\(target)@herald>",
                                   date: Date(timeIntervalSince1970: Double(delivery.event.draft.time) / 1000))
        do {
            try await client.send(message)
            return .sent
        } catch {
            return error.isRetryable ? .retry(reason: error.description, after: nil) : .permanent(reason: error.description)
        }
    }

    /// What a person reads first, then the facts, then the event as the stream carried it.
    static func body(_ delivery: NoticeDelivery) -> String {
        let notice = delivery.notice, event = delivery.event
        let data = try? JSONText(validating: Array(event.draft.data.utf8))
        var lines = [notice.message, ""]
        if delivery.folded > 0 {
            lines += ["(\(delivery.folded) earlier change\(delivery.folded == 1 ? "" : "s") of this alert folded into this one)", ""]
        }
        lines.append("What:      \(notice.transition.rawValue)")
        if let rule = notice.rule { lines.append("Rule:      \(rule)") }
        if let key = notice.key { lines.append("Key:       \(key)") }
        lines.append("Severity:  \(notice.severity.rawValue)")
        for (label, field) in [("Value:     ", "value"), ("Threshold: ", "threshold")] {
            if let value = data?.value(at: field), !value.isNull { lines.append(label + value.singleLine) }
        }
        lines.append("Time:      \(Clock.iso8601(milliseconds: event.draft.time))")
        lines.append("Event:     \(event.id) on \(event.channel)")
        lines += ["", "-- ", "The event as Herald's streams carry it:", delivery.envelope]
        return lines.joined(separator: "\n")
    }
}
