import Yams

extension ConfigReader {
    /// `sources: false`, or per source `false`, `true` or a mapping of its settings:
    /// `sources: { zigbee2mqtt: { base_topic: z2m }, tasmota: false, channel: sensors }`.
    mutating func readSources(_ node: Node, into sources: inout SourcesConfig) {
        if let enabled = node.bool {
            if !enabled { sources = .none }
            return
        }
        let known: Set = ["zigbee2mqtt", "tasmota", "homeassistant", "shelly", "octoprint", "channel", "jobs_channel",
                          "max_devices", "max_readings_per_device"]
        for (key, value) in members(node, "sources", known: known) {
            switch key {
            case "channel": sources.channel = channel(value, key) ?? sources.channel
            case "jobs_channel": sources.jobsChannel = channel(value, key) ?? sources.jobsChannel
            case "max_devices": sources.maxDevices = int(value, key, 1...1_000_000) ?? sources.maxDevices
            case "max_readings_per_device": sources.maxReadingsPerDevice = int(value, key, 1...10_000) ?? sources.maxReadingsPerDevice
            case "zigbee2mqtt":
                sources.zigbee2mqtt = source(value, key, SourcesConfig.Zigbee2MQTT(), topicKey: "base_topic") { config, name, text in
                    if name == "base_topic" { config.baseTopic = text } else { config.channel = text }
                }
            case "tasmota":
                sources.tasmota = source(value, key, SourcesConfig.Tasmota(), topicKey: "full_topic") { config, name, text in
                    if name == "full_topic" { config.fullTopic = text } else { config.channel = text }
                }
                if let fullTopic = sources.tasmota?.fullTopic {
                    let segments = fullTopic.split(separator: "/")
                    if !(segments.contains("%prefix%") && segments.contains("%topic%"))
                        || segments.contains(where: { $0.contains("%") && !($0.hasPrefix("%") && $0.hasSuffix("%") && $0.dropFirst().dropLast().allSatisfy(\.isLetter)) }) {
                        fail(value, "tasmota.full_topic must hold %prefix% and %topic% as whole segments (Tasmota's default is %prefix%/%topic%/)")
                    }
                }
            case "homeassistant":
                sources.homeAssistant = source(value, key, SourcesConfig.HomeAssistant(), topicKey: "discovery_prefix") { config, name, text in
                    if name == "discovery_prefix" { config.discoveryPrefix = text } else { config.channel = text }
                }
            case "shelly":
                sources.shelly = source(value, key, SourcesConfig.Shelly(), topicKey: "gen1_prefix") { config, name, text in
                    if name == "gen1_prefix" { config.gen1Prefix = text } else { config.channel = text }
                }
            default:
                sources.octoPrint = source(value, key, SourcesConfig.OctoPrint(), topicKey: "base_topic", hasChannel: false) { config, _, text in
                    config.baseTopic = text
                }
            }
        }
        checkChannels(sources, node)
    }

    /// Readings on the jobs channel would be taken for job updates.
    mutating func checkChannels(_ sources: SourcesConfig, _ node: Node) {
        if sources.channels.contains(sources.jobsChannel) {
            fail(node, "sources.jobs_channel (\(sources.jobsChannel)) must differ from the channels readings go to")
        }
    }

    /// One source's entry: false (off), true (defaults) or its settings.
    private mutating func source<Config>(_ node: Node, _ name: String, _ defaults: Config, topicKey: String, hasChannel: Bool = true,
                                         set: (inout Config, String, String) -> Void) -> Config? {
        if let enabled = node.bool { return enabled ? defaults : nil }
        var config = defaults
        let known: Set = hasChannel ? [topicKey, "channel", "enabled"] : [topicKey, "enabled"]
        var enabled = true
        for (key, value) in members(node, "sources.\(name)", known: known) {
            switch key {
            case "enabled": enabled = bool(value, key) ?? enabled
            case "channel": if let text = channel(value, key) { set(&config, key, text) }
            default:
                guard let text = string(value, key) else { continue }
                let segments = text.split(separator: "/", omittingEmptySubsequences: false)
                if text.isEmpty || text.contains("+") || text.contains("#") || (key != "full_topic" && segments.contains("")) {
                    fail(value, "sources.\(name).\(key) must be a topic without wildcards or empty segments")
                } else {
                    set(&config, key, text)
                }
            }
        }
        return enabled ? config : nil
    }

    private mutating func channel(_ node: Node, _ name: String) -> String? {
        guard let text = string(node, name) else { return nil }
        do { try Names.validateChannel(text); return text } catch { fail(node, error.description); return nil }
    }
}
