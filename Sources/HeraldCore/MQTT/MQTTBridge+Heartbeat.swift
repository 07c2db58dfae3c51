/// libmosquitto notices a silent broker only after two keepalives (a PINGREQ after one, then a whole
/// keepalive for the answer), and a frozen broker's kernel still acknowledges TCP. So Herald sends
/// itself a QoS 0 message every quarter keepalive and reports the broker down when none has come
/// back for a whole keepalive, so a frozen broker is reported within 1.5 keepalives; libmosquitto
/// still does the reconnecting.
extension MQTTBridge {
    func heartbeat(_ client: MosquittoClient) async {
        let keepalive = Int64(options.keepaliveSeconds) * 1000
        var lastSent: Int64 = 0
        while !Task.isCancelled {
            do { try await Task.sleep(for: .milliseconds(250)) } catch { return }
            guard broker.current.hasConnection else { continue }
            let now = Clock.nowMilliseconds()
            if now - lastSent >= keepalive / 4 {
                _ = try? client.publish(topic: heartbeatTopic, payload: [], qos: 0, retain: false)
                lastSent = now
            }
            let silentFor = now - lastEcho.load(ordering: .sequentiallyConsistent)
            guard silentFor > keepalive else { continue }
            // Refused while already silent or after the connection closed: reported once.
            if broker.handle(.silent(reason: "the broker has not answered for \(silentFor / 1000) s")) {
                runtime.logger.warning("mqtt broker not responding", metadata: ["silent_ms": "\(silentFor)"])
            }
        }
    }

    /// Our own heartbeat came back: the broker is alive (again, if it had been reported silent).
    func echoed() {
        lastEcho.store(Clock.nowMilliseconds(), ordering: .sequentiallyConsistent)
        broker.handle(.answered)
    }
}
