/// What a stored event means to the notification targets: an alert's change, a reading gone
/// stale or a device gone offline, with what the targets' filters look at.
struct Notice: Sendable, Equatable {
    var transition: NotifyFilter.Transition
    /// The rule that raised the alert; nil for alerts a device reports itself, stale and offline.
    var rule: String?
    /// The reading's key, or the device's id.
    var key: String?
    /// What a rate limit folds by, and where the MQTT target keeps the state: one per alert.
    var subject: String
    var severity: AlertRule.Severity
    /// For people: "critical: temp-high" and "temperature of kitchen is 31, beyond 30".
    var title: String
    var message: String

    /// The event types a notice can come from; the writer sees every event, so anything else is
    /// turned away before its data is parsed.
    static func mayComeFrom(_ type: String) -> Bool {
        switch type {
        case "raised", "cleared", "acked", "stale", "offline": true
        default: false
        }
    }

    /// nil for any event that is none of these.
    init?(_ event: StoredEvent, alertChannels: Set<String>) {
        guard Self.mayComeFrom(event.type) else { return nil }
        let isAlert = event.type != "stale" && event.type != "offline"
        if isAlert && !alertChannels.contains(event.channel) { return nil }
        let data = try? JSONText(validating: Array(event.draft.data.utf8))
        switch isAlert ? "alert" : event.type {
        case "alert":
            transition = NotifyFilter.Transition(rawValue: event.type)!
            rule = data?.value(at: "rule")?.stringValue
            key = data?.value(at: "sensorKey")?.stringValue ?? event.key
            subject = event.channel + "/" + (event.key ?? "")
            severity = data?.value(at: "severity")?.stringValue.flatMap(AlertRule.Severity.init(rawValue:)) ?? .warning
            let what = rule ?? event.key ?? event.channel
            title = event.type == "raised" ? "\(severity.rawValue): \(what)" : "\(event.type): \(what)"
            message = data?.value(at: "message")?.stringValue ?? "\(what) \(event.type)"
        case "stale", "offline":
            transition = event.type == "stale" ? .stale : .offline
            key = event.key
            subject = event.channel + "/" + (event.key ?? "")
            severity = .warning
            let name = event.key ?? event.channel
            let seconds = data?.value(at: transition == .stale ? "stale_after_seconds" : "offline_seconds")?.numberValue
            let spell = seconds.map { " for " + Duration.seconds($0).spoken } ?? ""
            title = "\(event.type): \(name)"
            message = transition == .stale ? "\(name) on \(event.channel) has sent nothing\(spell)" : "\(name) has been offline\(spell)"
        default:
            return nil
        }
    }
}

extension AlertRule.Severity: Comparable {
    public static func < (lhs: Self, rhs: Self) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

extension NotifyFilter {
    func accepts(_ notice: Notice) -> Bool {
        guard transitions.contains(notice.transition), notice.severity >= minSeverity else { return false }
        if let rules {
            guard let rule = notice.rule, rules.contains(where: { $0.matches(rule) }) else { return false }
        }
        if let keys {
            guard let key = notice.key, keys.contains(where: { $0.matches(key) }) else { return false }
        }
        return true
    }
}
