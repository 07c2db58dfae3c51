import Testing
@testable import HeraldCore

/// Payloads as https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html and
/// https://www.zigbee2mqtt.io/guide/usage/exposes.html show them (zigbee2mqtt.io docs).
@Suite struct Zigbee2MQTTTests {
    static let bridgeDevices = """
        [{"friendly_name":"Coordinator","ieee_address":"0x00124b00120144ae","type":"Coordinator","network_address":0,"supported":true,
          "disabled":false,"interview_completed":true,"interview_state":"SUCCESSFUL","interviewing":false},
         {"definition":{"source":"native","description":"Temperature and humidity sensor","model":"WSDCGQ11LM","vendor":"Aqara",
           "supports_ota":false,"exposes":[
             {"access":1,"category":"diagnostic","label":"Battery","name":"battery","property":"battery","type":"numeric","unit":"%","value_max":100,"value_min":0},
             {"access":1,"label":"Temperature","name":"temperature","property":"temperature","type":"numeric","unit":"°C"},
             {"access":1,"label":"Humidity","name":"humidity","property":"humidity","type":"numeric","unit":"%"},
             {"access":1,"label":"Pressure","name":"pressure","property":"pressure","type":"numeric","unit":"hPa"},
             {"access":1,"category":"diagnostic","label":"Voltage","name":"voltage","property":"voltage","type":"numeric","unit":"mV"},
             {"access":1,"category":"diagnostic","label":"Linkquality","name":"linkquality","property":"linkquality","type":"numeric","unit":"lqi"}]},
          "friendly_name":"living_room/climate","ieee_address":"0x0017880104e45522","type":"EndDevice","supported":true,"power_source":"Battery"},
         {"definition":{"model":"MCCGQ11LM","vendor":"Aqara","description":"Door and window sensor","exposes":[
             {"access":1,"description":"Indicates if the contact is closed (= true) or open (= false)","label":"Contact","name":"contact",
              "property":"contact","type":"binary","value_on":false,"value_off":true},
             {"access":1,"label":"Battery","name":"battery","property":"battery","type":"numeric","unit":"%"}]},
          "friendly_name":"front_door","ieee_address":"0x00158d0001e1a2b3","type":"EndDevice","supported":true},
         {"definition":{"model":"LED1545G12","vendor":"IKEA","description":"TRADFRI bulb E26/E27","supports_ota":true,"exposes":[
             {"type":"light","features":[
               {"access":7,"label":"State","name":"state","property":"state","type":"binary","value_off":"OFF","value_on":"ON","value_toggle":"TOGGLE"},
               {"access":7,"label":"Brightness","name":"brightness","property":"brightness","type":"numeric","value_max":254,"value_min":0},
               {"access":7,"label":"Color temp","name":"color_temp","property":"color_temp","type":"numeric","unit":"mired"},
               {"access":7,"label":"Color (X/Y)","name":"color_xy","property":"color","type":"composite","features":[
                 {"access":7,"name":"x","property":"x","type":"numeric"},{"access":7,"name":"y","property":"y","type":"numeric"}]}]},
             {"access":1,"category":"diagnostic","label":"Linkquality","name":"linkquality","property":"linkquality","type":"numeric","unit":"lqi"}]},
          "friendly_name":"bulb","ieee_address":"0x000b57fffec6a5b2","type":"Router","supported":true}]
        """

    @Test func bridgeDevicesDescribeDevicesWithUnitsButNotTheCoordinator() throws {
        let harness = SourceHarness()
        let outcome = try #require(harness.feed("zigbee2mqtt/bridge/devices", Self.bridgeDevices, retain: true))
        #expect(outcome.drafts.map(\.key) == ["zigbee2mqtt/living_room/climate", "zigbee2mqtt/front_door", "zigbee2mqtt/bulb"])
        #expect(Set(outcome.drafts.map(\.type)) == ["device"])
        let climate = try #require(harness.sources.catalog["zigbee2mqtt/living_room/climate"]?.description)
        #expect(climate.model == "WSDCGQ11LM" && climate.vendor == "Aqara")
        #expect(climate.readings["temperature"]?.unit == "°C" && climate.readings["voltage"]?.unit == "mV")
        let bulb = try #require(harness.sources.catalog["zigbee2mqtt/bulb"]?.description)
        // The light's features are readings; the composite colour is one object, not a reading.
        #expect(Set(bulb.readings.keys) == ["state", "brightness", "color_temp", "linkquality"])
        #expect(harness.sources.catalog["zigbee2mqtt/front_door"]?.description.readings["contact"]?.whenTrue == "closed")
        // Unchanged on the next retained copy: nothing to store.
        #expect(harness.feed("zigbee2mqtt/bridge/devices", Self.bridgeDevices, retain: true)?.drafts.isEmpty == true)
    }

    @Test func stateBecomesOneReadingPerPropertyWithTheUnitFromBridgeDevices() throws {
        let harness = SourceHarness()
        harness.feed("zigbee2mqtt/bridge/devices", Self.bridgeDevices)
        let outcome = harness.feed("zigbee2mqtt/living_room/climate",
                                   #"{"battery":97,"humidity":44.7,"linkquality":120,"pressure":1012.4,"temperature":21.4,"voltage":2995}"#)
        let readings = SourceHarness.readings(outcome)
        #expect(readings["zigbee2mqtt/living_room/climate/temperature"] == #"{"value":21.4,"unit":"°C"}"#)
        #expect(readings["zigbee2mqtt/living_room/climate/battery"] == #"{"value":97,"unit":"%"}"#)
        #expect(readings.count == 6)
        #expect(outcome?.drafts.allSatisfy { $0.channel == "sensors" } == true)
        let door = SourceHarness.readings(harness.feed("zigbee2mqtt/front_door", #"{"battery":91,"contact":false,"linkquality":87}"#))
        #expect(door["zigbee2mqtt/front_door/contact"] == #"{"value":false,"text":"open"}"#)
    }

    @Test func objectsListsAndLastSeenAreNoReadings() {
        let harness = SourceHarness()
        harness.feed("zigbee2mqtt/bridge/devices", Self.bridgeDevices)
        let readings = SourceHarness.readings(harness.feed("zigbee2mqtt/bulb",
            #"{"state":"ON","brightness":215,"color_temp":325,"color":{"x":0.46,"y":0.41},"last_seen":"2026-12-01T10:00:00Z"}"#))
        #expect(Set(readings.keys) == ["zigbee2mqtt/bulb/state", "zigbee2mqtt/bulb/brightness", "zigbee2mqtt/bulb/color_temp"])
        #expect(readings["zigbee2mqtt/bulb/color_temp"] == #"{"value":325,"unit":"mired"}"#)
    }

    @Test func availabilityInBothFormsAndFriendlyNamesWithSlashes() throws {
        let harness = SourceHarness()
        harness.feed("zigbee2mqtt/bridge/devices", Self.bridgeDevices)
        let legacy = try #require(harness.feed("zigbee2mqtt/living_room/climate/availability", "online", retain: true))
        #expect(legacy.drafts.map(\.type) == ["availability"])
        #expect(legacy.drafts[0].key == "zigbee2mqtt/living_room/climate")
        #expect(legacy.drafts[0].data == #"{"availability":"online"}"#)
        let json = harness.feed("zigbee2mqtt/living_room/climate/availability", #"{"state":"offline"}"#, retain: true)
        #expect(json?.drafts.first?.data == #"{"availability":"offline"}"#)
        #expect(json?.effects == [.availability(deviceId: "zigbee2mqtt/living_room/climate", .offline)])
        // The same again changes nothing.
        #expect(harness.feed("zigbee2mqtt/living_room/climate/availability", #"{"state":"offline"}"#)?.drafts.isEmpty == true)
        // Commands are not state; a device unknown until now is still a device.
        #expect(harness.feed("zigbee2mqtt/bulb/set", #"{"state":"OFF"}"#)?.ignored != nil)
        #expect(harness.feed("zigbee2mqtt/kitchen/floor_light/set/brightness", "100")?.ignored != nil)
        let newcomer = harness.feed("zigbee2mqtt/garden/pump", #"{"state":"ON"}"#)
        #expect(SourceHarness.types(newcomer) == ["device", "reading"])
        #expect(SourceHarness.readings(newcomer)["zigbee2mqtt/garden/pump/state"] == #"{"value":"ON"}"#)
    }

    @Test func bridgeStateAndOtherBridgeTopics() {
        let harness = SourceHarness()
        #expect(SourceHarness.types(harness.feed("zigbee2mqtt/bridge/state", #"{"state":"online"}"#)) == ["device", "availability"])
        #expect(SourceHarness.types(harness.feed("zigbee2mqtt/bridge/state", "offline")) == ["availability"])
        #expect(harness.feed("zigbee2mqtt/bridge/logging", #"{"level":"info","message":"MQTT publish"}"#)?.ignored != nil)
    }

    @Test func malformedPayloadsAreProblemsNotCrashes() {
        let harness = SourceHarness()
        #expect(harness.feed("zigbee2mqtt/bridge/devices", "{not json")?.problem != nil)
        #expect(harness.feed("zigbee2mqtt/bulb", "ON")?.problem != nil)
        #expect(harness.feed("zigbee2mqtt/bulb", "[1,2]")?.problem != nil)
        #expect(harness.feed("zigbee2mqtt/bulb/availability", "maybe")?.problem != nil)
        #expect(harness.feed("zigbee2mqtt/bulb", "")?.problem != nil)
    }

    /// https://www.zigbee2mqtt.io/guide/usage/ota_updates.html
    @Test func anOTAUpdateIsAJob() throws {
        let harness = SourceHarness()
        harness.feed("zigbee2mqtt/bridge/devices", Self.bridgeDevices)
        #expect(SourceHarness.jobs(harness.feed("zigbee2mqtt/bulb", #"{"state":"ON","update":{"state":"available"}}"#)).isEmpty)
        let running = SourceHarness.jobs(harness.feed("zigbee2mqtt/bulb", #"{"state":"ON","update":{"state":"updating","progress":13.37,"remaining":219}}"#))
        #expect(running.map(\.key) == ["zigbee2mqtt/bulb/update"])
        #expect(running.first?.data == #"{"state":"running","progress":13.37,"message":"updating firmware","name":"bulb","remaining_seconds":219}"#)
        let done = SourceHarness.jobs(harness.feed("zigbee2mqtt/bulb", #"{"state":"ON","update":{"state":"idle","installed_version":90,"latest_version":90}}"#))
        #expect(done.first?.data.contains(#""state":"succeeded""#) == true)
        // Idle again is no new job.
        #expect(SourceHarness.jobs(harness.feed("zigbee2mqtt/bulb", #"{"update":{"state":"idle"}}"#)).isEmpty)
        harness.feed("zigbee2mqtt/bulb", #"{"update":{"state":"updating","progress":50}}"#)
        let failed = SourceHarness.jobs(harness.feed("zigbee2mqtt/bulb", #"{"update":{"state":"available"}}"#))
        #expect(failed.first?.data.contains(#""state":"failed""#) == true)
    }

    @Test func aRebasedSourceAndLimits() throws {
        var config = SourcesConfig()
        config.zigbee2mqtt?.baseTopic = "z2m"
        config.maxDevices = 2
        let harness = SourceHarness(config)
        #expect(harness.feed("zigbee2mqtt/a", #"{"x":1}"#) == nil)
        #expect(SourceHarness.types(harness.feed("z2m/a", #"{"x":1}"#)) == ["device", "reading"])
        #expect(SourceHarness.types(harness.feed("z2m/b", #"{"x":1}"#)) == ["device", "reading"])
        #expect(harness.feed("z2m/c", #"{"x":1}"#)?.problem?.contains("limit") == true)
        #expect(SourceHarness.types(harness.feed("z2m/a", #"{"x":2}"#)) == ["reading"])
        // Within one bridge/devices: the known devices are still described, the third one refused alone.
        let devices = #"[{"friendly_name":"a","definition":{"model":"M1","exposes":[]}},{"friendly_name":"b"},{"friendly_name":"d","definition":{"model":"M3"}}]"#
        let outcome = try #require(harness.feed("z2m/bridge/devices", devices))
        #expect(outcome.problem == nil && outcome.warnings.count == 1)
        #expect(harness.sources.catalog["zigbee2mqtt/a"]?.description.model == "M1")
        #expect(harness.sources.catalog["zigbee2mqtt/d"] == nil && harness.sources.catalog.count(of: "zigbee2mqtt") == 2)
    }
}
