import GRDB

extension EventLog {
    /// Migrations are named and never edited once shipped; add a new one instead.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-events") { db in
            // AUTOINCREMENT: ids are never reused, even after retention deleted the newest rows.
            try db.execute(sql: """
                CREATE TABLE events(
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    channel TEXT NOT NULL,
                    type TEXT NOT NULL,
                    key TEXT,
                    time INTEGER NOT NULL,
                    data TEXT NOT NULL,
                    source TEXT
                );
                CREATE INDEX events_by_channel ON events(channel, id);
                CREATE INDEX events_by_channel_key ON events(channel, key, id);
                CREATE TABLE channels(name TEXT PRIMARY KEY) WITHOUT ROWID;
                CREATE TABLE meta(name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
                -- Ids in (after_id, before_id) may have reached clients before a power loss rolled them back.
                CREATE TABLE lost_ranges(after_id INTEGER NOT NULL, before_id INTEGER NOT NULL);
                """)
        }
        migrator.registerMigration("v2-mqtt-receipts") { db in
            // Recognises a QoS 1 message the broker delivers again because Herald died between
            // commit and PUBACK: the broker resends it with the same packet id.
            try db.execute(sql: """
                CREATE TABLE mqtt_receipts(
                    seq INTEGER PRIMARY KEY,  -- rowid order is arrival order; no AUTOINCREMENT bookkeeping
                    mid INTEGER NOT NULL,
                    topic TEXT NOT NULL,
                    digest TEXT NOT NULL
                );
                CREATE INDEX mqtt_receipts_by_mid ON mqtt_receipts(mid);
                -- The last payload stored per topic: a retained copy equal to it, which the broker sends
                -- again on every subscribe, is not stored again.
                CREATE TABLE mqtt_last_payload(topic TEXT PRIMARY KEY, digest TEXT NOT NULL) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v3-jobs-alerts") { db in
            try db.execute(sql: """
                CREATE TABLE jobs(
                    channel TEXT NOT NULL,
                    key TEXT NOT NULL,
                    state TEXT NOT NULL,
                    progress REAL,
                    message TEXT,
                    done REAL,
                    total REAL,
                    started_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    rate REAL,
                    eta_seconds REAL,
                    last_event_id INTEGER NOT NULL,
                    terminal_event_id INTEGER,  -- set while the job is finished: its stream ends there
                    PRIMARY KEY (channel, key)
                ) WITHOUT ROWID;
                CREATE TABLE alerts(
                    id TEXT PRIMARY KEY,
                    channel TEXT NOT NULL,
                    key TEXT,
                    rule TEXT,
                    severity TEXT NOT NULL,
                    message TEXT,
                    value REAL,
                    threshold REAL,
                    state TEXT NOT NULL,        -- raised | cleared; a rule's hysteresis state
                    raised_at INTEGER,
                    cleared_at INTEGER,
                    acked_at INTEGER,
                    last_event_id INTEGER NOT NULL
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v4-sessions") { db in
            // Only a hash of the cookie is stored: a copy of the database does not log anyone in.
            try db.execute(sql: """
                CREATE TABLE sessions(
                    id_sha256 TEXT PRIMARY KEY,
                    token_name TEXT NOT NULL,
                    expires_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v5-mqtt-receipts-by-seq") { db in
            // Receipts are only looked up for the first messages of a resumed session, and only
            // among the last `MQTTDedupe.window` rows (a range of seq); the index on mid cost every
            // MQTT message a second b-tree insert for lookups that a short range scan answers.
            try db.execute(sql: "DROP INDEX mqtt_receipts_by_mid")
        }
        migrator.registerMigration("v6-sessions-by-token-digest") { db in
            // A session named its token, and two tokens could share a name; it is now bound to the
            // token's digest. Sessions made before cannot be told apart, so they end here.
            try db.execute(sql: """
                DROP TABLE sessions;
                CREATE TABLE sessions(
                    id_sha256 TEXT PRIMARY KEY,
                    token_sha256 TEXT NOT NULL,
                    expires_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v7-devices") { db in
            // What sources know about devices (DESIGN §5a). Readings are events; `readings` holds
            // each reading's name, unit and device class, so the latest value of each is one index
            // probe on events(channel, key, id).
            try db.execute(sql: """
                CREATE TABLE devices(
                    id TEXT PRIMARY KEY,
                    source TEXT NOT NULL,
                    channel TEXT NOT NULL,
                    name TEXT NOT NULL,
                    model TEXT,
                    vendor TEXT,
                    readings TEXT NOT NULL DEFAULT '{}',
                    availability TEXT NOT NULL DEFAULT 'unknown',
                    availability_since INTEGER,
                    updated_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                -- A source's own memory, e.g. the discovery configs whose state topics it follows.
                CREATE TABLE source_memory(
                    source TEXT NOT NULL,
                    name TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (source, name)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v8-events-by-key-time") { db in
            // `/api/series` reads one key's readings between two times (DESIGN §13): a range scan
            // on this index, never the whole key's history.
            // The changes of state that make its gaps, apart: the state at the range's start is one
            // probe however many readings came before it.
            try db.execute(sql: """
                CREATE INDEX events_by_channel_key_time ON events(channel, key, time);
                CREATE INDEX events_state_changes ON events(channel, key, time) WHERE type IN ('stale', 'fresh', 'availability');
                """)
        }
        migrator.registerMigration("v9-notify-outbox") { db in
            // Notifications owed (DESIGN §12): written in the transaction that stores their event,
            // deleted once sent or given up. Each keeps the envelope, so retention cannot take the
            // event first. Order is kept per target and lane (a Web Push subscription is a lane).
            try db.execute(sql: """
                CREATE TABLE notify_outbox(
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    target TEXT NOT NULL,
                    lane TEXT NOT NULL DEFAULT '',
                    event_id INTEGER NOT NULL,
                    subject TEXT NOT NULL,
                    envelope TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_at INTEGER NOT NULL,
                    last_error TEXT
                );
                CREATE INDEX notify_outbox_by_lane ON notify_outbox(target, lane, seq);
                -- When each alert last went out per target: the rate limit's memory, across restarts.
                CREATE TABLE notify_sent(
                    target TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    sent_at INTEGER NOT NULL,
                    PRIMARY KEY (target, subject)
                ) WITHOUT ROWID;
                CREATE TABLE push_subscriptions(
                    endpoint TEXT PRIMARY KEY,
                    json TEXT NOT NULL,
                    created_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                """)
        }
        return migrator
    }
}
