import PostgresNIO

/// Cookie sessions on PostgreSQL (`SessionStore`): a dashboard signed in through one node stays
/// signed in on every other, and signing out anywhere ends it everywhere.
extension PostgresEventLog: SessionStore {
    public func createSession(idHash: String, tokenDigest: String, expiresAt: Int64) async throws {
        try await pooled { connection in
            try await connection.query("DELETE FROM sessions WHERE expires_at < \(Clock.nowMilliseconds())", logger: self.logger)
            _ = try await connection.query("""
                INSERT INTO sessions(id_sha256, token_sha256, expires_at) VALUES (\(idHash), \(tokenDigest), \(expiresAt))
                ON CONFLICT (id_sha256) DO UPDATE SET token_sha256 = excluded.token_sha256, expires_at = excluded.expires_at
                """, logger: self.logger)
        }
    }

    public func sessionTokenDigest(idHash: String, now: Int64) async throws -> String? {
        try await pooled { connection in
            let rows = try await connection.query("""
                SELECT token_sha256 FROM sessions WHERE id_sha256 = \(idHash) AND expires_at >= \(now)
                """, logger: self.logger)
            for try await digest in rows.decode(String.self) { return digest }
            return nil
        }
    }

    public func deleteSession(idHash: String) async throws {
        try await pooled { connection in
            _ = try await connection.query("DELETE FROM sessions WHERE id_sha256 = \(idHash)", logger: self.logger)
        }
    }

    @discardableResult
    public func deleteSessions(exceptFor digests: [String]) async throws -> Int {
        try await pooled { connection in
            let rows = try await connection.query("""
                WITH ended AS (DELETE FROM sessions WHERE NOT (token_sha256 = ANY(\(digests)::text[])) RETURNING 1)
                SELECT count(*) FROM ended
                """, logger: self.logger)
            for try await count in rows.decode(Int64.self) { return Int(count) }
            return 0
        }
    }
}
