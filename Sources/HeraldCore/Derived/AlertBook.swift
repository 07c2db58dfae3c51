import GRDB

/// An alert's current state, kept in the `alerts` table by the writer.
public struct AlertRecord: Sendable, Equatable {
    public var id: String
    public var channel: String
    public var key: String?
    public var rule: String?
    public var severity: String
    public var message: String?
    public var value: Double?
    public var threshold: Double?
    public var state: String
    public var raisedAt: Int64?
    public var clearedAt: Int64?
    public var ackedAt: Int64?
    public var lastEventId: Int64

    public var json: String {
        "{\"id\":\(JSONText.quoted(id)),\"rule\":\(jsonString(rule)),\"channel\":\(JSONText.quoted(channel))"
            + ",\"key\":\(jsonString(key)),\"severity\":\(JSONText.quoted(severity)),\"message\":\(jsonString(message))"
            + ",\"value\":\(jsonNumber(value)),\"threshold\":\(jsonNumber(threshold)),\"state\":\(JSONText.quoted(state))"
            + ",\"raisedAt\":\(jsonTime(raisedAt)),\"clearedAt\":\(jsonTime(clearedAt)),\"ackedAt\":\(jsonTime(ackedAt))"
            + ",\"lastEventId\":\(lastEventId)}"
    }

    /// The event data for a change of this alert.
    var eventData: String {
        "{\"alertId\":\(JSONText.quoted(id)),\"rule\":\(jsonString(rule)),\"severity\":\(JSONText.quoted(severity))"
            + ",\"message\":\(jsonString(message)),\"value\":\(jsonNumber(value)),\"threshold\":\(jsonNumber(threshold))"
            + ",\"state\":\(JSONText.quoted(state)),\"sensorKey\":\(jsonString(key)),\"ackedAt\":\(jsonTime(ackedAt))}"
    }

    static let columns = "id, channel, key, rule, severity, message, value, threshold, state, raised_at, cleared_at, acked_at, last_event_id"

    init(row: Row) {
        id = row[0]; channel = row[1]; key = row[2]; rule = row[3]; severity = row[4]; message = row[5]
        value = row[6]; threshold = row[7]; state = row[8]; raisedAt = row[9]; clearedAt = row[10]
        ackedAt = row[11]; lastEventId = row[12]
    }

    init(id: String, channel: String, key: String?, rule: String?, severity: String, state: String) {
        self.id = id
        self.channel = channel
        self.key = key
        self.rule = rule
        self.severity = severity
        self.state = state
        self.lastEventId = 0
    }
}

/// Alerts from alert routes and from rules on readings, and their acknowledgement. Every change
/// is an event on the alerts channel; the `alerts` table holds the current state, so rules keep
/// their state across restarts.
enum AlertBook {
    /// An event from an alert route: the device reports the alert itself. Returns the draft with
    /// its type set to the alert's state, and the record to save once the event has its id.
    static func fromRoute(_ draft: EventDraft, rows: some DerivedStateRows) throws -> (EventDraft, AlertRecord) {
        let data = try? JSONText(validating: Array(draft.data.utf8))
        let state = data?.value(at: "state")?.stringValue == "cleared" ? "cleared" : "raised"
        let id = draft.key ?? draft.channel
        var alert = try rows.alert(id)
            ?? AlertRecord(id: id, channel: draft.channel, key: draft.key, rule: nil, severity: "warning", state: state)
        alert.severity = data?.value(at: "severity")?.stringValue ?? alert.severity
        alert.message = data?.value(at: "message")?.stringValue ?? alert.message
        alert.value = data?.value(at: "value")?.numberValue ?? alert.value
        if state == "raised" && alert.state != "raised" || alert.raisedAt == nil {
            alert.raisedAt = draft.time
            alert.ackedAt = nil
        }
        if state == "cleared" { alert.clearedAt = draft.time }
        alert.state = state
        var typed = draft
        typed.type = state
        return (typed, alert)
    }

    /// Events the rules make of a stored reading, with the records to save.
    static func evaluate(_ rules: [AlertRule], on event: StoredEvent, alertsChannel: String,
                         rows: some DerivedStateRows) throws -> [(EventDraft, AlertRecord)] {
        var results: [(EventDraft, AlertRecord)] = []
        for rule in rules where rule.applies(to: event) {
            if rule.offlineFor != nil {
                if let result = try offline(rule, on: event, alertsChannel: alertsChannel, rows: rows) { results.append(result) }
                continue
            }
            guard let data = try? JSONText(validating: Array(event.draft.data.utf8)),
                  let value = data.value(at: rule.field)?.numberValue else { continue }
            let id = rule.name + ":" + (event.key ?? "")
            let existing = try rows.alert(id)
            guard let transition = rule.transition(value: value, active: existing?.state == "raised") else { continue }
            var alert = existing ?? AlertRecord(id: id, channel: alertsChannel, key: event.key, rule: rule.name,
                                                severity: rule.severity.rawValue, state: "raised")
            alert.severity = rule.severity.rawValue
            alert.value = value
            switch transition {
            case .raise(let threshold):
                alert.state = "raised"
                alert.threshold = threshold
                alert.raisedAt = event.draft.time
                alert.clearedAt = nil
                alert.ackedAt = nil
                alert.message = rule.message ?? "\(rule.field) of \(event.key ?? event.channel) is \(jsonNumber(value)), beyond \(jsonNumber(threshold))"
            case .clear(let threshold):
                alert.state = "cleared"
                alert.threshold = threshold
                alert.clearedAt = event.draft.time
                alert.message = rule.message.map { "cleared: " + $0 } ?? "\(rule.field) of \(event.key ?? event.channel) is back at \(jsonNumber(value))"
            }
            results.append((ruleEvent(alert, rule: rule, cause: event, alertsChannel: alertsChannel), alert))
        }
        return results
    }

    /// A device rule: raised by the `offline` event `OfflineWatcher` appends once the time has
    /// passed, cleared by the device's next `online`.
    private static func offline(_ rule: AlertRule, on event: StoredEvent, alertsChannel: String,
                                rows: some DerivedStateRows) throws -> (EventDraft, AlertRecord)? {
        guard let offlineFor = rule.offlineFor, event.type == "offline" || event.type == "availability", let device = event.key,
              let data = try? JSONText(validating: Array(event.draft.data.utf8)) else { return nil }
        let id = rule.name + ":" + device
        let existing = try rows.alert(id)
        let raised = existing?.state == "raised"
        var alert = existing ?? AlertRecord(id: id, channel: alertsChannel, key: device, rule: rule.name,
                                            severity: rule.severity.rawValue, state: "raised")
        alert.severity = rule.severity.rawValue
        alert.threshold = offlineFor
        if event.type == "offline", !raised, let seconds = data.value(at: "offline_seconds")?.numberValue, seconds >= offlineFor {
            alert.state = "raised"
            alert.value = seconds
            alert.raisedAt = event.draft.time
            alert.clearedAt = nil
            alert.ackedAt = nil
            alert.message = rule.message ?? "\(device) has been offline for \(Duration.seconds(seconds).spoken)"
        } else if event.type == "availability", raised, data.value(at: "availability")?.stringValue == "online" {
            alert.state = "cleared"
            alert.clearedAt = event.draft.time
            alert.message = rule.message.map { "cleared: " + $0 } ?? "\(device) is back online"
        } else {
            return nil
        }
        return (ruleEvent(alert, rule: rule, cause: event, alertsChannel: alertsChannel), alert)
    }

    /// A rule's alert changed because of `cause`: the event saying so, naming both.
    private static func ruleEvent(_ alert: AlertRecord, rule: AlertRule, cause: StoredEvent, alertsChannel: String) -> EventDraft {
        EventDraft(channel: alertsChannel, type: alert.state, key: alert.id, time: cause.draft.time,
                   data: alert.eventData, source: "{\"rule\":\(JSONText.quoted(rule.name)),\"eventId\":\(cause.id)}")
    }

    static func acknowledgement(of id: String, at time: Int64, rows: some DerivedStateRows) throws -> (EventDraft, AlertRecord) {
        guard var alert = try rows.alert(id) else { throw AlertNotFound(id: id) }
        alert.ackedAt = time
        let draft = EventDraft(channel: alert.channel, type: "acked", key: alert.id, time: time, data: alert.eventData,
                               source: "{\"http\":{\"method\":\"POST\",\"ack\":true}}")
        return (draft, alert)
    }
}

public struct AlertNotFound: Error, CustomStringConvertible {
    public var id: String
    public var description: String { "no alert with id \(String(reflecting: id))" }
}

extension Duration {
    /// `90 s` → "1 min 30 s", for alert messages.
    var spoken: String {
        let total = Int(components.seconds)
        if total < 60 { return "\(total) s" }
        if total < 3600 { return "\(total / 60) min" + (total % 60 > 0 ? " \(total % 60) s" : "") }
        return "\(total / 3600) h" + (total % 3600 >= 60 ? " \(total % 3600 / 60) min" : "")
    }
}
