/// A built-in source (DESIGN §5a): a feed shaped by someone else's project, which Herald knows
/// without configuration. A source reads one message and says what it means in `Observation`s;
/// `SourceSet` turns those into events with device ids, units and effects.
///
/// Sources keep what they learn (known names, discovery configs, running jobs) in their own
/// value; `SourceSet` holds them all behind one lock, touched only by the MQTT network thread.
protocol DeviceSource: Sendable {
    /// Its name in ids and metrics: `zigbee2mqtt`, `tasmota`, …
    var name: String { get }
    /// What to subscribe to, always.
    var filters: [String] { get }
    /// Whether a topic carries a description (larger than a reading, never stored as it came).
    func isMetadata(_ topic: String) -> Bool
    /// What the message means, or nil when it is not this source's.
    mutating func interpret(_ message: SourceMessage, known: DeviceCatalog) -> [Observation]?
    /// Restores what `Observation.remember` stored, after a restart.
    mutating func restore(_ memory: [String: String])
    /// Topics to subscribe to beyond `filters` (those named by discovery configs).
    var extraTopics: [String] { get }
}

extension DeviceSource {
    func isMetadata(_ topic: String) -> Bool { false }
    mutating func restore(_ memory: [String: String]) {}
    var extraTopics: [String] { [] }
}

struct SourceMessage: Sendable {
    var topic: String
    var payload: [UInt8]
    var retain: Bool

    /// The payload as JSON, or nil when it is not.
    var json: JSONText? { try? JSONText(validating: payload) }
    var text: String? { String(validating: payload, as: UTF8.self)?.trimmingSpaces }
}

/// One thing a message says. Devices are named within their source (`living_room/climate`);
/// `SourceSet` makes the id.
enum Observation: Sendable, Equatable {
    /// A device and what its source says about it; several describe the same device when a
    /// source learns about it piece by piece (one discovery config per entity).
    case device(DeviceInfo)
    /// `value` is JSON text. A unit or spec given here wins over the device's description.
    case reading(device: String, name: String, value: String, spec: ReadingSpec = ReadingSpec())
    case availability(device: String, Availability)
    /// A job on the sources' jobs channel; `key` is under the source (`<device>/update`).
    case job(key: String, JobReport)
    /// Forget a device's reading (its discovery config was removed).
    case dropReading(device: String, name: String)
    /// Kept across restarts (see `DeviceSource.restore`); nil forgets the name.
    case remember(name: String, value: String?)
    case subscribe(String)
    case unsubscribe(String)
    /// Understood and deliberately not stored (a command topic, a progress for no print): counted.
    case ignored(reason: String)
    /// The message is this source's but cannot be understood: logged once a minute, counted, and
    /// the raw payload stored in `$deadletter`.
    case problem(String)
    /// Understood, but the value is kept as it came (a template Herald does not evaluate): logged
    /// and counted; the reading is stored with the raw value.
    case warning(String)
}

struct DeviceInfo: Sendable, Equatable {
    var device: String
    var name: String?
    var model: String?
    var vendor: String?
    var readings: [String: ReadingSpec] = [:]
}

/// A job's state as a source reports it, in the vocabulary of DESIGN §6.
struct JobReport: Sendable, Equatable {
    var state: String
    var progress: Double?
    var message: String?
    var name: String?
    var etaSeconds: Double?

    var json: String {
        var out = "{\"state\":" + JSONText.quoted(state)
        if let progress { out += ",\"progress\":" + jsonNumber((progress * 100).rounded() / 100) }
        if let message { out += ",\"message\":" + JSONText.quoted(message) }
        if let name { out += ",\"name\":" + JSONText.quoted(name) }
        if let etaSeconds { out += ",\"remaining_seconds\":" + jsonNumber(etaSeconds.rounded()) }
        return out + "}"
    }
}
