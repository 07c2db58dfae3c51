import GRDB

/// The targets as the writer sees them: which stored events each one owes a notification for.
/// Applied inside the transaction that stores the events, so an alert and what it owes commit
/// together or not at all.
public struct NotifyRouting: Sendable {
    struct Route: Sendable {
        var target: String
        var filter: NotifyFilter
        /// Web Push owes one delivery per subscription, each in a lane of its own.
        var perSubscription: Bool
    }

    var routes: [Route] = []
    /// Channels whose raised / cleared / acked events are alerts.
    var alertChannels: Set<String> = []

    public init() {}

    public init(targets: [NotifyTarget], semantics: EventSemantics) {
        routes = targets.map { Route(target: $0.name, filter: $0.filter, perSubscription: $0.kind.isWebPush) }
        alertChannels = semantics.alertRouteChannels.union([semantics.alertsChannel])
    }

    func enqueue(_ events: [StoredEvent], in db: Database) throws {
        guard !routes.isEmpty else { return }
        var lanes: [String]?
        for event in events {
            guard let notice = Notice(event, alertChannels: alertChannels) else { continue }
            for route in routes where route.filter.accepts(notice) {
                if route.perSubscription {
                    if lanes == nil { lanes = try EventLog.pushEndpoints(in: db) }
                    for lane in lanes! { try Self.insert(event, notice: notice, target: route.target, lane: lane, in: db) }
                } else {
                    try Self.insert(event, notice: notice, target: route.target, lane: "", in: db)
                }
            }
        }
    }

    static func insert(_ event: StoredEvent, notice: Notice, target: String, lane: String, in db: Database) throws {
        let now = Clock.nowMilliseconds()
        try db.cachedStatement(sql: """
            INSERT INTO notify_outbox(target, lane, event_id, subject, envelope, created_at, next_at) VALUES (?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [target, lane, event.id, notice.subject, event.envelope, now, now])
    }
}
