/// Reading a discovery config: abbreviated keys (`stat_t`, `unit_of_meas`, `dev`…), the `~`
/// base topic, and the defaults Home Assistant documents for each component.
extension HomeAssistantSource {
    struct ConfigProblem: Error, CustomStringConvertible {
        var description: String
    }

    /// https://www.home-assistant.io/integrations/mqtt/#supported-abbreviations-in-mqtt-discovery-messages
    static let abbreviations: [String: String] = [
        "avty": "availability", "avty_mode": "availability_mode", "avty_t": "availability_topic",
        "avty_tpl": "availability_template", "dev": "device", "dev_cla": "device_class", "name": "name",
        "obj_id": "object_id", "pl_avail": "payload_available", "pl_not_avail": "payload_not_available",
        "pl_on": "payload_on", "pl_off": "payload_off", "stat_t": "state_topic", "stat_on": "state_on",
        "stat_off": "state_off", "stat_val_tpl": "state_value_template", "uniq_id": "unique_id",
        "unit_of_meas": "unit_of_measurement", "val_tpl": "value_template", "json_attr_t": "json_attributes_topic",
        "cmd_t": "command_topic", "stat_cla": "state_class", "t": "topic",
        // device
        "ids": "identifiers", "mf": "manufacturer", "mdl": "model", "sw": "sw_version", "hw": "hw_version",
        "cns": "connections", "sa": "suggested_area", "cu": "configuration_url",
    ]

    /// The config's members with abbreviations expanded and `~` put in, as (key, value) pairs.
    static func members(_ json: JSONText, base: String?) -> [String: JSONText] {
        var result: [String: JSONText] = [:]
        for (key, value) in (try? json.objectMembers()) ?? [] {
            let name = abbreviations[key] ?? key
            if let base, name == "topic" || name.hasSuffix("_topic"), let text = value.stringValue {
                if text.hasPrefix("~") { result[name] = .string(base + text.dropFirst()); continue }
                if text.hasSuffix("~") { result[name] = .string(text.dropLast() + base); continue }
            }
            result[name] = value
        }
        return result
    }

    static func entity(from payload: [UInt8], configTopic: String, parts: (component: String, node: String?, object: String))
        -> Result<Entity, ConfigProblem> {
        guard let json = try? JSONText(validating: payload), (try? json.objectMembers()) != nil else {
            return .failure(ConfigProblem(description: "the config is not a JSON object"))
        }
        let base = (try? json.objectMembers())?.last { $0.key == "~" }?.value.stringValue
        let config = members(json, base: base)
        guard let stateTopic = config["state_topic"]?.stringValue, !stateTopic.isEmpty else {
            return .failure(ConfigProblem(description: "the config names no state_topic"))
        }
        if let problem = topicProblem(stateTopic) { return .failure(ConfigProblem(description: "state_topic " + problem)) }

        let device = config["device"].map { members($0, base: nil) } ?? [:]
        let identifiers = device["identifiers"].flatMap { ids in (try? ids.arrayElements())?.first?.stringValue ?? ids.stringValue }
        let deviceName = device["name"]?.stringValue
        let deviceKey = parts.node ?? identifiers ?? deviceName.map(TasmotaSource.snake) ?? parts.object
        var reading = parts.object
        if let node = parts.node, reading.hasPrefix(node + "_"), reading.count > node.count + 1 { reading.removeFirst(node.count + 1) }

        var template = ValueTemplate.identity
        var unsupported: String?
        let templateKey = parts.component == "light" ? "state_value_template" : "value_template"
        if let text = config[templateKey]?.stringValue ?? config["value_template"]?.stringValue {
            do { template = try ValueTemplate(text) } catch { unsupported = text }
        }

        let deviceClass = config["device_class"]?.stringValue
        var spec = ReadingSpec(unit: config["unit_of_measurement"]?.stringValue, deviceClass: deviceClass)
        let isBinary = parts.component == "binary_sensor"
        if isBinary, let words = binaryWords(deviceClass) { (spec.whenTrue, spec.whenFalse) = words }
        else if ["switch", "light", "fan", "siren"].contains(parts.component) { (spec.whenTrue, spec.whenFalse) = ("on", "off") }
        else if parts.component == "lock" { (spec.whenTrue, spec.whenFalse) = ("locked", "unlocked") }
        let onKey = isBinary ? "payload_on" : "state_on", offKey = isBinary ? "payload_off" : "state_off"
        let payloadOn = config[onKey]?.stringValue ?? config["payload_on"]?.stringValue ?? (parts.component == "lock" ? "LOCKED" : "ON")
        let payloadOff = config[offKey]?.stringValue ?? config["payload_off"]?.stringValue ?? (parts.component == "lock" ? "UNLOCKED" : "OFF")

        var availability: [AvailabilityTopic] = []
        let available = config["payload_available"]?.stringValue ?? "online"
        let notAvailable = config["payload_not_available"]?.stringValue ?? "offline"
        if let topic = config["availability_topic"]?.stringValue {
            availability.append(AvailabilityTopic(topic: topic, available: available, notAvailable: notAvailable,
                                                  template: config["availability_template"]?.stringValue.flatMap { try? ValueTemplate($0) }))
        }
        for item in (try? config["availability"]?.arrayElements()) ?? [] {
            let entry = members(item, base: base)
            guard let topic = entry["topic"]?.stringValue else { continue }
            availability.append(AvailabilityTopic(
                topic: topic, available: entry["payload_available"]?.stringValue ?? available,
                notAvailable: entry["payload_not_available"]?.stringValue ?? notAvailable,
                template: entry["value_template"]?.stringValue.flatMap { try? ValueTemplate($0) }))
        }
        for topic in availability {
            if let problem = topicProblem(topic.topic) { return .failure(ConfigProblem(description: "availability topic " + problem)) }
        }

        let info = DeviceInfo(device: deviceKey, name: deviceName ?? parts.node,
                              model: device["model"]?.stringValue, vendor: device["manufacturer"]?.stringValue)
        return .success(Entity(configTopic: configTopic, component: parts.component, device: deviceKey, reading: reading,
                               stateTopic: stateTopic, template: template, unsupportedTemplate: unsupported, spec: spec,
                               payloadOn: payloadOn, payloadOff: payloadOff, info: info, availability: availability))
    }

    /// A state topic is a topic, not a filter: a wildcard would make Herald subscribe to far more.
    static func topicProblem(_ topic: String) -> String? {
        if topic.contains("+") || topic.contains("#") { return "\(JSONText.quoted(topic)) has a wildcard" }
        if topic.utf8.count > 256 || topic.utf8.contains(where: { $0 < 0x20 }) { return "\(JSONText.quoted(topic)) is not a usable topic" }
        return nil
    }

    /// https://www.home-assistant.io/integrations/binary_sensor/#device-class: what on and off mean.
    static func binaryWords(_ deviceClass: String?) -> (String, String)? {
        switch deviceClass {
        case "door", "window", "opening", "garage_door": ("open", "closed")
        case "motion", "occupancy", "presence", "moving", "sound", "vibration", "tamper", "smoke", "gas", "carbon_monoxide":
            ("detected", "clear")
        case "moisture": ("wet", "dry")
        case "battery": ("low", "normal")
        case "connectivity": ("connected", "disconnected")
        case "lock": ("unlocked", "locked")
        case "problem", "safety": ("problem", "OK")
        case "plug", "power", "running", "light": ("on", "off")
        default: ("on", "off")
        }
    }
}
