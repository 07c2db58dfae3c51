import Foundation

/// `herald demo`: a believable gateway, published over MQTT in the formats real devices use — a
/// Zigbee2MQTT climate sensor and door contact, a Tasmota plug, an ESPHome greenhouse node found
/// through Home Assistant discovery, an OctoPrint printer whose prints sometimes fail — plus the
/// a plain `sensors/…` feed that a user route takes.
public struct DemoFeed: Sendable {
    let host: String
    let port: Int
    let interval: Double

    public init(host: String, port: Int, interval: Double = 1) {
        self.host = host
        self.port = port
        self.interval = interval
    }

    struct Print {
        var file: String
        var progress = 0.0
        var speed: Double
        var failsAt: Double?
    }

    public func run(for duration: Double? = nil) async throws {
        var options = MosquittoOptions(host: host, port: port, clientID: "herald-demo-\(getpid())")
        options.cleanSession = true
        // Connected first: the retained announcements must reach the broker.
        let client = try await MosquittoClient.connected(options: options, handlers: MosquittoHandlers(), timeout: .seconds(30))
        defer { client.stop() }
        print("herald demo: publishing to mqtt://\(host):\(port) every \(interval) s (Ctrl-C to stop)")
        announce(client)

        var temperature = 26.0, humidity = 60.0, power = 900.0, doorClosed = true, doorOnline = true
        var printer: Print?
        var prints = 0
        var tick = 0
        let started = Date()
        while !Task.isCancelled {
            if let duration, Date().timeIntervalSince(started) > duration { break }
            // A slow sine plus noise, so the greenhouse overheats for a while every few minutes.
            temperature = 27 + 4.5 * sin(Double(tick) / 40) + Double.random(in: -0.4...0.4)
            humidity = min(95, max(30, humidity + Double.random(in: -1.5...1.5)))
            // A random walk pulled back towards 900 W, with now and then a kettle's worth on top.
            power = max(120, power + Double.random(in: -80...80) - (power - 900) * 0.05 + (Int.random(in: 0..<30) == 0 ? 1800 : 0))

            publish(client, "greenhouse/sensor/temperature/state", "\(round1(temperature))")
            publish(client, "greenhouse/sensor/humidity/state", "\(round1(humidity))")
            let indoor = round1(21 + 1.5 * sin(Double(tick) / 90) + Double.random(in: -0.2...0.2))
            publish(client, "zigbee2mqtt/living_room/climate",
                    "{\"battery\":97,\"humidity\":\(round1(humidity - 15)),\"linkquality\":\(Int.random(in: 90...140)),\"pressure\":1012.4,\"temperature\":\(indoor),\"voltage\":2995}")
            publish(client, "tele/tasmota_5C3A1F/SENSOR",
                    "{\"Time\":\"\(Self.localTime())\",\"ENERGY\":{\"TotalStartTime\":\"2026-11-01T00:00:00\",\"Total\":\(round1(120 + Double(tick) * power / 3_600_000)),\"Yesterday\":5.340,\"Today\":0.954,\"Power\":\(Int(power)),\"ApparentPower\":\(Int(power * 1.02)),\"ReactivePower\":\(Int(power * 0.1)),\"Factor\":0.98,\"Voltage\":\(Int.random(in: 228...233)),\"Current\":\(round1(power / 230))}}")
            publish(client, "sensors/house/power", "{\"value\":\(Int(power)),\"unit\":\"W\"}")
            if tick % 10 == 0 {
                publish(client, "tele/tasmota_5C3A1F/STATE",
                        "{\"Time\":\"\(Self.localTime())\",\"UptimeSec\":\(tick),\"POWER\":\"ON\",\"Wifi\":{\"AP\":1,\"SSId\":\"gateway\",\"RSSI\":\(Int.random(in: 70...90)),\"Signal\":-\(Int.random(in: 55...65))}}")
            }
            if tick % 7 == 0 && Int.random(in: 0..<3) == 0 {
                doorClosed.toggle()
                publish(client, "zigbee2mqtt/front_door", "{\"battery\":91,\"contact\":\(doorClosed),\"linkquality\":87}")
            }
            // Now and then the door sensor drops off the network for a while.
            if tick % 45 == 44 || (!doorOnline && tick % 15 == 0) {
                doorOnline.toggle()
                publish(client, "zigbee2mqtt/front_door/availability", "{\"state\":\"\(doorOnline ? "online" : "offline")\"}", retain: true)
            }
            printer = step(printer, client: client, prints: &prints, tick: tick)
            tick += 1
            try await Task.sleep(for: .milliseconds(Int(interval * 1000)))
        }
    }

    /// Retained, as the projects publish them: descriptions, discovery configs, availability.
    private func announce(_ client: MosquittoClient) {
        publish(client, "zigbee2mqtt/bridge/state", "{\"state\":\"online\"}", retain: true)
        publish(client, "zigbee2mqtt/bridge/devices", DemoDevices.zigbeeDevices, retain: true)
        for name in ["living_room/climate", "front_door"] {
            publish(client, "zigbee2mqtt/\(name)/availability", "{\"state\":\"online\"}", retain: true)
        }
        publish(client, "homeassistant/sensor/greenhouse/temperature/config",
                DemoDevices.greenhouseConfig("temperature", name: "Temperature", unit: "°C", deviceClass: "temperature"), retain: true)
        publish(client, "homeassistant/sensor/greenhouse/humidity/config",
                DemoDevices.greenhouseConfig("humidity", name: "Humidity", unit: "%", deviceClass: "humidity"), retain: true)
        publish(client, "greenhouse/status", "online", retain: true)
        publish(client, "tele/tasmota_5C3A1F/LWT", "Online", retain: true)
        publish(client, "tele/tasmota_5C3A1F/INFO1", "{\"Info1\":{\"Module\":\"Sonoff Pow R2\",\"Version\":\"13.2.0(tasmota)\"}}")
        publish(client, "octoPrint/mqtt", "connected", retain: true)
    }

    /// An OctoPrint print: started, progress every tick, done — or one in four fails part-way.
    private func step(_ current: Print?, client: MosquittoClient, prints: inout Int, tick: Int) -> Print? {
        guard var print = current else {
            guard tick % 15 == 3 else { return nil }
            prints += 1
            let file = ["benchy.gcode", "calibration_cube.gcode", "vase_mode.gcode"][prints % 3]
            let next = Print(file: file, speed: Double.random(in: 1.5...3.5), failsAt: Int.random(in: 0..<4) == 0 ? Double.random(in: 20...80) : nil)
            publish(client, "octoPrint/event/PrintStarted", "{\"name\":\"\(file)\",\"path\":\"\(file)\",\"origin\":\"local\",\"size\":242038,\"_event\":\"PrintStarted\",\"_timestamp\":\(Int(Date().timeIntervalSince1970))}")
            return next
        }
        print.progress = min(100, print.progress + print.speed * Double.random(in: 0.5...1.5))
        let timestamp = Int(Date().timeIntervalSince1970)
        if let failsAt = print.failsAt, print.progress >= failsAt {
            publish(client, "octoPrint/event/PrintFailed", "{\"name\":\"\(print.file)\",\"path\":\"\(print.file)\",\"origin\":\"local\",\"time\":\(Int(print.progress * 6)),\"reason\":\"error\",\"_event\":\"PrintFailed\",\"_timestamp\":\(timestamp)}")
            return nil
        }
        let left = Int((100 - print.progress) / print.speed * interval)
        publish(client, "octoPrint/progress/printing", "{\"progress\":\(Int(print.progress)),\"path\":\"\(print.file)\",\"location\":\"local\",\"printer_data\":{\"progress\":{\"completion\":\(round1(print.progress)),\"printTimeLeft\":\(left)},\"job\":{\"file\":{\"name\":\"\(print.file)\"}}},\"_timestamp\":\(timestamp)}", retain: true)
        publish(client, "octoPrint/temperature/tool0", "{\"actual\":\(round1(210 + Double.random(in: -1...1))),\"target\":210.0,\"_timestamp\":\(timestamp)}")
        guard print.progress >= 100 else { return print }
        publish(client, "octoPrint/event/PrintDone", "{\"name\":\"\(print.file)\",\"path\":\"\(print.file)\",\"origin\":\"local\",\"time\":600.5,\"_event\":\"PrintDone\",\"_timestamp\":\(timestamp)}")
        return nil
    }

    /// Tasmota's `Time`: local time without a zone.
    static func localTime() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        return formatter.string(from: Date())
    }

    private func publish(_ client: MosquittoClient, _ topic: String, _ payload: String, retain: Bool = false) {
        do {
            try client.publish(topic: topic, payload: Array(payload.utf8), qos: 1, retain: retain)
        } catch {
            print("herald demo: publish to \(topic) failed: \(error)")
        }
    }

    private func round1(_ value: Double) -> Double { (value * 10).rounded() / 10 }
}
