/// An event before the log has given it an id.
public struct EventDraft: Sendable, Equatable {
    public var channel: String
    public var type: String
    public var key: String?
    /// Milliseconds since 1970, UTC.
    public var time: Int64
    /// JSON text on one line.
    public var data: String
    /// JSON text on one line, e.g. `{"mqtt":{"topic":…}}`, or nil.
    public var source: String?

    public init(channel: String, type: String = "message", key: String? = nil,
                time: Int64 = Clock.nowMilliseconds(), data: String, source: String? = nil) {
        self.channel = channel
        self.type = type
        self.key = key
        self.time = time
        self.data = data
        self.source = source
    }
}

/// An event as committed: the draft plus the id SQLite assigned.
public struct StoredEvent: Sendable, Equatable {
    public var id: Int64
    public var draft: EventDraft
    /// A job's last event (succeeded, failed, cancelled): a stream of that job ends after it.
    /// Known to the writer when it stores the event; not kept in the row.
    public var terminal = false

    public init(id: Int64, draft: EventDraft) {
        self.id = id
        self.draft = draft
    }

    public var channel: String { draft.channel }
    public var type: String { draft.type }
    public var key: String? { draft.key }

    /// The JSON envelope sent as SSE `data:` and by `GET /api/events`.
    public var envelope: String {
        var out = ""
        out.reserveCapacity(96 + draft.channel.utf8.count + draft.type.utf8.count + (draft.key?.utf8.count ?? 0)
                            + draft.data.utf8.count + (draft.source?.utf8.count ?? 0))
        // Piece by piece: each `+` of a longer chain would build a temporary string.
        out += "{\"id\":"
        out += String(id)
        out += ",\"channel\":"
        out += JSONText.quoted(draft.channel)
        out += ",\"type\":"
        out += JSONText.quoted(draft.type)
        if let key = draft.key {
            out += ",\"key\":"
            out += JSONText.quoted(key)
        }
        out += ",\"time\":\""
        out += Clock.iso8601(milliseconds: draft.time)
        out += "\",\"data\":"
        out += draft.data
        if let source = draft.source {
            out += ",\"source\":"
            out += source
        }
        out += "}"
        return out
    }
}
