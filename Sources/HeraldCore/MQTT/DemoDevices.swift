/// The retained descriptions `herald demo` publishes, shaped as the real projects publish them:
/// Zigbee2MQTT's bridge/devices (https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html)
/// and ESPHome's Home Assistant discovery configs (https://esphome.io/components/mqtt.html).
enum DemoDevices {
    static let zigbeeDevices = """
        [{"friendly_name":"Coordinator","ieee_address":"0x00124b00120144ae","type":"Coordinator","network_address":0,"supported":true,"disabled":false,"interview_completed":true},\
        {"friendly_name":"living_room/climate","ieee_address":"0x0017880104e45522","type":"EndDevice","network_address":6539,"supported":true,"power_source":"Battery",\
        "definition":{"model":"WSDCGQ11LM","vendor":"Aqara","description":"Temperature and humidity sensor","supports_ota":false,"exposes":[\
        {"access":1,"label":"Temperature","name":"temperature","property":"temperature","type":"numeric","unit":"°C"},\
        {"access":1,"label":"Humidity","name":"humidity","property":"humidity","type":"numeric","unit":"%"},\
        {"access":1,"label":"Pressure","name":"pressure","property":"pressure","type":"numeric","unit":"hPa"},\
        {"access":1,"category":"diagnostic","label":"Battery","name":"battery","property":"battery","type":"numeric","unit":"%"},\
        {"access":1,"category":"diagnostic","label":"Voltage","name":"voltage","property":"voltage","type":"numeric","unit":"mV"},\
        {"access":1,"category":"diagnostic","label":"Linkquality","name":"linkquality","property":"linkquality","type":"numeric","unit":"lqi"}]}},\
        {"friendly_name":"front_door","ieee_address":"0x00158d0001e1a2b3","type":"EndDevice","network_address":1822,"supported":true,"power_source":"Battery",\
        "definition":{"model":"MCCGQ11LM","vendor":"Aqara","description":"Door and window sensor","supports_ota":false,"exposes":[\
        {"access":1,"description":"Indicates if the contact is closed (= true) or open (= false)","label":"Contact","name":"contact","property":"contact","type":"binary","value_on":false,"value_off":true},\
        {"access":1,"category":"diagnostic","label":"Battery","name":"battery","property":"battery","type":"numeric","unit":"%"},\
        {"access":1,"category":"diagnostic","label":"Linkquality","name":"linkquality","property":"linkquality","type":"numeric","unit":"lqi"}]}}]
        """

    /// ESPHome node `greenhouse`: one config per sensor, abbreviated keys as ESPHome sends them.
    static func greenhouseConfig(_ object: String, name: String, unit: String, deviceClass: String) -> String {
        """
        {"dev_cla":"\(deviceClass)","unit_of_meas":"\(unit)","stat_cla":"measurement","name":"\(name)",\
        "stat_t":"greenhouse/sensor/\(object)/state","avty_t":"greenhouse/status","uniq_id":"ESPsensor\(object)",\
        "dev":{"ids":"a4cf12ab34cd","name":"greenhouse","sw":"esphome v2024.10.0","mdl":"esp32dev","mf":"espressif"}}
        """
    }
}
