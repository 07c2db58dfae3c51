/// Which built-in sources run and where they publish (DESIGN §5a). All are on by default;
/// `sources: false` or `tasmota: false` turns them off.
public struct SourcesConfig: Sendable {
    public struct Zigbee2MQTT: Sendable { public var baseTopic = "zigbee2mqtt"; public var channel: String? }
    public struct Tasmota: Sendable {
        /// Tasmota's FullTopic: `%prefix%` (tele, stat, cmnd) and `%topic%` (the device) somewhere in it.
        public var fullTopic = "%prefix%/%topic%/"
        public var channel: String?
    }
    public struct HomeAssistant: Sendable { public var discoveryPrefix = "homeassistant"; public var channel: String? }
    public struct Shelly: Sendable {
        /// Gen1's fixed first segment; Gen2+ devices are recognised by their topics' shape.
        public var gen1Prefix = "shellies"
        public var channel: String?
    }
    public struct OctoPrint: Sendable { public var baseTopic = "octoPrint" }

    public var zigbee2mqtt: Zigbee2MQTT? = Zigbee2MQTT()
    public var tasmota: Tasmota? = Tasmota()
    public var homeAssistant: HomeAssistant? = HomeAssistant()
    public var shelly: Shelly? = Shelly()
    public var octoPrint: OctoPrint? = OctoPrint()
    /// Readings, availability and device descriptions go here unless a source says otherwise.
    public var channel = "sensors"
    /// Jobs from sources (OTA updates, prints); a job channel like a route of kind `job`.
    public var jobsChannel = "jobs"
    public var maxDevices = 1_000
    public var maxReadingsPerDevice = 100

    public init() {}

    public static let none: SourcesConfig = {
        var config = SourcesConfig()
        config.zigbee2mqtt = nil
        config.tasmota = nil
        config.homeAssistant = nil
        config.shelly = nil
        config.octoPrint = nil
        return config
    }()

    public var isEmpty: Bool {
        zigbee2mqtt == nil && tasmota == nil && homeAssistant == nil && shelly == nil && octoPrint == nil
    }

    /// The sources that are on, by name.
    public var sourceNames: [String] { makeSources().map(\.source.name) }

    /// Every channel a source may write to.
    public var channels: Set<String> {
        var channels: Set = [channel]
        for custom in [zigbee2mqtt?.channel, tasmota?.channel, homeAssistant?.channel, shelly?.channel] {
            if let custom { channels.insert(custom) }
        }
        return channels
    }

    func makeSources() -> [SourceSet.Configured] {
        var sources: [SourceSet.Configured] = []
        if let zigbee2mqtt {
            sources.append(.init(source: Zigbee2MQTTSource(baseTopic: zigbee2mqtt.baseTopic), channel: zigbee2mqtt.channel ?? channel))
        }
        if let tasmota { sources.append(.init(source: TasmotaSource(fullTopic: tasmota.fullTopic), channel: tasmota.channel ?? channel)) }
        if let shelly { sources.append(.init(source: ShellySource(gen1Prefix: shelly.gen1Prefix), channel: shelly.channel ?? channel)) }
        if let octoPrint { sources.append(.init(source: OctoPrintSource(baseTopic: octoPrint.baseTopic), channel: channel)) }
        // Discovery first, for the topics its configs name; it leaves alone the configs whose
        // state topics another source reads in full (Zigbee2MQTT's and Tasmota's own).
        if let homeAssistant {
            let others = sources.flatMap(\.source.filters)
            sources.insert(.init(source: HomeAssistantSource(discoveryPrefix: homeAssistant.discoveryPrefix, otherSources: others),
                                 channel: homeAssistant.channel ?? channel), at: 0)
        }
        return sources
    }

    func makeSourceSet() -> SourceSet {
        SourceSet(makeSources(), jobsChannel: jobsChannel,
                  limits: .init(devicesPerSource: maxDevices, readingsPerDevice: maxReadingsPerDevice))
    }
}
