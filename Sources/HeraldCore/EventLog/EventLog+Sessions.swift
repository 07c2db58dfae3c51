import GRDB

/// Cookie sessions made from a token (`POST /api/session`). They live in the database so a
/// restart of Herald does not sign the dashboard out.
extension EventLog {
    public func createSession(idHash: String, tokenName: String, expiresAt: Int64) throws {
        try pool.write { db in
            try db.execute(sql: "DELETE FROM sessions WHERE expires_at < ?", arguments: [Clock.nowMilliseconds()])
            try db.execute(sql: "INSERT OR REPLACE INTO sessions(id_sha256, token_name, expires_at) VALUES (?, ?, ?)",
                           arguments: [idHash, tokenName, expiresAt])
        }
    }

    /// The token name of a live session.
    public func sessionTokenName(idHash: String, now: Int64 = Clock.nowMilliseconds()) throws -> String? {
        try pool.read { db in
            try String.fetchOne(db, sql: "SELECT token_name FROM sessions WHERE id_sha256 = ? AND expires_at >= ?",
                                arguments: [idHash, now])
        }
    }

    public func deleteSession(idHash: String) throws {
        try pool.write { db in try db.execute(sql: "DELETE FROM sessions WHERE id_sha256 = ?", arguments: [idHash]) }
    }
}
