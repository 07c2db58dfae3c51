import Testing
@testable import HeraldCore

/// Payloads as tasmota/docs shows them: docs/MQTT.md (topics, LWT, POWER, RESULT),
/// docs/AM2301.md, docs/DS18x20.md, docs/BME280.md, docs/devices/Sonoff-Pow-R2.md (ENERGY),
/// docs/DeepSleep.md (STATE).
@Suite struct TasmotaTests {
    @Test func sensorObjectsBecomeReadingsWithDocumentedUnits() {
        let harness = SourceHarness()
        let am2301 = SourceHarness.readings(harness.feed("tele/tasmota_A1B2C3/SENSOR",
            #"{"Time": "2019-01-01T00:00:00", "AM2301": {"Temperature": 24.6, "Humidity": 58.2}, "TempUnit": "C"}"#))
        #expect(am2301 == ["tasmota/tasmota_A1B2C3/am2301_temperature": #"{"value":24.6,"unit":"°C"}"#,
                           "tasmota/tasmota_A1B2C3/am2301_humidity": #"{"value":58.2,"unit":"%"}"#])
        let ds18b20 = SourceHarness.readings(harness.feed("tele/pool/SENSOR",
            #"{"Time":"2021-01-02T09:09:44","DS18B20-1":{"Id":"00000566CC39","Temperature":13.3},"DS18B20-2":{"Id":"0000059352D4","Temperature":1.2},"TempUnit":"F"}"#))
        #expect(ds18b20 == ["tasmota/pool/ds18b20_1_temperature": #"{"value":13.3,"unit":"°F"}"#,
                            "tasmota/pool/ds18b20_2_temperature": #"{"value":1.2,"unit":"°F"}"#])
        let bme = SourceHarness.readings(harness.feed("tele/attic/SENSOR",
            #"{"Time": "2019-11-03T19:34:28", "BME280": {"Temperature": 21.7, "Humidity": 66.6, "Pressure": 988.6}, "PressureUnit": "mmHg", "TempUnit": "C"}"#))
        #expect(bme["tasmota/attic/bme280_pressure"] == #"{"value":988.6,"unit":"mmHg"}"#)
    }

    @Test func energyReadingsOfAPlug() {
        let harness = SourceHarness()
        let energy = SourceHarness.readings(harness.feed("tele/pow1/SENSOR",
            #"{"Time":"2018-02-15T17:37:10","ENERGY":{"TotalStartTime":"2018-11-14T18:39:40","Total":6.294,"Yesterday":5.340,"Today":0.954,"Period":217,"Power":2635,"ApparentPower":2650,"ReactivePower":282,"Factor":0.99,"Voltage":227,"Current":11.661}}"#))
        #expect(energy["tasmota/pow1/power"] == #"{"value":2635,"unit":"W"}"#)
        #expect(energy["tasmota/pow1/total"] == #"{"value":6.294,"unit":"kWh"}"#)
        #expect(energy["tasmota/pow1/apparent_power"] == #"{"value":2650,"unit":"VA"}"#)
        #expect(energy["tasmota/pow1/factor"] == #"{"value":0.99}"#)
        #expect(energy["tasmota/pow1/total_start_time"] == nil)
        let phases = SourceHarness.readings(harness.feed("tele/meter/SENSOR", #"{"ENERGY":{"Current":[1.320,2.100]}}"#))
        #expect(phases == ["tasmota/meter/current_1": #"{"value":1.320,"unit":"A"}"#, "tasmota/meter/current_2": #"{"value":2.100,"unit":"A"}"#])
    }

    @Test func lwtPowerAndState() {
        let harness = SourceHarness()
        #expect(harness.feed("tele/plug/LWT", "Online", retain: true)?.drafts.last?.data == #"{"availability":"online"}"#)
        #expect(harness.feed("tele/plug/LWT", "Offline", retain: true)?.drafts.last?.data == #"{"availability":"offline"}"#)
        #expect(SourceHarness.readings(harness.feed("stat/plug/POWER", "ON")) == ["tasmota/plug/relay": #"{"value":"ON"}"#])
        // docs/MQTT.md: one toggle answers on RESULT and on POWER; the relay is read once, from POWER.
        #expect(harness.feed("stat/wemos2/RESULT", #"{"POWER2":"ON"}"#)?.drafts.isEmpty == true)
        #expect(SourceHarness.readings(harness.feed("stat/wemos2/POWER2", "ON")) == ["tasmota/wemos2/relay2": #"{"value":"ON"}"#])
        #expect(harness.feed("stat/plug/RESULT", #"{"Dimmer":40}"#)?.ignored != nil)
        let state = SourceHarness.readings(harness.feed("tele/plug/STATE",
            #"{"Time":"2021-06-27T15:03:44+02:00","Uptime":"0T00:00:13","UptimeSec":13,"Heap":28,"SleepMode":"Dynamic","Sleep":50,"LoadAvg":19,"MqttCount":1,"POWER":"ON","Wifi":{"AP":1,"SSId":"DEMOAP","BSSId":"XX:XX:XX:XX:XX:XX","Channel":1,"Mode":"11n","RSSI":86,"Signal":-57,"LinkCount":1,"Downtime":"0T00:00:07"}}"#))
        #expect(state["tasmota/plug/relay"] == #"{"value":"ON"}"#)
        #expect(state["tasmota/plug/wifi_quality"] == #"{"value":86,"unit":"%"}"#)
        #expect(state["tasmota/plug/wifi_signal"] == #"{"value":-57,"unit":"dBm"}"#)
        #expect(state["tasmota/plug/uptime"] == #"{"value":13,"unit":"s"}"#)
    }

    @Test func aCustomFullTopic() {
        var config = SourcesConfig()
        config.tasmota?.fullTopic = "emoncms/ch2i/factory/%topic%/%prefix%/"
        let harness = SourceHarness(config)
        #expect(TasmotaSource(fullTopic: "emoncms/ch2i/factory/%topic%/%prefix%/").filters
                == ["emoncms/ch2i/factory/+/tele/+", "emoncms/ch2i/factory/+/stat/+"])
        let readings = SourceHarness.readings(harness.feed("emoncms/ch2i/factory/denky_D6C0C0/tele/SENSOR", #"{"ENERGY":{"Power":12}}"#))
        #expect(readings == ["tasmota/denky_D6C0C0/power": #"{"value":12,"unit":"W"}"#])
        #expect(harness.feed("tele/plug/SENSOR", #"{"ENERGY":{"Power":12}}"#) == nil)
    }

    @Test func malformedPayloads() {
        let harness = SourceHarness()
        #expect(harness.feed("tele/plug/SENSOR", "not json")?.problem != nil)
        #expect(harness.feed("tele/plug/STATE", "[]")?.problem != nil)
        #expect(harness.feed("tele/plug/LWT", "Maybe")?.problem != nil)
        #expect(harness.feed("tele/plug/INFO2", #"{"Info2":{}}"#)?.ignored != nil)
    }
}
