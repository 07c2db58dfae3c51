/// Shelly devices. Gen1 (https://shelly-api-docs.shelly.cloud/gen1/#shelly1-shelly1pm-mqtt)
/// publishes plain values under `shellies/<id>/…`; Gen2+ (https://shelly-api-docs.shelly.cloud/gen2/General/RPCChannels#mqtt)
/// publishes a JSON object per component on `<prefix>/status/<component>:<n>` and true/false on
/// `<prefix>/online`. A Gen2+ prefix is the device id (`shellyplus1pm-a8032ab12345`) unless the
/// user set one, so Gen2+ is recognised by the shape of its topics.
struct ShellySource: DeviceSource {
    let name = "shelly"
    let gen1Prefix: String
    /// Gen2+ prefixes seen with a component status: their `online` is a Shelly's.
    private var gen2Devices: Set<String> = []

    let gen1Under: String

    init(gen1Prefix: String = "shellies") {
        self.gen1Prefix = gen1Prefix
        gen1Under = gen1Prefix + "/"
    }

    var filters: [String] { [gen1Prefix + "/#", "+/status/+", "+/online"] }
    static let rememberedLimit = 10_000

    mutating func restore(_ memory: [String: String]) {
        gen2Devices = Set(memory.keys)
    }

    mutating func interpret(_ message: SourceMessage, known: DeviceCatalog) -> [Observation]? {
        if message.topic.hasBytePrefix(gen1Under) { return gen1(message) }
        return gen2(message, known: known)
    }

    // MARK: Gen1

    private func gen1(_ message: SourceMessage) -> [Observation] {
        let parts = message.topic.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
        guard let device = parts.first, !device.isEmpty else { return [.ignored(reason: "not a device's topic")] }
        if device == "announce" || device == "command" { return [.ignored(reason: "\(message.topic) is a broadcast, not a device's state")] }
        let path = parts.dropFirst().joined(separator: "/")
        let text = message.text ?? ""
        switch parts.count {
        case 2 where path == "online":
            guard let availability = Availability.parse(message.payload) else { return [.problem("shelly: online of \(device) is neither true nor false")] }
            return [.availability(device: device, availability)]
        case 2 where path == "announce":
            let json = message.json
            return [.device(DeviceInfo(device: device, model: json?.value(at: "model")?.stringValue, vendor: "Shelly"))]
        case 2 where path == "temperature" || path == "overtemperature":
            return number(device, path == "temperature" ? "temperature" : "overtemperature", text,
                          path == "temperature" ? ReadingSpec(unit: "°C", deviceClass: "temperature") : ReadingSpec())
        case 3 where parts[1] == "relay":
            // relay/0: "on" | "off" | "overpower"
            return [.reading(device: device, name: "relay_" + parts[2], value: JSONText.quoted(text))]
        case 4 where parts[1] == "relay" && parts[3] == "power":
            return number(device, "power_" + parts[2], text, ReadingSpec(unit: "W", deviceClass: "power"))
        case 4 where parts[1] == "relay" && parts[3] == "energy":
            // Gen1 counts energy in watt-minutes; Wh is what people read.
            guard let minutes = JSONNumber.parse(text) else { return [.problem("shelly: \(message.topic) is not a number")] }
            return [.reading(device: device, name: "energy_" + parts[2], value: jsonNumber((minutes / 60 * 1000).rounded() / 1000),
                             spec: ReadingSpec(unit: "Wh", deviceClass: "energy"))]
        case 3 where parts[1] == "sensor":
            let units: [String: ReadingSpec] = [
                "temperature": ReadingSpec(unit: "°C", deviceClass: "temperature"),
                "humidity": ReadingSpec(unit: "%", deviceClass: "humidity"),
                "battery": ReadingSpec(unit: "%", deviceClass: "battery"),
                "lux": ReadingSpec(unit: "lx", deviceClass: "illuminance"),
            ]
            if parts[2] == "state" || parts[2] == "door" { return [.reading(device: device, name: parts[2], value: JSONText.quoted(text))] }
            return number(device, parts[2], text, units[parts[2]] ?? ReadingSpec())
        default:
            return [.ignored(reason: "\(path) carries no reading Herald keeps")]
        }
    }

    /// A number, or a boolean (`sensor/flood`, `sensor/smoke`); a list (`sensor/act_reasons`) is no reading.
    private func number(_ device: String, _ name: String, _ text: String, _ spec: ReadingSpec) -> [Observation] {
        if text == "true" || text == "false" { return [.reading(device: device, name: name, value: text, spec: spec)] }
        if text.hasPrefix("[") { return [.ignored(reason: "\(name) is a list, not a reading")] }
        guard let value = JSONNumber.parse(text) else { return [.problem("shelly: \(name) of \(device) is not a number")] }
        return [.reading(device: device, name: name, value: jsonNumber(value), spec: spec)]
    }

    // MARK: Gen2+

    private mutating func gen2(_ message: SourceMessage, known: DeviceCatalog) -> [Observation]? {
        if let device = message.topic.removingSuffix("/online") {
            guard gen2Devices.contains(device) || device.lowercased().hasPrefix("shelly") else { return nil }
            guard let availability = Availability.parse(message.payload) else { return [.problem("shelly: online of \(device) is neither true nor false")] }
            return [.availability(device: device, availability)]
        }
        let segments = message.topic.split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count == 3, segments[1] == "status" else { return nil }
        let device = String(segments[0]), component = segments[2]
        let parts = component.split(separator: ":")
        let numbered = parts.count == 2 && parts[1].allSatisfy(\.isNumber) && parts[0].first?.isLetter == true && parts[0].allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }
        let system = ["sys", "wifi", "cloud", "mqtt", "ble", "ws"].contains(component)
        guard numbered || system && (gen2Devices.contains(device) || device.lowercased().hasPrefix("shelly")) else { return nil }
        guard let status = message.json, let members = try? status.objectMembers() else {
            return [.problem("shelly: \(component) status of \(device) is not a JSON object")]
        }
        var observations: [Observation] = []
        // Bounded: past the limit a prefix is still recognised by its topics' shape.
        if gen2Devices.count < Self.rememberedLimit, gen2Devices.insert(device).inserted {
            observations.append(.remember(name: device, value: "gen2"))
            observations.append(.device(DeviceInfo(device: device, vendor: "Shelly")))
        }
        if component == "wifi" {
            if let rssi = status.value(at: "rssi"), rssi.numberValue != nil {
                observations.append(.reading(device: device, name: "wifi_signal", value: rssi.singleLine,
                                             spec: ReadingSpec(unit: "dBm", deviceClass: "signal_strength")))
            }
            return observations.isEmpty ? [.ignored(reason: "wifi status without signal")] : observations
        }
        guard numbered else { return observations.isEmpty ? [.ignored(reason: "\(component) carries no readings")] : observations }
        // switch:0 → switch0_…, em1:0 → em1_0_…
        let prefix = "\(parts[0])\(parts[0].last?.isNumber == true ? "_" : "")\(parts[1])_"
        for (field, value) in members {
            for (name, path, spec) in Self.fields(field) {
                guard let reading = path.isEmpty ? value : value.value(at: path), !reading.isContainer,
                      reading.numberValue != nil || reading.singleLine == "true" || reading.singleLine == "false" else { continue }
                observations.append(.reading(device: device, name: prefix + name, value: reading.singleLine, spec: spec))
            }
        }
        return observations.isEmpty ? [.ignored(reason: "\(component) carries no readings Herald keeps")] : observations
    }

    /// The status fields of Gen2+ components, with the units the API documents.
    static func fields(_ field: String) -> [(String, String, ReadingSpec)] {
        switch field {
        case "output": [("output", "", ReadingSpec(whenTrue: "on", whenFalse: "off"))]
        case "state": [("state", "", ReadingSpec(whenTrue: "on", whenFalse: "off"))]
        case "apower", "act_power": [("power", "", ReadingSpec(unit: "W", deviceClass: "power"))]
        case "aprt_power": [("apparent_power", "", ReadingSpec(unit: "VA", deviceClass: "apparent_power"))]
        case "total_act_power": [("total_power", "", ReadingSpec(unit: "W", deviceClass: "power"))]
        case "a_act_power", "b_act_power", "c_act_power":
            [("\(field.prefix(1))_power", "", ReadingSpec(unit: "W", deviceClass: "power"))]
        case "a_voltage", "b_voltage", "c_voltage": [("\(field.prefix(1))_voltage", "", ReadingSpec(unit: "V", deviceClass: "voltage"))]
        case "a_current", "b_current", "c_current", "total_current":
            [("\(field.split(separator: "_")[0])_current", "", ReadingSpec(unit: "A", deviceClass: "current"))]
        case "voltage": [("voltage", "", ReadingSpec(unit: "V", deviceClass: "voltage"))]
        case "current": [("current", "", ReadingSpec(unit: "A", deviceClass: "current"))]
        case "freq": [("frequency", "", ReadingSpec(unit: "Hz", deviceClass: "frequency"))]
        case "pf": [("power_factor", "", ReadingSpec(deviceClass: "power_factor"))]
        case "aenergy": [("energy", "total", ReadingSpec(unit: "Wh", deviceClass: "energy"))]
        case "ret_aenergy": [("returned_energy", "total", ReadingSpec(unit: "Wh", deviceClass: "energy"))]
        case "temperature": [("temperature", "tC", ReadingSpec(unit: "°C", deviceClass: "temperature"))]
        case "tC": [("temperature", "", ReadingSpec(unit: "°C", deviceClass: "temperature"))]
        case "rh": [("humidity", "", ReadingSpec(unit: "%", deviceClass: "humidity"))]
        case "current_pos": [("position", "", ReadingSpec(unit: "%"))]
        case "battery": [("battery", "percent", ReadingSpec(unit: "%", deviceClass: "battery"))]
        default: []
        }
    }
}
