/// Cookie sessions (`POST /api/session`), on SQLite (`EventLog`) and on PostgreSQL
/// (`PostgresEventLog`) alike: only a hash of the cookie is stored, bound to its token's digest.
public protocol SessionStore: Sendable {
    /// Stores a session, and drops the expired ones on the way.
    func createSession(idHash: String, tokenDigest: String, expiresAt: Int64) async throws
    /// The SHA-256 of the token a session live at `now` was made from.
    func sessionTokenDigest(idHash: String, now: Int64) async throws -> String?
    func deleteSession(idHash: String) async throws
    /// Ends the sessions of tokens no longer configured (at start-up); returns how many.
    @discardableResult
    func deleteSessions(exceptFor digests: [String]) async throws -> Int
}

/// What sources know about devices (DESIGN §5a), written with the events they came with.
public protocol DeviceStore: Sendable {
    /// Every device with its latest readings, by id.
    func devices() async throws -> [DeviceRecord]
    func device(id: String) async throws -> DeviceRecord?
    /// Every device without its readings' values: what the sources and watchers start from.
    func deviceStates() async throws -> [DeviceRecord]
    /// What each of `sources` remembered (`DeviceEffect.remember`), in one read.
    func sourceMemories(_ sources: [String]) async throws -> [String: [String: String]]
}

/// Retention (`EventLog.RetentionPolicy`): what `RetentionService` runs on either store.
public protocol EventRetention: Sendable {
    /// Deletes at most `batch` events per transaction; returns how many were deleted in all.
    @discardableResult
    func prune(_ policy: EventLog.RetentionPolicy, now: Int64, batch: Int) async throws -> Int
}

/// Reads for the dashboard's plots and first paint: a reading's downsampled history, and the
/// snapshot with jobs, alerts and devices.
public protocol SeriesStore: Sendable {
    func series(_ query: SeriesQuery) async throws -> Series
    func fullSnapshot(matching filter: EventFilter) async throws -> Snapshot
}


/// Everything a server asks of its store, on SQLite (`EventLog`) or PostgreSQL
/// (`PostgresEventLog`); `HeraldRuntime.store` is one of the two.
public protocol HeraldStore: EventHistory, SessionStore, DeviceStore, EventRetention, SeriesStore {
    /// Appends the events as one all-or-nothing request; returns them with their ids once committed.
    func append(_ drafts: [EventDraft]) async throws -> [StoredEvent]
    /// Acknowledges an alert; returns the acknowledgement event. Throws `AlertNotFound`.
    func acknowledgeAlert(_ id: String) async throws -> StoredEvent
    func jobs(channel: String?, key: String?) async throws -> [JobRecord]
    func alerts(all: Bool) async throws -> [AlertRecord]
    /// Whether an append could be stored now (`/readyz`).
    func isWritable() async -> Bool
}

extension EventLog: HeraldStore {}
extension PostgresEventLog: HeraldStore {}

/// The notification outbox (DESIGN §12) and what Web Push keeps, on either store. Rows are
/// written with their events (`NotifyRouting`) and taken by the delivery services, which store
/// a `$deadletter` event for what they give up.
protocol NotifyStore: Sendable {
    /// Up to `perLane` rows of each of `target`'s lanes, in order, leaving out the rows a rate
    /// limit holds back (never tried, not due).
    func outboxPage(target: String, now: Int64, perLane: Int) async throws -> [[OutboxItem]]
    /// When the next row of `target` a rate limit holds back comes due, if any.
    func outboxNextHeld(target: String, now: Int64) async throws -> Int64?
    /// The newest row of the same alert in the same lane, and how many older ones it stands for.
    func outboxLatest(of item: OutboxItem) async throws -> (OutboxItem, folded: Int)
    /// When `subject` last went out to `target`.
    func lastSent(target: String, subject: String) async throws -> Int64?
    /// Sent: the row and the older rows of its alert it folded are no longer owed.
    func outboxDelivered(_ item: OutboxItem, at time: Int64) async throws
    /// Tried and failed for now (`error`), or held by a rate limit (no error): tried at `nextAt`.
    func outboxReschedule(_ item: OutboxItem, nextAt: Int64, error: String?) async throws
    /// Given up: no longer owed, nor are the older rows of its alert it stood for.
    func outboxRemove(_ item: OutboxItem) async throws
    /// Rows of targets not in `targets`, oldest first.
    func outboxOrphans(keeping targets: Set<String>) async throws -> [OutboxItem]
    /// Per target, or for `only` that one.
    func outboxSummaries(only: String?) async throws -> [String: OutboxSummary]

    /// Stores (or replaces) a browser's subscription; a new one beyond `limit` is refused.
    func savePushSubscription(endpoint: String, json: String, limit: Int) async throws -> PushSubscriptionSaved
    /// Removes a subscription and what its lane was owed; returns whether there was one.
    @discardableResult
    func deletePushSubscription(endpoint: String) async throws -> Bool
    func pushSubscription(endpoint: String) async throws -> String?
    /// Oldest first: the order the writer gives their lanes.
    func pushSubscriptionEndpoints() async throws -> [String]
    func pushSubscriptionCount() async throws -> Int
    /// A text kept in the store (the VAPID key), made by `make` the first time it is asked for;
    /// on several nodes the first one made is the one every node gets.
    func keptValue(_ name: String, orMake make: @Sendable () -> String) async throws -> String

    /// For the dead letters of what is given up.
    func append(_ drafts: [EventDraft]) async throws -> [StoredEvent]
    /// What an MQTT alert target republishes at start.
    func alerts(all: Bool) async throws -> [AlertRecord]
}

enum PushSubscriptionSaved { case created, replaced, full }

extension NotifyStore {
    func outboxSummaries() async throws -> [String: OutboxSummary] { try await outboxSummaries(only: nil) }
}

extension EventLog: NotifyStore {}
extension PostgresEventLog: NotifyStore {}
