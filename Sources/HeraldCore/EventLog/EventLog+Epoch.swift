import GRDB

/// The clean-shutdown mark and the id epoch (DESIGN §7).
///
/// Under `synchronous=NORMAL` a power loss can roll back the last commits, and SQLite would then
/// hand their ids out again for different events. A start that does not find the clean mark
/// therefore moves the sequence to the next multiple of 2^32, and records the skipped range so a
/// client resuming from inside it is told its id was lost.
extension EventLog {
    static let epochSize: Int64 = 1 << 32

    func startEpoch() throws {
        try pool.write { db in
            let state = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE name = 'state'")
            let head = try Self.head(db)
            if state == "running" {
                let next = (head / Self.epochSize + 1) * Self.epochSize
                // sqlite_sequence holds the last id handed out; AUTOINCREMENT continues above it.
                // sqlite_sequence holds the last id handed out (it has no unique key, hence update-or-insert).
                try db.execute(sql: "UPDATE sqlite_sequence SET seq = ? WHERE name = 'events'", arguments: [next])
                if db.changesCount == 0 {
                    try db.execute(sql: "INSERT INTO sqlite_sequence(name, seq) VALUES ('events', ?)", arguments: [next])
                }
                try db.execute(sql: "INSERT INTO lost_ranges(after_id, before_id) VALUES (?, ?)",
                               arguments: [head, next + 1])
                logger.warning("previous run did not shut down cleanly; ids continue from a new epoch",
                               metadata: ["last_id": "\(head)", "next_id": "\(next + 1)"])
            }
            try db.execute(sql: "INSERT OR REPLACE INTO meta(name, value) VALUES ('state', 'running')")
        }
    }

    /// Written by the writer after its last commit on a graceful shutdown.
    func markCleanShutdown() throws {
        try pool.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO meta(name, value) VALUES ('state', 'clean')")
        }
        pool.writeWithoutTransaction { db in
            _ = try? db.checkpoint(.truncate)
        }
    }

    /// How a stream resuming after `lastId` has to be told about it and, when it resumes
    /// exactly, its first page of history (as `events(after:matching:limit:)`): one read for a
    /// client that reconnects, the common case after a restart.
    public func resume(after lastId: Int64, matching filter: EventFilter,
                       limit: Int) async throws -> (status: ResumeStatus, firstPage: Page?) {
        try await pool.read { db in
            let status = try Self.resumeStatus(after: lastId, in: db)
            guard status == .exact else { return (status, nil) }
            return (status, try self.page(after: lastId, matching: filter, limit: limit, in: db))
        }
    }

    private static func resumeStatus(after lastId: Int64, in db: Database) throws -> ResumeStatus {
        let head = try Self.head(db)
        let oldest = try Int64.fetchOne(db.cachedStatement(sql: "SELECT min(id) FROM events")) ?? head + 1
        let bounds = (oldestId: oldest, headId: head)
        if lastId > head { return .reset(.future, bounds) }
        let lost = try Bool.fetchOne(db.cachedStatement(sql: """
            SELECT EXISTS(SELECT 1 FROM lost_ranges WHERE ? > after_id AND ? < before_id)
            """), arguments: [lastId, lastId]) ?? false
        if lost { return .reset(.lost, bounds) }
        let prunedThrough = try Int64.fetchOne(db.cachedStatement(sql: """
            SELECT CAST(value AS INTEGER) FROM meta WHERE name = 'pruned_through'
            """)) ?? 0
        if lastId < prunedThrough { return .reset(.evicted, bounds) }
        return .exact
    }
}

public enum ResumeStatus: Sendable, Equatable {
    case exact
    case reset(ResetReason, (oldestId: Int64, headId: Int64))

    public static func == (lhs: ResumeStatus, rhs: ResumeStatus) -> Bool {
        switch (lhs, rhs) {
        case (.exact, .exact): true
        case let (.reset(a, x), .reset(b, y)): a == b && x == y
        default: false
        }
    }
}

public enum ResetReason: String, Sendable {
    case evicted, lost, future, invalid
}
