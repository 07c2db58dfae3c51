import Logging
import PostgresNIO

/// The PostgreSQL schema as named migrations, applied in order and never edited once landed:
/// a change is a new migration at the end. Nodes starting together take one advisory lock, so
/// exactly one of them migrates and the others find the work done.
enum PostgresSchema {
    struct Migration {
        var name: String
        var sql: [String]
    }

    /// Keys of Herald's advisory locks, one namespace per purpose ("HRLD" in ASCII, then a number).
    enum LockKey {
        static let migrate: Int64 = 0x4852_4C44_0000_0001
        /// Held by every append transaction from before it reads the head until it commits, so
        /// ids become visible in the order they were handed out (`PostgresEventLog+Append`).
        static let append: Int64 = 0x4852_4C44_0000_0002
        /// Held, session-level, by the node that holds the MQTT session (`NodeLease`).
        static let mqttSession: Int64 = 0x4852_4C44_0000_0003
        /// Held, session-level, by the node that runs the duties one node runs for all: sending
        /// notifications, watching for stale sensors and devices offline (`LeasedDuties`).
        static let duties: Int64 = 0x4852_4C44_0000_0004
    }

    /// The channel NOTIFY wakes other nodes on; the payload is the new head id.
    static let notifyChannel = "herald_events"

    static let migrations: [Migration] = [
        Migration(name: "v1-events", sql: [
            """
            CREATE TABLE events(
                id bigint PRIMARY KEY,
                channel text NOT NULL,
                type text NOT NULL,
                key text,
                time bigint NOT NULL,
                data text NOT NULL,
                source text
            )
            """,
            "CREATE INDEX events_by_channel ON events(channel, id)",
            "CREATE INDEX events_by_channel_key ON events(channel, key, id)",
            // The last id committed. Appends take their ids from it under the append lock, so
            // ids are never reused (retention deletes rows, not this) and commit in id order.
            "CREATE TABLE head(only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row), id bigint NOT NULL)",
            "INSERT INTO head(id) VALUES (0)",
            "CREATE TABLE channels(name text PRIMARY KEY)",
        ]),
        Migration(name: "v2-mqtt-receipts", sql: [
            // Receipts of recent QoS 1/2 messages (MQTTDedupe): whichever node holds the MQTT
            // session, a message redelivered after a failover is recognised here.
            "CREATE TABLE mqtt_receipts(seq bigserial PRIMARY KEY, mid integer NOT NULL, topic text NOT NULL, digest text NOT NULL)",
            "CREATE TABLE mqtt_last_payload(topic text PRIMARY KEY, digest text NOT NULL)",
        ]),
        Migration(name: "v3-jobs-alerts", sql: [
            """
            CREATE TABLE jobs(
                channel text NOT NULL,
                key text NOT NULL,
                state text NOT NULL,
                progress double precision,
                message text,
                done double precision,
                total double precision,
                started_at bigint NOT NULL,
                updated_at bigint NOT NULL,
                rate double precision,
                eta_seconds double precision,
                last_event_id bigint NOT NULL,
                terminal_event_id bigint,
                PRIMARY KEY (channel, key)
            )
            """,
            """
            CREATE TABLE alerts(
                id text PRIMARY KEY,
                channel text NOT NULL,
                key text,
                rule text,
                severity text NOT NULL,
                message text,
                value double precision,
                threshold double precision,
                state text NOT NULL,
                raised_at bigint,
                cleared_at bigint,
                acked_at bigint,
                last_event_id bigint NOT NULL
            )
            """,
        ]),
        Migration(name: "v4-sessions-devices", sql: [
            // As on SQLite (DESIGN §5a, §8): only a hash of the cookie, bound to its token's digest.
            "CREATE TABLE sessions(id_sha256 text PRIMARY KEY, token_sha256 text NOT NULL, expires_at bigint NOT NULL)",
            """
            CREATE TABLE devices(
                id text PRIMARY KEY,
                source text NOT NULL,
                channel text NOT NULL,
                name text NOT NULL,
                model text,
                vendor text,
                readings text NOT NULL DEFAULT '{}',
                availability text NOT NULL DEFAULT 'unknown',
                availability_since bigint,
                updated_at bigint NOT NULL
            )
            """,
            "CREATE TABLE source_memory(source text NOT NULL, name text NOT NULL, value text NOT NULL, PRIMARY KEY (source, name))",
        ]),
        Migration(name: "v5-retention", sql: [
            // `pruned_through`: the highest id retention deleted; a resume from below it may have
            // missed events and is told so (`$reset`, evicted).
            "CREATE TABLE meta(name text PRIMARY KEY, value bigint NOT NULL)",
        ]),
        Migration(name: "v6-events-by-key-time", sql: [
            // `/api/series` reads one key's readings between two times: a range scan on this index.
            "CREATE INDEX events_by_channel_key_time ON events(channel, key, time)",
        ]),
        Migration(name: "v7-notify-outbox", sql: [
            // Notifications owed (DESIGN §12), as on SQLite: written in the append transaction,
            // deleted once sent or given up; `seq` is handed out under the append lock, so it
            // follows commit order. Order is kept per target and lane (a Web Push subscription).
            """
            CREATE TABLE notify_outbox(
                seq bigserial PRIMARY KEY,
                target text NOT NULL,
                lane text NOT NULL DEFAULT '',
                event_id bigint NOT NULL,
                subject text NOT NULL,
                envelope text NOT NULL,
                created_at bigint NOT NULL,
                attempts integer NOT NULL DEFAULT 0,
                next_at bigint NOT NULL,
                last_error text
            )
            """,
            "CREATE INDEX notify_outbox_by_lane ON notify_outbox(target, lane, seq)",
            // When each alert last went out per target: the rate limit's memory, for every node.
            "CREATE TABLE notify_sent(target text NOT NULL, subject text NOT NULL, sent_at bigint NOT NULL, PRIMARY KEY (target, subject))",
            "CREATE TABLE push_subscriptions(endpoint text PRIMARY KEY, json text NOT NULL, created_at bigint NOT NULL)",
            // Texts made once and shared by every node: the VAPID key pair.
            "CREATE TABLE kept_values(name text PRIMARY KEY, value text NOT NULL)",
        ]),
        Migration(name: "v8-lost-ranges", sql: [
            // Ids a power loss rolled back on the SQLite store this database was copied from
            // (`StoreCopy`): a client resuming from inside one is told its id was lost, as there.
            // PostgreSQL itself never adds one.
            "CREATE TABLE lost_ranges(after_id bigint NOT NULL, before_id bigint NOT NULL)",
        ]),
    ]

    /// Applies what is missing, or refuses a database that a newer Herald migrated, leaving it as
    /// it was (the check and the migrations share one transaction).
    static func migrate(_ connection: PostgresConnection, location: PostgresLocation, logger: Logger) async throws {
        try await connection.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(LockKey.migrate))", logger: logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS herald_migrations(name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())
                """, logger: logger)
            var applied: Set<String> = []
            for try await name in try await connection.query("SELECT name FROM herald_migrations", logger: logger).decode(String.self) {
                applied.insert(name)
            }
            let known = Set(migrations.map(\.name))
            let unknown = applied.subtracting(known)
            guard unknown.isEmpty else {
                throw PostgresFailure.newerSchema(location: location.description, unknown: unknown.sorted())
            }
            for migration in migrations where !applied.contains(migration.name) {
                for statement in migration.sql {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("INSERT INTO herald_migrations(name) VALUES (\(migration.name))", logger: logger)
                logger.notice("PostgreSQL migrated", metadata: ["migration": "\(migration.name)", "database": "\(location)"])
            }
        }
    }
}
