import GRDB

extension EventLog {
    /// Every device with its latest readings, by id.
    public func devices() async throws -> [DeviceRecord] {
        try await pool.read { db in try Self.devices(in: db) }
    }

    public func device(id: String) async throws -> DeviceRecord? {
        try await pool.read { db in try Self.devices(id: id, in: db).first }
    }

    /// Every device without its readings' values: what the sources and watchers start from.
    public func deviceStates() async throws -> [DeviceRecord] {
        try await pool.read { db in try Self.devices(withReadings: false, limit: nil, in: db) }
    }

    static func devices(id: String? = nil, withReadings: Bool = true, limit: Int? = 10_000, in db: Database) throws -> [DeviceRecord] {
        let sql = "SELECT id, name, source, channel, model, vendor, readings, availability, availability_since, updated_at FROM devices"
        let rows = id == nil ? try Row.fetchAll(db, sql: sql + " ORDER BY id" + (limit.map { " LIMIT \($0)" } ?? ""))
                             : try Row.fetchAll(db, sql: sql + " WHERE id = ?", arguments: [id])
        let latest = try db.cachedStatement(sql: """
            SELECT id, data, time FROM events WHERE channel = ? AND key = ? AND type = 'reading' ORDER BY id DESC LIMIT 1
            """)
        return try rows.map { row in
            let description = DeviceDescription(id: row[0], name: row[1], source: row[2], channel: row[3], model: row[4],
                                                vendor: row[5], readings: ReadingSpec.parse(row[6]))
            var record = DeviceRecord(description: description, availability: Availability(rawValue: row[7]) ?? .unknown,
                                      availabilitySince: row[8], updatedAt: row[9])
            for (name, spec) in description.readings where withReadings {
                guard let event = try Row.fetchOne(latest, arguments: [description.channel, description.id + "/" + name]) else { continue }
                record.readings[name] = DeviceRecord.Reading(event: event[1], time: event[2], eventId: event[0], spec: spec)
            }
            return record
        }
    }

    /// What a source remembered (see `DeviceEffect.remember`), by name.
    /// A blocking read, for the MQTT network thread (a thread Herald owns).
    func sourceMemory(_ source: String) throws -> [String: String] {
        try pool.read { db in try Self.sourceMemory(source, in: db) }
    }

    /// What each of `sources` remembered, in one read.
    public func sourceMemories(_ sources: [String]) async throws -> [String: [String: String]] {
        try await pool.read { db in
            try Dictionary(sources.map { ($0, try Self.sourceMemory($0, in: db)) }, uniquingKeysWith: { $1 })
        }
    }

    private static func sourceMemory(_ source: String, in db: Database) throws -> [String: String] {
        Dictionary(try Row.fetchAll(db, sql: "SELECT name, value FROM source_memory WHERE source = ?", arguments: [source])
            .map { ($0[0], $0[1]) }, uniquingKeysWith: { $1 })
    }
}
