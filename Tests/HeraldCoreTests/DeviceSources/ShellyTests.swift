import Testing
@testable import HeraldCore

/// Gen1: https://shelly-api-docs.shelly.cloud/gen1/#shelly1-shelly1pm-mqtt; Gen2+:
/// https://shelly-api-docs.shelly.cloud/gen2/General/RPCChannels#mqtt and
/// https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Switch#status.
@Suite struct ShellyTests {
    @Test func gen1RelayPowerEnergyTemperatureAndOnline() {
        let harness = SourceHarness()
        #expect(SourceHarness.readings(harness.feed("shellies/shelly1pm-84CCA8ADD055/relay/0", "on"))
                == ["shelly/shelly1pm-84CCA8ADD055/relay_0": #"{"value":"on"}"#])
        #expect(SourceHarness.readings(harness.feed("shellies/shelly1pm-84CCA8ADD055/relay/0/power", "34.56"))
                == ["shelly/shelly1pm-84CCA8ADD055/power_0": #"{"value":34.56,"unit":"W"}"#])
        // Watt-minutes, as Gen1 counts them, become Wh.
        #expect(SourceHarness.readings(harness.feed("shellies/shelly1pm-84CCA8ADD055/relay/0/energy", "6000"))
                == ["shelly/shelly1pm-84CCA8ADD055/energy_0": #"{"value":100,"unit":"Wh"}"#])
        #expect(SourceHarness.readings(harness.feed("shellies/shelly1pm-84CCA8ADD055/temperature", "41.2"))
                == ["shelly/shelly1pm-84CCA8ADD055/temperature": #"{"value":41.2,"unit":"°C"}"#])
        #expect(harness.feed("shellies/shelly1pm-84CCA8ADD055/online", "false", retain: true)?.drafts.last?.data
                == #"{"availability":"offline"}"#)
        let announce = harness.feed("shellies/shelly1pm-84CCA8ADD055/announce",
            #"{"id":"shelly1pm-84CCA8ADD055","model":"SHSW-PM","mac":"84CCA8ADD055","ip":"192.168.1.20","new_fw":false,"fw_ver":"20230913-112003/v1.14.0-gcb84623"}"#)
        #expect(harness.sources.catalog["shelly/shelly1pm-84CCA8ADD055"]?.description.model == "SHSW-PM")
        #expect(announce?.problem == nil)
        #expect(harness.feed("shellies/announce", #"{"id":"x"}"#)?.ignored != nil)
        #expect(harness.feed("shellies/shelly1pm-84CCA8ADD055/relay/0/power", "lots")?.problem != nil)
        #expect(harness.feed("shellies/shelly1pm-84CCA8ADD055/relay/0/power", "0x1A")?.problem != nil)
        // Flood and smoke sensors say true/false; the H&T's act_reasons is a list.
        #expect(SourceHarness.readings(harness.feed("shellies/shellyflood-A1B2C3/sensor/flood", "true"))
                == ["shelly/shellyflood-A1B2C3/flood": #"{"value":true}"#])
        #expect(harness.feed("shellies/shellyht-A1B2C3/sensor/act_reasons", #"["sensor"]"#)?.ignored != nil)
    }

    @Test func gen2SwitchStatusIsRecognisedByItsShape() {
        let harness = SourceHarness()
        let status = #"{"id":0,"source":"WS_in","output":true,"apower":8.9,"voltage":237.5,"current":0.069,"aenergy":{"total":6.532,"by_minute":[45.199,47.141,88.397],"minute_ts":1654511972},"temperature":{"tC":23.5,"tF":74.4}}"#
        let readings = SourceHarness.readings(harness.feed("shellyplus1pm-a8032ab12345/status/switch:0", status))
        #expect(readings == [
            "shelly/shellyplus1pm-a8032ab12345/switch0_output": #"{"value":true,"text":"on"}"#,
            "shelly/shellyplus1pm-a8032ab12345/switch0_power": #"{"value":8.9,"unit":"W"}"#,
            "shelly/shellyplus1pm-a8032ab12345/switch0_voltage": #"{"value":237.5,"unit":"V"}"#,
            "shelly/shellyplus1pm-a8032ab12345/switch0_current": #"{"value":0.069,"unit":"A"}"#,
            "shelly/shellyplus1pm-a8032ab12345/switch0_energy": #"{"value":6.532,"unit":"Wh"}"#,
            "shelly/shellyplus1pm-a8032ab12345/switch0_temperature": #"{"value":23.5,"unit":"°C"}"#,
        ])
        // An energy meter's em1 component (https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/EM1#status).
        let meter = SourceHarness.readings(harness.feed("shellypro3em-a8032ab1/status/em1:0",
            #"{"id":0,"current":2.43,"voltage":231.2,"act_power":520.8,"aprt_power":561.8,"pf":0.93,"freq":50,"calibration":"factory"}"#))
        #expect(meter["shelly/shellypro3em-a8032ab1/em1_0_power"] == #"{"value":520.8,"unit":"W"}"#)
        #expect(meter["shelly/shellypro3em-a8032ab1/em1_0_apparent_power"] == #"{"value":561.8,"unit":"VA"}"#)
        // A user-chosen prefix: the component's shape is what counts, and its online is then Shelly's.
        #expect(SourceHarness.readings(harness.feed("garage-plug/status/switch:0", #"{"id":0,"output":false,"apower":0}"#)).count == 2)
        #expect(harness.feed("garage-plug/online", "true")?.drafts.last?.data == #"{"availability":"online"}"#)
        #expect(harness.feed("shellyplus1pm-a8032ab12345/online", "false")?.drafts.last?.data == #"{"availability":"offline"}"#)
        // Somebody else's `online` and `status` topics are not Shelly's.
        #expect(harness.feed("printer/online", "true") == nil)
        #expect(harness.feed("esphome-node/status/uptime", "12") == nil)
        #expect(harness.feed("garage-plug/status/switch:0", "oops")?.problem != nil)
    }
}
