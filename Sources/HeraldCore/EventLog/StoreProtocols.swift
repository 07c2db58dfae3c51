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
