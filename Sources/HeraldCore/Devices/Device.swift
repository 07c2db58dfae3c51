/// A thing a source found on the broker (DESIGN §5a): a Zigbee sensor, a Tasmota plug, an ESPHome
/// node. Its readings are ordinary events (key `<device id>/<reading>`); this is what Herald knows
/// about it beside them, kept in the `devices` table by the writer.
public struct DeviceDescription: Sendable, Equatable {
    /// `<source>/<name>`, e.g. `zigbee2mqtt/living_room/climate`.
    public var id: String
    public var name: String
    public var source: String
    /// Where its readings, availability and description go.
    public var channel: String
    public var model: String?
    public var vendor: String?
    /// What the source says about each reading before (or without) a value.
    public var readings: [String: ReadingSpec] = [:]

    public init(id: String, name: String, source: String, channel: String, model: String? = nil, vendor: String? = nil,
                readings: [String: ReadingSpec] = [:]) {
        self.id = id
        self.name = name
        self.source = source
        self.channel = channel
        self.model = model
        self.vendor = vendor
        self.readings = readings
    }

    /// The data of its `device` event and the `readings` column: members in a fixed order, so an
    /// unchanged description is byte for byte the same text.
    var json: String {
        var out = "{\"id\":\(JSONText.quoted(id)),\"name\":\(JSONText.quoted(name)),\"source\":\(JSONText.quoted(source))"
        if let model { out += ",\"model\":\(JSONText.quoted(model))" }
        if let vendor { out += ",\"vendor\":\(JSONText.quoted(vendor))" }
        return out + ",\"readings\":\(ReadingSpec.json(readings))}"
    }
}

/// A reading's unit and meaning as its source describes it.
public struct ReadingSpec: Sendable, Equatable {
    public var unit: String?
    /// Home Assistant's vocabulary (`temperature`, `door`, `power`, …) where the source has one.
    public var deviceClass: String?
    /// Words for a true and a false value (a contact reads `closed` / `open`).
    public var whenTrue: String?
    public var whenFalse: String?

    public init(unit: String? = nil, deviceClass: String? = nil, whenTrue: String? = nil, whenFalse: String? = nil) {
        self.unit = unit
        self.deviceClass = deviceClass
        self.whenTrue = whenTrue
        self.whenFalse = whenFalse
    }

    var json: String {
        var members: [String] = []
        if let unit { members.append("\"unit\":" + JSONText.quoted(unit)) }
        if let deviceClass { members.append("\"deviceClass\":" + JSONText.quoted(deviceClass)) }
        if let whenTrue { members.append("\"true\":" + JSONText.quoted(whenTrue)) }
        if let whenFalse { members.append("\"false\":" + JSONText.quoted(whenFalse)) }
        return "{" + members.joined(separator: ",") + "}"
    }

    static func json(_ specs: [String: ReadingSpec]) -> String {
        "{" + specs.sorted { $0.key < $1.key }.map { JSONText.quoted($0.key) + ":" + $0.value.json }.joined(separator: ",") + "}"
    }

    static func parse(_ text: String) -> [String: ReadingSpec] {
        guard let object = try? JSONText(validating: Array(text.utf8)).objectMembers() else { return [:] }
        var specs: [String: ReadingSpec] = [:]
        for (name, value) in object {
            specs[name] = ReadingSpec(unit: value.value(at: "unit")?.stringValue,
                                      deviceClass: value.value(at: "deviceClass")?.stringValue,
                                      whenTrue: value.value(at: "true")?.stringValue,
                                      whenFalse: value.value(at: "false")?.stringValue)
        }
        return specs
    }

    var isEmpty: Bool { unit == nil && deviceClass == nil && whenTrue == nil && whenFalse == nil }

    /// A source's description wins where it says something; what it leaves out is kept.
    func merged(over older: ReadingSpec) -> ReadingSpec {
        ReadingSpec(unit: unit ?? older.unit, deviceClass: deviceClass ?? older.deviceClass,
                    whenTrue: whenTrue ?? older.whenTrue, whenFalse: whenFalse ?? older.whenFalse)
    }
}

public enum Availability: String, Sendable, Equatable {
    case online, offline, unknown

    /// The forms devices use: `online`/`offline` (Zigbee2MQTT, ESPHome), `Online`/`Offline`
    /// (Tasmota's LWT), `true`/`false` (Shelly), `{"state": "online"}` (Zigbee2MQTT ≥ 1.32), and
    /// the configured words of a Home Assistant discovery config.
    static func parse(_ payload: [UInt8], available: String? = nil, notAvailable: String? = nil) -> Availability? {
        guard var text = String(validating: payload, as: UTF8.self)?.trimmingSpaces else { return nil }
        if let available, text == available { return .online }
        if let notAvailable, text == notAvailable { return .offline }
        if text.hasPrefix("{"), let state = try? JSONText(validating: payload).value(at: "state")?.stringValue {
            text = state
        }
        switch text.lowercased() {
        case "online", "true", "connected", "1": return .online
        case "offline", "false", "disconnected", "0": return .offline
        default: return nil
        }
    }
}

/// What the writer records beside a source's event, in the same transaction (not in the row).
public enum DeviceEffect: Sendable, Equatable {
    case describe(DeviceDescription)
    case availability(deviceId: String, Availability)
    /// A source's own memory (a discovery config it must know again after a restart); nil forgets.
    case remember(source: String, name: String, value: String?)
}
