/// Home Assistant MQTT discovery (https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery):
/// a retained config on `<prefix>/<component>/[<node_id>/]<object_id>/config` names an entity's
/// state topic, unit, device class, availability and device. ESPHome, OpenMQTTGateway, Tasmota in
/// its Home Assistant mode and many more announce themselves this way. Herald follows the topics
/// the configs name; an empty retained config removes its entity.
struct HomeAssistantSource: DeviceSource {
    let name = "homeassistant"
    let prefix: String

    struct Entity: Sendable, Equatable {
        var configTopic: String
        var component: String
        var device: String
        var reading: String
        var stateTopic: String
        var template: ValueTemplate
        /// The template as written, when Herald does not evaluate it (the value is kept as it came).
        var unsupportedTemplate: String?
        var spec: ReadingSpec
        var payloadOn: String
        var payloadOff: String
        var info: DeviceInfo
        var availability: [AvailabilityTopic]
    }

    struct AvailabilityTopic: Sendable, Equatable {
        var topic: String
        var available: String
        var notAvailable: String
        var template: ValueTemplate?
    }

    private var entities: [String: Entity] = [:]  // by config topic
    private var byStateTopic: [String: [String]] = [:]
    private var byAvailabilityTopic: [String: [String]] = [:]
    let maxEntities = 10_000
    /// The other sources' filters: a config whose state topic one of them takes describes a feed
    /// that source reads in full (Zigbee2MQTT and Tasmota announce themselves here too).
    let otherSources: [Selector]

    /// `<prefix>/`, made once: every message is compared with it.
    let under: String

    init(discoveryPrefix: String = "homeassistant", otherSources: [String] = []) {
        prefix = discoveryPrefix
        under = discoveryPrefix + "/"
        self.otherSources = otherSources.compactMap { try? Selector($0) }
    }

    /// Components that have no state to follow (a button, a device trigger).
    static let stateless: Set = ["device_automation", "tag", "button", "scene", "notify", "event"]

    var filters: [String] { [prefix + "/#"] }

    func isMetadata(_ topic: String) -> Bool { topic.hasBytePrefix(under) && topic.hasByteSuffix("/config") }

    var extraTopics: [String] { Array(byStateTopic.keys) + Array(byAvailabilityTopic.keys) }

    mutating func restore(_ memory: [String: String]) {
        for (topic, config) in memory {
            guard let parts = Self.parts(of: topic, prefix: prefix) else { continue }
            if case .success(let entity) = Self.entity(from: Array(config.utf8), configTopic: topic, parts: parts) { add(entity) }
        }
    }

    mutating func interpret(_ message: SourceMessage, known: DeviceCatalog) -> [Observation]? {
        if isMetadata(message.topic), let parts = Self.parts(of: message.topic, prefix: prefix) { return config(message, parts: parts) }
        var observations: [Observation] = []
        for configTopic in byStateTopic[message.topic] ?? [] {
            guard let entity = entities[configTopic] else { continue }
            observations += state(entity, message.payload)
        }
        for configTopic in byAvailabilityTopic[message.topic] ?? [] {
            guard let entity = entities[configTopic] else { continue }
            for topic in entity.availability where topic.topic == message.topic {
                let payload = topic.template?.apply(to: message.payload).map { JSONText.string($0).stringValue ?? $0 }
                let text = payload.map { Array(($0.hasPrefix("\"") ? String($0.dropFirst().dropLast()) : $0).utf8) } ?? message.payload
                if let availability = Availability.parse(text, available: topic.available, notAvailable: topic.notAvailable),
                   !observations.contains(.availability(device: entity.device, availability)) {
                    observations.append(.availability(device: entity.device, availability))
                }
            }
        }
        if !observations.isEmpty { return observations }
        if byStateTopic[message.topic] != nil || byAvailabilityTopic[message.topic] != nil {
            // Tasmota's SENSOR carries several entities' fields, and not every message has every one.
            return [.ignored(reason: "no field its entities' templates read")]
        }
        // Home Assistant's own birth message and other topics under the prefix.
        return message.topic.hasBytePrefix(under) ? [.ignored(reason: "not a discovery config")] : nil
    }

    /// `component`, `node_id` (may be nil) and `object_id` of a config topic.
    static func parts(of topic: String, prefix: String) -> (component: String, node: String?, object: String)? {
        guard topic.hasBytePrefix(prefix + "/"), topic.hasByteSuffix("/config") else { return nil }
        let segments = topic.dropFirst(prefix.count + 1).dropLast(7).split(separator: "/", omittingEmptySubsequences: false)
        switch segments.count {
        case 2: return (String(segments[0]), nil, String(segments[1]))
        case 3: return (String(segments[0]), String(segments[1]), String(segments[2]))
        default: return nil
        }
    }

    private mutating func config(_ message: SourceMessage, parts: (component: String, node: String?, object: String)) -> [Observation] {
        let topic = message.topic
        if message.payload.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            guard let old = remove(topic) else { return [.ignored(reason: "removal of an entity Herald did not know")] }
            return [.dropReading(device: old.device, name: old.reading), .remember(name: topic, value: nil)] + unsubscriptions(old)
        }
        if Self.stateless.contains(parts.component) { return [.ignored(reason: "a \(parts.component) has no state to follow")] }
        switch Self.entity(from: message.payload, configTopic: topic, parts: parts) {
        case .failure(let problem):
            return [.problem("homeassistant: \(topic): \(problem.description)")]
        case .success(let entity):
            if entities[topic] == entity { return [.ignored(reason: "the config is unchanged")] }
            var captures: [Substring] = []
            if otherSources.contains(where: { $0.match(entity.stateTopic, captures: &captures) }) {
                return [.ignored(reason: "another source reads \(entity.stateTopic) in full")]
            }
            if entities[topic] == nil && entities.count >= maxEntities {
                return [.problem("homeassistant: \(maxEntities) entities already, the limit; \(topic) is not followed")]
            }
            var observations: [Observation] = []
            let newTopics = [entity.stateTopic] + entity.availability.map(\.topic)
            // Only what changes: a topic the old config and the new one both name stays followed.
            let newlyFollowed = newTopics.filter { !isFollowed($0) }
            let old = remove(topic)
            if let old, old.device != entity.device || old.reading != entity.reading {
                observations.append(.dropReading(device: old.device, name: old.reading))
            }
            add(entity)
            if let old { observations += unsubscriptions(old) }
            var info = entity.info
            info.readings = [entity.reading: entity.spec]
            observations.append(.device(info))
            observations.append(.remember(name: topic, value: String(decoding: message.payload, as: UTF8.self)))
            for followed in Set(newlyFollowed).sorted(by: { newTopics.firstIndex(of: $0)! < newTopics.firstIndex(of: $1)! }) {
                observations.append(.subscribe(followed))
            }
            if let unsupported = entity.unsupportedTemplate {
                observations.append(.warning("homeassistant: \(topic): value_template \(JSONText.quoted(unsupported)) is not one Herald evaluates; values are kept as they come"))
            }
            return observations
        }
    }

    /// The old entity's topics that no entity names any more.
    private func unsubscriptions(_ old: Entity) -> [Observation] {
        var seen = Set<String>()
        return ([old.stateTopic] + old.availability.map(\.topic)).filter { !isFollowed($0) && seen.insert($0).inserted }.map(Observation.unsubscribe)
    }

    private func isFollowed(_ topic: String) -> Bool { byStateTopic[topic] != nil || byAvailabilityTopic[topic] != nil }

    private mutating func add(_ entity: Entity) {
        entities[entity.configTopic] = entity
        byStateTopic[entity.stateTopic, default: []].append(entity.configTopic)
        for availability in entity.availability {
            byAvailabilityTopic[availability.topic, default: []].append(entity.configTopic)
        }
    }

    private mutating func remove(_ configTopic: String) -> Entity? {
        guard let entity = entities.removeValue(forKey: configTopic) else { return nil }
        Self.drop(configTopic, from: entity.stateTopic, in: &byStateTopic)
        for availability in entity.availability { Self.drop(configTopic, from: availability.topic, in: &byAvailabilityTopic) }
        return entity
    }

    private static func drop(_ configTopic: String, from topic: String, in index: inout [String: [String]]) {
        index[topic]?.removeAll { $0 == configTopic }
        if index[topic]?.isEmpty == true { index[topic] = nil }
    }

    private func state(_ entity: Entity, _ payload: [UInt8]) -> [Observation] {
        guard var value = entity.template.apply(to: payload) else {
            // The template's field is not in this payload: Tasmota's SENSOR carries several
            // entities, and not every message has every one.
            return []
        }
        if entity.unsupportedTemplate != nil { value = PayloadNormalizer.json(for: payload) }
        switch entity.component {
        case "binary_sensor", "switch", "light", "fan", "siren", "lock":
            let text = (try? JSONText(validating: Array(value.utf8)))?.stringValue ?? value
            if text == entity.payloadOn { value = "true" } else if text == entity.payloadOff { value = "false" }
        default:
            break
        }
        return [.reading(device: entity.device, name: entity.reading, value: value, spec: entity.spec)]
    }
}
