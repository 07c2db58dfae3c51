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

    /// One notification owed: what the outbox row holds when written.
    struct Owed: Sendable, Equatable {
        var target: String
        var lane: String
        var event: StoredEvent
        var subject: String
    }

    /// What `events` owe, in order; `lanes` (the Web Push subscriptions, oldest first) is asked
    /// for once, and only when a Web Push target takes one of them. Each store writes the rows in
    /// the transaction that stores the events.
    func owed(_ events: [StoredEvent], lanes: () throws -> [String]) rethrows -> [Owed] {
        guard !routes.isEmpty else { return [] }
        var owed: [Owed] = []
        var known: [String]?
        for event in events {
            guard let notice = Notice(event, alertChannels: alertChannels) else { continue }
            for route in routes where route.filter.accepts(notice) {
                if route.perSubscription {
                    if known == nil { known = try lanes() }
                    owed += known!.map { Owed(target: route.target, lane: $0, event: event, subject: notice.subject) }
                } else {
                    owed.append(Owed(target: route.target, lane: "", event: event, subject: notice.subject))
                }
            }
        }
        return owed
    }

    /// Whether `events` may owe a Web Push lane: a store that reads the lanes ahead asks this first.
    func mayNeedLanes(_ events: [StoredEvent]) -> Bool {
        routes.contains(where: \.perSubscription) && events.contains { Notice.mayComeFrom($0.type) }
    }

    /// The SQLite writer's part, on its thread.
    func enqueue(_ events: [StoredEvent], in db: Database) throws {
        let now = Clock.nowMilliseconds()
        for owed in try owed(events, lanes: { try EventLog.pushEndpoints(in: db) }) {
            try db.cachedStatement(sql: """
                INSERT INTO notify_outbox(target, lane, event_id, subject, envelope, created_at, next_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [owed.target, owed.lane, owed.event.id, owed.subject, owed.event.envelope, now, now])
        }
    }
}
