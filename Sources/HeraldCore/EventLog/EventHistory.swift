/// The reads a stream makes to start, resume and replay: what `EventStream` needs from a store,
/// on SQLite (`EventLog`) and on PostgreSQL (`PostgresEventLog`) alike. Every read returns (or
/// is read at) the head of one snapshot, so a stream knows exactly how far history covered.
public protocol EventHistory: Sendable {
    /// The last id committed, or 0 for an empty log.
    func headId() async throws -> Int64
    /// Up to `limit` matching events after `after`, ascending, and the head of the same read.
    func events(after: Int64, matching filter: EventFilter, limit: Int) async throws -> EventLog.Page
    /// Whether a stream resuming after `lastId` continues exactly, and if so its first page.
    func resume(after lastId: Int64, matching filter: EventFilter,
                limit: Int) async throws -> (status: ResumeStatus, firstPage: EventLog.Page?)
    /// The newest `count` matching events, ascending, and the head of the same read.
    func recentEvents(matching filter: EventFilter, count: Int) async throws -> (head: Int64, events: [StoredEvent])
    /// The id after which the `count` most recent matching events begin (0 when fewer match).
    func recentStart(matching filter: EventFilter, count: Int) async throws -> Int64
    /// The latest event of every (channel, key) that matches, and the head of the same read.
    func snapshot(matching filter: EventFilter) async throws -> (lastEventId: Int64, events: [StoredEvent])
    /// The id of the terminal event of the filter's job (`key`), if it finished.
    func terminalEventId(matching filter: EventFilter) async throws -> Int64?
    /// Every channel with its count, first and last id and newest time, by name.
    func channelStats() async throws -> [EventLog.ChannelStats]
}

extension EventLog: EventHistory {}
