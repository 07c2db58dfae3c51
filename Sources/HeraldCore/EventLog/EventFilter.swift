import GRDB

/// Which events a reader wants: channel selectors and optionally one key.
public struct EventFilter: Sendable {
    public var selectors: SelectorSet
    public var key: String?
    /// What the caller may read (its token's scopes); nil for everything.
    public var allowed: SelectorSet?

    public init(selectors: SelectorSet, key: String? = nil) {
        self.selectors = selectors
        self.key = key
    }

    /// Equal for filters that match the same events: selectors, key and scopes, as text.
    var identity: String {
        func text(_ set: SelectorSet?) -> String { set.map { $0.selectors.map(\.text).sorted().joined(separator: "\u{1}") } ?? "*" }
        return text(selectors) + "\u{2}" + (key.map { "k" + $0 } ?? "-") + "\u{2}" + text(allowed)
    }

    public func matches(_ event: StoredEvent) -> Bool {
        matches(channel: event.channel, key: event.key)
    }

    func matches(channel: String, key eventKey: String?) -> Bool {
        (key == nil || eventKey == key) && matches(channel: channel)
    }

    public func matches(channel: String) -> Bool {
        selectors.matches(channel) && (allowed?.matches(channel) ?? true)
    }

    /// An SQL condition (starting with AND) for this filter, or nil when no known channel matches.
    /// Wildcards are resolved against the channels the log has seen, so SQLite can use its index.
    func sqlClause(channels: Set<String>) -> SQLClause? {
        let matching = channels.filter(matches(channel:)).sorted()
        if matching.isEmpty { return nil }
        var clause = SQLClause()
        if matching.count == 1 {
            // One channel: the (channel, id) and (channel, key, id) indexes give id order directly.
            clause.sql += " AND channel = ?"
            clause.arguments += [matching[0]]
        } else if matching.count < channels.count {
            // Several: SQLite would read every matching row and sort them to honour ORDER BY id
            // and LIMIT; '+' keeps it on the id order of the table instead, stopping at LIMIT.
            clause.sql += " AND +channel IN (" + Array(repeating: "?", count: matching.count).joined(separator: ",") + ")"
            clause.arguments += StatementArguments(matching)
            clause.hasChannelList = true
        }
        if let key {
            clause.sql += " AND key = ?"
            clause.arguments += [key]
        }
        return clause
    }
}

/// A filter as SQL: a condition to add to a WHERE, and its arguments.
struct SQLClause {
    var sql = ""
    var arguments = StatementArguments()
    /// An IN list of channels, whose text changes with their number: a statement with it is not
    /// worth caching (the cache would grow with the channels).
    var hasChannelList = false
}
