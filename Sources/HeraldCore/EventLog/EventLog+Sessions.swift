import GRDB

/// Cookie sessions made from a token (`POST /api/session`). They live in the database so a
/// restart of Herald does not sign the dashboard out; each is bound to its token's SHA-256, so a
/// token that is changed or removed from the configuration takes its sessions with it.
extension EventLog {
    /// Writes on GRDB's writer, awaited: a sign-in never blocks the cooperative pool behind a commit.
    public func createSession(idHash: String, tokenDigest: String, expiresAt: Int64) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM sessions WHERE expires_at < ?", arguments: [Clock.nowMilliseconds()])
            try db.execute(sql: "INSERT OR REPLACE INTO sessions(id_sha256, token_sha256, expires_at) VALUES (?, ?, ?)",
                           arguments: [idHash, tokenDigest, expiresAt])
        }
    }

    /// The SHA-256 of the token a live session was made from. Asked on every cookie request, so
    /// it reads on GRDB's reader threads, not the cooperative pool's.
    public func sessionTokenDigest(idHash: String, now: Int64 = Clock.nowMilliseconds()) async throws -> String? {
        try await pool.read { db in
            try String.fetchOne(db, sql: "SELECT token_sha256 FROM sessions WHERE id_sha256 = ? AND expires_at >= ?",
                                arguments: [idHash, now])
        }
    }

    public func deleteSession(idHash: String) async throws {
        try await pool.write { db in try db.execute(sql: "DELETE FROM sessions WHERE id_sha256 = ?", arguments: [idHash]) }
    }

    /// Ends the sessions of tokens no longer configured (at start-up); returns how many.
    @discardableResult
    public func deleteSessions(exceptFor digests: [String]) throws -> Int {
        try pool.write { db in
            let placeholders = Array(repeating: "?", count: digests.count).joined(separator: ",")
            let condition = digests.isEmpty ? "" : " WHERE token_sha256 NOT IN (\(placeholders))"
            try db.execute(sql: "DELETE FROM sessions" + condition, arguments: StatementArguments(digests))
            return db.changesCount
        }
    }
}
