/// What the MQTT bridge needs of a store. Its network thread is Herald's own, so the calls that
/// answer at once may block it; `submit` hands requests over in arrival order without waiting,
/// and the ingest waits for them all at the end of a burst, before the PUBACKs go.
protocol MQTTStore: DeviceStore {
    /// Hands the requests to the writer in order; their outcomes arrive in the returned value.
    func submit(_ requests: [AppendItem]) -> PendingAppends
    /// A session started afresh: the broker has nothing to deliver again. Blocks.
    func forgetMQTTReceipts() throws
    /// What a source remembered, by name. Blocks.
    func sourceMemory(_ source: String) throws -> [String: String]
    func append(_ drafts: [EventDraft]) async throws -> [StoredEvent]
}

extension EventLog: MQTTStore {}
