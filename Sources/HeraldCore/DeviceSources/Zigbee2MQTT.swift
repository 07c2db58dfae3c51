/// Zigbee2MQTT (https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html): a device's
/// state is a JSON object on `<base>/<friendly_name>`, `bridge/devices` (retained) describes every
/// device with its exposes and units, `<name>/availability` and `bridge/state` say who is online.
///
/// Friendly names may contain `/`, so `<base>/a/b/availability` could be device `a/b`'s
/// availability or the state of a device named `a/b/availability`: names from `bridge/devices` (or
/// seen before) decide, and an unknown name ending in a reserved word is read as that word.
struct Zigbee2MQTTSource: DeviceSource {
    let name = "zigbee2mqtt"
    let base: String
    /// Devices whose OTA update is under way, so `idle` afterwards means it finished.
    private var updating: Set<String> = []

    /// `<base>/`, made once.
    let under: String
    let devicesTopic: String

    init(baseTopic: String = "zigbee2mqtt") {
        base = baseTopic
        under = baseTopic + "/"
        devicesTopic = baseTopic + "/bridge/devices"
    }

    var filters: [String] { [base + "/#"] }

    func isMetadata(_ topic: String) -> Bool { topic.hasSameBytes(as: devicesTopic) }

    mutating func restore(_ memory: [String: String]) {
        updating = Set(memory.keys.filter { memory[$0] == "updating" })
    }

    mutating func interpret(_ message: SourceMessage, known: DeviceCatalog) -> [Observation]? {
        guard message.topic.hasBytePrefix(under) else { return nil }
        let rest = String(message.topic.dropFirst(base.count + 1))
        if rest.hasPrefix("bridge/") { return bridge(String(rest.dropFirst(7)), message) }
        if known.knows(source: name, device: rest) { return state(of: rest, message) }
        if let device = rest.removingSuffix("/availability") {
            guard let availability = Availability.parse(message.payload) else {
                return [.problem("zigbee2mqtt: availability of \(device) is neither online nor offline")]
            }
            return [.availability(device: device, availability)]
        }
        for command in ["/set", "/get"] where rest.hasSuffix(command) || rest.contains(command + "/") {
            return [.ignored(reason: "a command to the device, not its state")]
        }
        return state(of: rest, message)
    }

    private func bridge(_ topic: String, _ message: SourceMessage) -> [Observation] {
        switch topic {
        case "state":
            guard let availability = Availability.parse(message.payload) else {
                return [.problem("zigbee2mqtt: bridge/state is neither online nor offline")]
            }
            return [.device(DeviceInfo(device: "bridge", name: "Zigbee2MQTT bridge")), .availability(device: "bridge", availability)]
        case "devices":
            guard let devices = try? message.json?.arrayElements() else {
                return [.problem("zigbee2mqtt: bridge/devices is not a JSON array")]
            }
            return devices.compactMap(Self.describe)
        default:
            // bridge/info, bridge/logging, bridge/event, bridge/response/…: about the bridge, not devices.
            return [.ignored(reason: "bridge/\(topic) is not device state")]
        }
    }

    /// One entry of `bridge/devices`; the coordinator is no device of the user's.
    static func describe(_ entry: JSONText) -> Observation? {
        guard let name = entry.value(at: "friendly_name")?.stringValue, entry.value(at: "type")?.stringValue != "Coordinator"
        else { return nil }
        let definition = entry.value(at: "definition")
        var readings: [String: ReadingSpec] = [:]
        for expose in (try? definition?.value(at: "exposes")?.arrayElements()) ?? [] { collect(expose, into: &readings) }
        return .device(DeviceInfo(device: name, name: name,
                                  model: definition?.value(at: "model")?.stringValue ?? entry.value(at: "model_id")?.stringValue,
                                  vendor: definition?.value(at: "vendor")?.stringValue ?? entry.value(at: "manufacturer")?.stringValue,
                                  readings: readings))
    }

    /// Exposes are leaves with a `property`, or groups (`light`, `switch`, `climate`, …) whose
    /// `features` hold the leaves. A composite with its own property (`color`) is one object
    /// value: not a reading.
    static func collect(_ expose: JSONText, into readings: inout [String: ReadingSpec]) {
        let type = expose.value(at: "type")?.stringValue
        if let property = expose.value(at: "property")?.stringValue {
            guard type != "composite", type != "list" else { return }
            var spec = ReadingSpec(unit: expose.value(at: "unit")?.stringValue, deviceClass: deviceClass(property))
            if type == "binary", let words = BinaryWords.of(property) { (spec.whenTrue, spec.whenFalse) = words }
            readings[property] = spec
            return
        }
        for feature in (try? expose.value(at: "features")?.arrayElements()) ?? [] { collect(feature, into: &readings) }
    }

    static func deviceClass(_ property: String) -> String? {
        let known: Set = ["temperature", "humidity", "pressure", "battery", "voltage", "current", "power", "energy",
                          "illuminance", "co2", "pm25", "occupancy", "contact", "water_leak", "smoke", "vibration"]
        return known.contains(property) ? property : property == "illuminance_lux" ? "illuminance" : nil
    }

    private mutating func state(of device: String, _ message: SourceMessage) -> [Observation] {
        guard let json = message.json, let members = try? json.objectMembers() else {
            return [.problem("zigbee2mqtt: the state of \(device) is not a JSON object")]
        }
        var observations: [Observation] = []
        observations.reserveCapacity(members.count)
        for (property, value) in members {
            if property == "update" {
                observations += otaUpdate(of: device, value)
                continue
            }
            // Objects (a colour, an action group) and lists are no single reading; `last_seen`
            // is when Zigbee2MQTT heard the device, which the event's time already says.
            guard !value.isContainer, property != "last_seen", property != "update_available" else { continue }
            observations.append(.reading(device: device, name: property, value: value.singleLine))
        }
        return observations.isEmpty ? [.device(DeviceInfo(device: device))] : observations
    }

    /// `"update": {"state": "updating", "progress": 13.37, "remaining": 219}` while an OTA update
    /// runs; `idle` once it is done, `available` again when it failed.
    private mutating func otaUpdate(of device: String, _ update: JSONText) -> [Observation] {
        guard let state = update.value(at: "state")?.stringValue else { return [] }
        let key = device + "/update"
        switch state {
        case "updating", "scheduled":
            let first = updating.insert(device).inserted
            var observations: [Observation] = [.job(key: key, JobReport(
                state: state == "updating" ? "running" : "queued", progress: update.value(at: "progress")?.numberValue,
                message: state == "updating" ? "updating firmware" : "update scheduled", name: device,
                etaSeconds: update.value(at: "remaining")?.numberValue))]
            if first { observations.append(.remember(name: device, value: "updating")) }
            return observations
        case "idle", "available":
            guard updating.remove(device) != nil else { return [] }
            let done = state == "idle"
            return [.job(key: key, JobReport(state: done ? "succeeded" : "failed", progress: done ? 100 : nil,
                                             message: done ? "firmware updated" : "the update did not finish", name: device)),
                    .remember(name: device, value: nil)]
        default:
            return []
        }
    }
}

/// What `true` and `false` mean for the binary properties whose meaning is not on/off.
enum BinaryWords {
    static func of(_ property: String) -> (String, String)? {
        switch property {
        case "contact": ("closed", "open")  // Zigbee2MQTT: contact true = the magnet is near = closed
        case "occupancy", "presence": ("occupied", "clear")
        case "water_leak": ("leak", "dry")
        case "smoke", "gas", "carbon_monoxide": ("detected", "clear")
        case "vibration", "tamper": ("detected", "clear")
        case "battery_low": ("low", "ok")
        default: nil
        }
    }
}

extension String {
    func removingSuffix(_ suffix: String) -> String? {
        hasSuffix(suffix) && count > suffix.count ? String(dropLast(suffix.count)) : nil
    }
}
