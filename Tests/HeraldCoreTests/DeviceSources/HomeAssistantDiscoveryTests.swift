import Testing
@testable import HeraldCore

/// Configs as https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery shows them (the
/// abbreviated and `~` examples), and as ESPHome announces a node
/// (https://esphome.io/components/mqtt.html#mqtt-discovery).
@Suite struct HomeAssistantDiscoveryTests {
    static let esphomeTemperature = """
        {"dev_cla":"temperature","unit_of_meas":"°C","stat_cla":"measurement","name":"Living Room Temperature",
         "stat_t":"livingroom/sensor/living_room_temperature/state","avty_t":"livingroom/status",
         "uniq_id":"ESPsensorliving_room_temperature","dev":{"ids":"a4cf12ab34cd","name":"livingroom","sw":"esphome v2024.10.0",
         "mdl":"esp32dev","mf":"espressif"}}
        """

    @Test func anESPHomeSensorWithAbbreviatedKeys() throws {
        let harness = SourceHarness()
        let config = try #require(harness.feed("homeassistant/sensor/livingroom/living_room_temperature/config", Self.esphomeTemperature, retain: true))
        #expect(config.subscribe == ["livingroom/sensor/living_room_temperature/state", "livingroom/status"])
        #expect(SourceHarness.types(config) == ["device"])
        let device = try #require(harness.sources.catalog["homeassistant/livingroom"]?.description)
        #expect(device.model == "esp32dev" && device.vendor == "espressif")
        #expect(device.readings["living_room_temperature"] == ReadingSpec(unit: "°C", deviceClass: "temperature"))
        #expect(config.effects.contains(.remember(source: "homeassistant", name: "homeassistant/sensor/livingroom/living_room_temperature/config",
                                                  value: Self.esphomeTemperature)))
        #expect(SourceHarness.readings(harness.feed("livingroom/sensor/living_room_temperature/state", "21.5"))
                == ["homeassistant/livingroom/living_room_temperature": #"{"value":21.5,"unit":"°C"}"#])
        #expect(harness.feed("livingroom/status", "offline", retain: true)?.drafts.last?.data == #"{"availability":"offline"}"#)
        #expect(harness.feed("livingroom/status", "online", retain: true)?.drafts.last?.data == #"{"availability":"online"}"#)
        // The same config again (a retained copy on resubscribe) changes nothing.
        #expect(harness.feed("homeassistant/sensor/livingroom/living_room_temperature/config", Self.esphomeTemperature)?.drafts.isEmpty == true)
    }

    /// The docs' example with `~`: `"~": "homeassistant/light/kitchen"`, `"stat_t": "~/state"`.
    @Test func theBaseTopicAndAvailabilityLists() throws {
        let harness = SourceHarness()
        let config = #"{"~":"homeassistant/binary_sensor/garden","name":"Garden door","dev_cla":"door","stat_t":"~/state","pl_on":"OPEN","pl_off":"SHUT","avty":[{"t":"~/avail","pl_avail":"up","pl_not_avail":"down"},{"topic":"bridge/status"}],"dev":{"ids":["garden-door-1"],"name":"Garden door","mf":"Acme","mdl":"D1"}}"#
        let outcome = try #require(harness.feed("homeassistant/binary_sensor/garden/config", config, retain: true))
        #expect(outcome.subscribe == ["homeassistant/binary_sensor/garden/state", "homeassistant/binary_sensor/garden/avail", "bridge/status"])
        #expect(harness.sources.catalog["homeassistant/garden-door-1"]?.description.name == "Garden door")
        // The state is under the discovery prefix too, and it is a state, not a config.
        #expect(SourceHarness.readings(harness.feed("homeassistant/binary_sensor/garden/state", "OPEN"))
                == ["homeassistant/garden-door-1/garden": #"{"value":true,"text":"open"}"#])
        #expect(SourceHarness.readings(harness.feed("homeassistant/binary_sensor/garden/state", "SHUT"))
                == ["homeassistant/garden-door-1/garden": #"{"value":false,"text":"closed"}"#])
        #expect(harness.feed("homeassistant/binary_sensor/garden/avail", "down")?.drafts.last?.data == #"{"availability":"offline"}"#)
        #expect(harness.feed("bridge/status", "online")?.drafts.last?.data == #"{"availability":"online"}"#)
    }

    @Test func valueTemplatesDevicesReallySend() throws {
        let payload = Array(#"{"AM2301":{"Temperature":"24.56","Humidity":58.2},"list":[7,8],"Time":"2019-01-01T00:00:00"}"#.utf8)
        #expect(try ValueTemplate("{{ value_json.AM2301.Humidity }}").apply(to: payload) == "58.2")
        #expect(try ValueTemplate("{{value_json['AM2301']['Temperature']}}").apply(to: payload) == "\"24.56\"")
        #expect(try ValueTemplate(#"{{ value_json["AM2301"].Temperature | float }}"#).apply(to: payload) == "24.56")
        #expect(try ValueTemplate("{{ value_json.AM2301.Temperature | float | round(1) }}").apply(to: payload) == "24.6")
        #expect(try ValueTemplate("{{ value_json.AM2301.Humidity | int }}").apply(to: payload) == "58")
        #expect(try ValueTemplate("{{ value_json.list[1] }}").apply(to: payload) == "8")
        #expect(try ValueTemplate("{{ value | float(0) }}").apply(to: Array(" 3.25 ".utf8)) == "3.25")
        #expect(try ValueTemplate("{{ value }}").apply(to: Array("ON".utf8)) == "\"ON\"")
        #expect(try ValueTemplate("{{ value_json.missing }}").apply(to: payload) == nil)
        // JSON's numbers, not Swift's: hex and nan stay text.
        #expect(try ValueTemplate("{{ value }}").apply(to: Array("0x1A".utf8)) == "\"0x1A\"")
        #expect(try ValueTemplate("{{ value }}").apply(to: Array("nan".utf8)) == "\"nan\"")
        for unsupported in ["{{ value_json.x * 10 }}", "{% if value %}1{% endif %}", "{{ states('sensor.x') }}", "value", "{{ value | timestamp_local }}"] {
            #expect(throws: ValueTemplate.Unsupported.self) { try ValueTemplate(unsupported) }
        }
    }

    /// Tasmota's legacy discovery: several entities on one SENSOR topic, each with its template
    /// (with the Tasmota source off; on, it reads that feed itself, see below).
    @Test func sharedStateTopicsAndUnsupportedTemplates() throws {
        var config = SourcesConfig()
        config.tasmota = nil
        let harness = SourceHarness(config)
        harness.feed("homeassistant/sensor/A1B2C3_AM2301_Temperature/config",
                     #"{"name":"Tasmota AM2301 Temperature","stat_t":"tele/tasmota_A1B2C3/SENSOR","avty_t":"tele/tasmota_A1B2C3/LWT","pl_avail":"Online","pl_not_avail":"Offline","uniq_id":"A1B2C3_AM2301_Temperature","dev":{"ids":["A1B2C3"]},"unit_of_meas":"°C","dev_cla":"temperature","val_tpl":"{{value_json['AM2301'].Temperature}}"}"#)
        let odd = try #require(harness.feed("homeassistant/sensor/A1B2C3_AM2301_Humidity/config",
                     #"{"name":"Tasmota AM2301 Humidity","stat_t":"tele/tasmota_A1B2C3/SENSOR","uniq_id":"A1B2C3_AM2301_Humidity","dev":{"ids":["A1B2C3"]},"unit_of_meas":"%","val_tpl":"{{ value_json.AM2301.Humidity * 1.0 }}"}"#))
        #expect(odd.warnings.count == 1)
        let readings = SourceHarness.readings(harness.feed("tele/tasmota_A1B2C3/SENSOR", #"{"Time":"2019-01-01T00:00:00","AM2301":{"Temperature":24.6,"Humidity":58.2},"TempUnit":"C"}"#))
        #expect(readings["homeassistant/A1B2C3/A1B2C3_AM2301_Temperature"] == #"{"value":24.6,"unit":"°C"}"#)
        // Not evaluated: the payload is kept as it came.
        #expect(readings["homeassistant/A1B2C3/A1B2C3_AM2301_Humidity"]?.hasPrefix(#"{"value":{"Time":"#) == true)
        #expect(harness.feed("tele/tasmota_A1B2C3/LWT", "Offline")?.drafts.last?.data == #"{"availability":"offline"}"#)
    }

    /// Zigbee2MQTT's own discovery configs name its state topics: the Zigbee2MQTT source reads
    /// those in full (units from bridge/devices, OTA jobs), so discovery leaves them alone.
    @Test func configsForAnotherSourcesFeedAreLeftToIt() throws {
        let harness = SourceHarness()
        let config = #"{"name":"Temperature","stat_t":"zigbee2mqtt/living_room/climate","val_tpl":"{{ value_json.temperature }}","unit_of_meas":"°C","dev_cla":"temperature","avty_t":"zigbee2mqtt/bridge/state","dev":{"ids":["zigbee2mqtt_0x0017880104e45522"],"name":"living_room/climate"}}"#
        let outcome = try #require(harness.feed("homeassistant/sensor/0x0017880104e45522/temperature/config", config, retain: true))
        #expect(outcome.ignored != nil && outcome.subscribe.isEmpty && outcome.drafts.isEmpty)
        #expect(SourceHarness.readings(harness.feed("zigbee2mqtt/living_room/climate", #"{"temperature":21.4}"#)).keys.first
                == "zigbee2mqtt/living_room/climate/temperature")
        // Stateless components (a device trigger) are no entities to follow.
        #expect(harness.feed("homeassistant/device_automation/0x00158d/action_single/config",
                             #"{"atype":"trigger","t":"zigbee2mqtt/switch/action","p":"single","type":"action","subtype":"single"}"#)?.ignored != nil)
    }

    /// ESPHome republishes its configs after a firmware update (a new `sw`): the state topic stays followed.
    @Test func aChangedConfigKeepsItsTopicsFollowed() throws {
        let harness = SourceHarness()
        let topic = "homeassistant/sensor/livingroom/living_room_temperature/config"
        harness.feed(topic, Self.esphomeTemperature, retain: true)
        let changed = try #require(harness.feed(topic, Self.esphomeTemperature.replacingOccurrences(of: "esphome v2024.10.0", with: "esphome v2025.1.0"), retain: true))
        #expect(changed.unsubscribe.isEmpty && changed.subscribe.isEmpty)
        let moved = try #require(harness.feed(topic, Self.esphomeTemperature.replacingOccurrences(of: "livingroom/status", with: "livingroom/availability")))
        #expect(moved.unsubscribe == ["livingroom/status"] && moved.subscribe == ["livingroom/availability"])
        #expect(SourceHarness.readings(harness.feed("livingroom/sensor/living_room_temperature/state", "22")).count == 1)
    }

    @Test func anEmptyRetainedConfigRemovesTheEntity() throws {
        let harness = SourceHarness()
        let topic = "homeassistant/sensor/livingroom/living_room_temperature/config"
        harness.feed(topic, Self.esphomeTemperature, retain: true)
        let removal = try #require(harness.feed(topic, "", retain: true))
        #expect(removal.unsubscribe == ["livingroom/sensor/living_room_temperature/state", "livingroom/status"])
        #expect(removal.effects.contains(.remember(source: "homeassistant", name: topic, value: nil)))
        #expect(harness.sources.catalog["homeassistant/livingroom"]?.description.readings.isEmpty == true)
        #expect(harness.feed("livingroom/sensor/living_room_temperature/state", "21.5") == nil)
    }

    @Test func badConfigsAreProblems() {
        let harness = SourceHarness()
        #expect(harness.feed("homeassistant/sensor/x/config", "{oops")?.problem?.contains("not a JSON object") == true)
        #expect(harness.feed("homeassistant/sensor/x/config", #"{"stat_t":"devices/+/state"}"#)?.problem?.contains("wildcard") == true)
        #expect(harness.feed("homeassistant/sensor/x/config", #"{"name":"no state"}"#)?.problem != nil)
        #expect(harness.feed("homeassistant/status", "online")?.ignored != nil)
    }

    @Test func aRestartRestoresTheConfigsFromMemory() {
        var source = HomeAssistantSource()
        source.restore(["homeassistant/sensor/livingroom/living_room_temperature/config": Self.esphomeTemperature])
        #expect(Set(source.extraTopics) == ["livingroom/sensor/living_room_temperature/state", "livingroom/status"])
        let observations = source.interpret(SourceMessage(topic: "livingroom/sensor/living_room_temperature/state", payload: Array("20".utf8), retain: false),
                                            known: DeviceCatalog())
        #expect(observations == [.reading(device: "livingroom", name: "living_room_temperature", value: "20",
                                          spec: ReadingSpec(unit: "°C", deviceClass: "temperature"))])
    }
}
