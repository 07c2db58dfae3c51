/// Tasmota (https://tasmota.github.io/docs/MQTT/): telemetry under `tele/<topic>/…` (SENSOR,
/// STATE, LWT), command results under `stat/<topic>/…`, placed by the device's FullTopic
/// (`%prefix%/%topic%/` unless changed).
struct TasmotaSource: DeviceSource {
    let name = "tasmota"
    /// FullTopic split at `/`, without the trailing empty segment.
    let pattern: [Substring]

    init(fullTopic: String = "%prefix%/%topic%/") {
        pattern = fullTopic.split(separator: "/")
    }

    var filters: [String] {
        ["tele", "stat"].map { prefix in
            (pattern.map { $0 == "%prefix%" ? prefix : $0.hasPrefix("%") ? "+" : String($0) } + ["+"]).joined(separator: "/")
        }
    }

    /// The prefix (`tele`, `stat`), the device's topic and what follows, if the topic fits FullTopic.
    func parse(_ topic: String) -> (prefix: Substring, device: String, rest: Substring)? {
        let segments = topic.split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count == pattern.count + 1 else { return nil }
        var prefix: Substring?, device: Substring?
        for (segment, part) in zip(segments, pattern) {
            switch part {
            case "%prefix%": prefix = segment
            case "%topic%": device = segment
            default: if !part.hasPrefix("%") && part != segment { return nil }
            }
        }
        guard let prefix, let device, prefix == "tele" || prefix == "stat" else { return nil }
        return (prefix, String(device), segments[segments.count - 1])
    }

    mutating func interpret(_ message: SourceMessage, known: DeviceCatalog) -> [Observation]? {
        guard let (prefix, device, rest) = parse(message.topic) else { return nil }
        switch (prefix, rest) {
        case ("tele", "LWT"):
            guard let availability = Availability.parse(message.payload) else {
                return [.problem("tasmota: LWT of \(device) is neither Online nor Offline")]
            }
            return [.availability(device: device, availability)]
        case ("tele", "SENSOR"):
            guard let members = try? message.json?.objectMembers() else { return [.problem("tasmota: SENSOR of \(device) is not a JSON object")] }
            return sensor(device, members)
        case ("tele", "STATE"):
            guard let members = try? message.json?.objectMembers() else { return [.problem("tasmota: STATE of \(device) is not a JSON object")] }
            return state(device, members)
        case ("tele", "INFO1"):
            // {"Info1":{"Module":"Sonoff Basic","Version":"…",…}}
            let module = message.json?.value(at: "Info1.Module")?.stringValue ?? message.json?.value(at: "Module")?.stringValue
            return module.map { [.device(DeviceInfo(device: device, model: $0))] } ?? [.ignored(reason: "INFO1 names no module")]
        case ("stat", let power) where power.hasPrefix("POWER"):
            guard let text = message.text else { return [.problem("tasmota: \(power) of \(device) is not text")] }
            return [.reading(device: device, name: relayName(power), value: JSONText.quoted(text))]
        case ("stat", "RESULT"):
            // A relay's change comes as RESULT {"POWER":"ON"} and as stat/…/POWER: the latter is kept.
            return [.ignored(reason: "a command result; relay state comes on stat/…/POWER")]
        default:
            return [.ignored(reason: "\(prefix)/\(rest) carries no readings")]
        }
    }

    /// `POWER`, `POWER1` → `relay`, `relay1`: Tasmota's POWER is the relay's state; `power` is the
    /// ENERGY sensor's watts.
    private func relayName(_ power: Substring) -> String { "relay" + power.dropFirst(5) }

    private func sensor(_ device: String, _ members: [(key: String, value: JSONText)]) -> [Observation] {
        let tempUnit = "°" + (members.last { $0.key == "TempUnit" }?.value.stringValue ?? "C")
        let pressureUnit = members.last { $0.key == "PressureUnit" }?.value.stringValue ?? "hPa"
        var observations: [Observation] = []
        for (sensor, value) in members {
            guard let fields = try? value.objectMembers() else { continue }  // Time, TempUnit, …
            let prefix = sensor == "ENERGY" ? "" : Self.snake(sensor) + "_"
            for (field, reading) in fields where field != "Id" && field != "TotalStartTime" {
                let spec = Self.spec(field, tempUnit: tempUnit, pressureUnit: pressureUnit)
                if let elements = try? reading.arrayElements() {
                    // Several channels of one meter: "Power": [12, 0]
                    for (index, element) in elements.enumerated() where element.numberValue != nil {
                        observations.append(.reading(device: device, name: prefix + Self.snake(field) + "_\(index + 1)",
                                                     value: element.singleLine, spec: spec))
                    }
                } else if !reading.isContainer, reading.numberValue != nil || reading.singleLine == "true" || reading.singleLine == "false" {
                    observations.append(.reading(device: device, name: prefix + Self.snake(field), value: reading.singleLine, spec: spec))
                }
            }
        }
        return observations.isEmpty ? [.ignored(reason: "SENSOR without sensor values")] : observations
    }

    private func state(_ device: String, _ members: [(key: String, value: JSONText)]) -> [Observation] {
        var observations: [Observation] = []
        for (field, value) in members {
            if field.hasPrefix("POWER"), value.stringValue != nil {
                observations.append(.reading(device: device, name: relayName(Substring(field)), value: value.singleLine))
            } else if field == "Wifi" {
                if let rssi = value.value(at: "RSSI"), rssi.numberValue != nil {
                    observations.append(.reading(device: device, name: "wifi_quality", value: rssi.singleLine, spec: ReadingSpec(unit: "%")))
                }
                if let signal = value.value(at: "Signal"), signal.numberValue != nil {
                    observations.append(.reading(device: device, name: "wifi_signal", value: signal.singleLine,
                                                 spec: ReadingSpec(unit: "dBm", deviceClass: "signal_strength")))
                }
            } else if field == "UptimeSec", value.numberValue != nil {
                observations.append(.reading(device: device, name: "uptime", value: value.singleLine, spec: ReadingSpec(unit: "s", deviceClass: "duration")))
            }
        }
        return observations.isEmpty ? [.ignored(reason: "STATE without relay or Wi-Fi state")] : observations
    }

    /// Units of the fields Tasmota documents (https://tasmota.github.io/docs/JSON-Status-Responses/).
    static func spec(_ field: String, tempUnit: String, pressureUnit: String) -> ReadingSpec {
        switch field {
        case "Temperature", "DewPoint": ReadingSpec(unit: tempUnit, deviceClass: "temperature")
        case "Humidity": ReadingSpec(unit: "%", deviceClass: "humidity")
        case "Pressure", "SeaPressure": ReadingSpec(unit: pressureUnit, deviceClass: "pressure")
        case "Illuminance": ReadingSpec(unit: "lx", deviceClass: "illuminance")
        case "CarbonDioxide", "CO2", "eCO2": ReadingSpec(unit: "ppm", deviceClass: "carbon_dioxide")
        case "TVOC": ReadingSpec(unit: "ppb", deviceClass: "volatile_organic_compounds")
        case "Power": ReadingSpec(unit: "W", deviceClass: "power")
        case "ApparentPower": ReadingSpec(unit: "VA", deviceClass: "apparent_power")
        case "ReactivePower": ReadingSpec(unit: "VAr", deviceClass: "reactive_power")
        case "Factor": ReadingSpec(deviceClass: "power_factor")
        case "Voltage": ReadingSpec(unit: "V", deviceClass: "voltage")
        case "Current": ReadingSpec(unit: "A", deviceClass: "current")
        case "Frequency": ReadingSpec(unit: "Hz", deviceClass: "frequency")
        case "Total", "Today", "Yesterday": ReadingSpec(unit: "kWh", deviceClass: "energy")
        case "Period": ReadingSpec(unit: "Wh", deviceClass: "energy")
        case "Distance": ReadingSpec(unit: "cm", deviceClass: "distance")
        case "PM2.5": ReadingSpec(unit: "µg/m³", deviceClass: "pm25")
        case "PM10": ReadingSpec(unit: "µg/m³", deviceClass: "pm10")
        default: ReadingSpec()
        }
    }

    /// `ApparentPower` → `apparent_power`, `AM2301` → `am2301`, `DS18B20-1` → `ds18b20_1`.
    static func snake(_ name: String) -> String {
        var out = ""
        var previous: Character?
        for character in name {
            if character.isUppercase, let previous, previous.isLowercase { out += "_" }
            out += character == "-" || character == " " || character == "." ? "_" : character.lowercased()
            previous = character
        }
        return out
    }
}
