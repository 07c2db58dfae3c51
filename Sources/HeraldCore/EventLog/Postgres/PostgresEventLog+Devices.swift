import Logging
import PostgresNIO

/// Devices and sources' memory on PostgreSQL (`DeviceStore`). They are written inside the append
/// transaction with the events they came with (`PostgresDeviceBook`), as on SQLite, so whichever
/// node stored a message, the devices table agrees with the events beside it.
extension PostgresEventLog: DeviceStore {
    public func devices() async throws -> [DeviceRecord] {
        try await devices(id: nil, withReadings: true)
    }

    public func device(id: String) async throws -> DeviceRecord? {
        try await devices(id: id, withReadings: true).first
    }

    public func deviceStates() async throws -> [DeviceRecord] {
        try await devices(id: nil, withReadings: false)
    }

    public func sourceMemories(_ sources: [String]) async throws -> [String: [String: String]] {
        try await pooled { connection in
            var memories = Dictionary(uniqueKeysWithValues: sources.map { ($0, [String: String]()) })
            let rows = try await connection.query("""
                SELECT source, name, value FROM source_memory WHERE source = ANY(\(sources)::text[])
                """, logger: self.logger)
            for try await (source, name, value) in rows.decode((String, String, String).self) { memories[source]?[name] = value }
            return memories
        }
    }

    /// The devices (all, or one), and with `withReadings` each reading's latest event, found in
    /// one query for every device rather than one per reading: a round trip each would add up.
    private func devices(id: String?, withReadings: Bool) async throws -> [DeviceRecord] {
        try await snapshotRead { try await self.devices(id: id, withReadings: withReadings, in: $0) }
    }

    /// The same, in the caller's snapshot.
    func devices(id: String?, withReadings: Bool, in connection: PostgresConnection) async throws -> [DeviceRecord] {
        let rows = try await connection.query("""
            SELECT id, name, source, channel, model, vendor, readings, availability, availability_since, updated_at
            FROM devices WHERE \(id)::text IS NULL OR id = \(id) ORDER BY id LIMIT 10000
            """, logger: self.logger)
        var records: [DeviceRecord] = []
        for try await (id, name, source, channel, model, vendor, readings, availability, since, updatedAt)
            in rows.decode((String, String, String, String, String?, String?, String, String, Int64?, Int64).self) {
            let description = DeviceDescription(id: id, name: name, source: source, channel: channel, model: model,
                                                vendor: vendor, readings: ReadingSpec.parse(readings))
            records.append(DeviceRecord(description: description, availability: Availability(rawValue: availability) ?? .unknown,
                                        availabilitySince: since, updatedAt: updatedAt))
        }
        guard withReadings else { return records }
        return try await self.withLatestReadings(records, in: connection)
    }

    private func withLatestReadings(_ records: [DeviceRecord], in connection: PostgresConnection) async throws -> [DeviceRecord] {
        var channels: [String] = [], keys: [String] = []
        for record in records {
            for name in record.description.readings.keys {
                channels.append(record.description.channel)
                keys.append(record.description.id + "/" + name)
            }
        }
        guard !keys.isEmpty else { return records }
        var latest: [String: (id: Int64, data: String, time: Int64)] = [:]
        let rows = try await connection.query("""
            SELECT wanted.key, e.id, e.data, e.time
            FROM unnest(\(channels)::text[], \(keys)::text[]) AS wanted(channel, key)
            CROSS JOIN LATERAL (
                SELECT id, data, time FROM events
                WHERE channel = wanted.channel AND key = wanted.key AND type = 'reading' ORDER BY id DESC LIMIT 1
            ) e
            """, logger: logger)
        for try await (key, id, data, time) in rows.decode((String, Int64, String, Int64).self) { latest[key] = (id, data, time) }
        return records.map { record in
            var record = record
            for (name, spec) in record.description.readings {
                guard let event = latest[record.description.id + "/" + name] else { continue }
                record.readings[name] = DeviceRecord.Reading(event: event.data, time: event.time, eventId: event.id, spec: spec)
            }
            return record
        }
    }
}

/// Writes what sources learn about devices, inside the append transaction (`DeviceBook` on SQLite).
enum PostgresDeviceBook {
    static func apply(_ effects: [DeviceEffect], at time: Int64, in connection: PostgresConnection, logger: Logger) async throws {
        for effect in effects {
            switch effect {
            case .describe(let device):
                try await connection.query("""
                    INSERT INTO devices(id, source, channel, name, model, vendor, readings, updated_at)
                    VALUES (\(device.id), \(device.source), \(device.channel), \(device.name), \(device.model), \(device.vendor),
                            \(ReadingSpec.json(device.readings)), \(time))
                    ON CONFLICT (id) DO UPDATE SET source = excluded.source, channel = excluded.channel,
                        name = excluded.name, model = excluded.model, vendor = excluded.vendor,
                        readings = excluded.readings, updated_at = excluded.updated_at
                    """, logger: logger)
            case .availability(let id, let availability):
                try await connection.query("""
                    UPDATE devices SET availability = \(availability.rawValue), availability_since = \(time), updated_at = \(time)
                    WHERE id = \(id)
                    """, logger: logger)
            case .remember(let source, let name, let value?):
                try await connection.query("""
                    INSERT INTO source_memory(source, name, value) VALUES (\(source), \(name), \(value))
                    ON CONFLICT (source, name) DO UPDATE SET value = excluded.value
                    """, logger: logger)
            case .remember(let source, let name, nil):
                try await connection.query("DELETE FROM source_memory WHERE source = \(source) AND name = \(name)", logger: logger)
            }
        }
    }
}
