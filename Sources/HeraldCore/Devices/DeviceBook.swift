import GRDB

/// Writes what sources learn about devices, inside the writer's transaction, so the devices table
/// never disagrees with the events stored beside it.
enum DeviceBook {
    static func apply(_ effects: [DeviceEffect], at time: Int64, in db: Database) throws {
        for effect in effects {
            switch effect {
            case .describe(let device):
                try db.cachedStatement(sql: """
                    INSERT INTO devices(id, source, channel, name, model, vendor, readings, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET source = excluded.source, channel = excluded.channel,
                        name = excluded.name, model = excluded.model, vendor = excluded.vendor,
                        readings = excluded.readings, updated_at = excluded.updated_at
                    """).execute(arguments: [device.id, device.source, device.channel, device.name, device.model,
                                             device.vendor, ReadingSpec.json(device.readings), time])
            case .availability(let id, let availability):
                try db.cachedStatement(sql: """
                    UPDATE devices SET availability = ?, availability_since = ?, updated_at = ? WHERE id = ?
                    """).execute(arguments: [availability.rawValue, time, time, id])
            case .remember(let source, let name, let value?):
                try db.cachedStatement(sql: "INSERT OR REPLACE INTO source_memory(source, name, value) VALUES (?, ?, ?)")
                    .execute(arguments: [source, name, value])
            case .remember(let source, let name, nil):
                try db.cachedStatement(sql: "DELETE FROM source_memory WHERE source = ? AND name = ?").execute(arguments: [source, name])
            }
        }
    }
}

/// A device as `GET /api/devices` shows it: its description, availability and latest readings.
public struct DeviceRecord: Sendable, Equatable {
    public struct Reading: Sendable, Equatable {
        /// JSON text.
        public var value: String
        public var spec: ReadingSpec
        public var time: Int64
        public var eventId: Int64

        init(value: String, spec: ReadingSpec, time: Int64, eventId: Int64) {
            (self.value, self.spec, self.time, self.eventId) = (value, spec, time, eventId)
        }

        /// The reading a `reading` event's data tells: its value, and its unit where the event names one.
        init(event data: String, time: Int64, eventId: Int64, spec: ReadingSpec) {
            let json = try? JSONText(validating: Array(data.utf8))
            var spec = spec
            spec.unit = json?.value(at: "unit")?.stringValue ?? spec.unit
            self.init(value: json?.value(at: "value")?.singleLine ?? data, spec: spec, time: time, eventId: eventId)
        }
    }

    public var description: DeviceDescription
    public var availability: Availability
    public var availabilitySince: Int64?
    public var updatedAt: Int64
    public var readings: [String: Reading] = [:]

    public var lastSeen: Int64 {
        let readingTimes = readings.values.map(\.time)
        return max(readingTimes.max() ?? updatedAt, availability == .online ? availabilitySince ?? 0 : 0)
    }

    public var json: String {
        let device = description
        var out = "{\"id\":\(JSONText.quoted(device.id)),\"name\":\(JSONText.quoted(device.name))"
            + ",\"source\":\(JSONText.quoted(device.source)),\"channel\":\(JSONText.quoted(device.channel))"
        if let model = device.model { out += ",\"model\":\(JSONText.quoted(model))" }
        if let vendor = device.vendor { out += ",\"vendor\":\(JSONText.quoted(vendor))" }
        out += ",\"availability\":\(JSONText.quoted(availability.rawValue))"
        if let availabilitySince { out += ",\"availabilitySince\":\(jsonTime(availabilitySince))" }
        out += ",\"lastSeen\":\(jsonTime(lastSeen)),\"readings\":{"
        out += readings.sorted { $0.key < $1.key }.map { name, reading in
            var item = "\"value\":" + reading.value
            if let unit = reading.spec.unit { item += ",\"unit\":" + JSONText.quoted(unit) }
            if let deviceClass = reading.spec.deviceClass { item += ",\"deviceClass\":" + JSONText.quoted(deviceClass) }
            if let text = Self.text(of: reading.value, spec: reading.spec) { item += ",\"text\":" + JSONText.quoted(text) }
            return JSONText.quoted(name) + ":{" + item + ",\"time\":" + jsonTime(reading.time) + ",\"eventId\":\(reading.eventId)}"
        }.joined(separator: ",")
        return out + "}}"
    }

    /// The words for a boolean the source describes (a contact's `true` reads `closed`).
    static func text(of value: String, spec: ReadingSpec) -> String? {
        switch value {
        case "true": spec.whenTrue
        case "false": spec.whenFalse
        default: nil
        }
    }
}
