/// What some channels mean beyond "a stream of events" (DESIGN §6): job channels keep job state,
/// alert channels keep alert state, and alert rules watch readings. Applied by the writer inside
/// the transaction that stores the event, so state, ids and snapshot always agree.
public struct EventSemantics: Sendable {
    public var jobChannels: Set<String> = []
    public var alertRouteChannels: Set<String> = []
    public var rules: [AlertRule] = []
    /// Where rule alerts and acknowledgements go.
    public var alertsChannel = "alerts"

    public init() {}

    public init(routes: [RouteConfig], rules: [AlertRule]) {
        jobChannels = Set(routes.filter { $0.kind == .job }.map(\.channel))
        alertRouteChannels = Set(routes.filter { $0.kind == .alert }.map(\.channel))
        alertsChannel = routes.first { $0.kind == .alert }?.channel ?? "alerts"
        self.rules = rules
    }

    /// Stores one draft and whatever it causes; returns the stored events in id order.
    func store(_ original: EventDraft, rows: inout some DerivedStateRows, insert: (EventDraft) throws -> StoredEvent) throws -> [StoredEvent] {
        var draft = original
        var job: JobRecord?
        var routeAlert: AlertRecord?
        let isStaleness = draft.type == "stale" || draft.type == "fresh"
        if jobChannels.contains(draft.channel), let key = draft.key, !isStaleness {
            job = JobTracker.update(try rows.job(channel: draft.channel, key: key), with: draft)
            if let job { draft.data = JobTracker.enrich(draft.data, with: job) }
        } else if alertRouteChannels.contains(draft.channel), !isStaleness {
            (draft, routeAlert) = try AlertBook.fromRoute(draft, rows: rows)
        }
        var stored = try insert(draft)
        if let job {
            try rows.save(job, eventId: stored.id)
            stored.terminal = job.isTerminal
        }
        if var routeAlert {
            routeAlert.lastEventId = stored.id
            try rows.save(routeAlert)
        }
        var all = [stored]
        if !isStaleness {
            for (alertDraft, var alert) in try AlertBook.evaluate(rules, on: stored, alertsChannel: alertsChannel, rows: rows) {
                let alertEvent = try insert(alertDraft)
                alert.lastEventId = alertEvent.id
                try rows.save(alert)
                all.append(alertEvent)
            }
        }
        return all
    }

    func acknowledge(_ alertId: String, at time: Int64, rows: inout some DerivedStateRows, insert: (EventDraft) throws -> StoredEvent) throws -> StoredEvent {
        var (draft, alert) = try AlertBook.acknowledgement(of: alertId, at: time, rows: rows)
        let stored = try insert(draft)
        alert.lastEventId = stored.id
        try rows.save(alert)
        return stored
    }
}

extension EventSemantics {
    /// The rows `store` and `acknowledge` can read for a batch, for a store that loads them
    /// first (`PrefetchedStateRows`). Keep in step with `store`, `AlertBook` and `AlertRule.applies`.
    struct RowsNeeded {
        var jobs: Set<PrefetchedStateRows.JobKey> = []
        var alerts: Set<String> = []
    }

    func rowsNeeded(for drafts: [EventDraft], acknowledging: [String]) -> RowsNeeded {
        var needed = RowsNeeded()
        needed.alerts.formUnion(acknowledging)
        for draft in drafts where draft.type != "stale" && draft.type != "fresh" {
            if jobChannels.contains(draft.channel), let key = draft.key {
                needed.jobs.insert(.init(channel: draft.channel, key: key))
            } else if alertRouteChannels.contains(draft.channel) {
                needed.alerts.insert(draft.key ?? draft.channel)
            }
            for rule in rules where rule.channel == draft.channel && (rule.key == nil || rule.key == draft.key) {
                needed.alerts.insert(rule.name + ":" + (draft.key ?? ""))
            }
        }
        return needed
    }
}
