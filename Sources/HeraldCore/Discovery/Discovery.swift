import Foundation
import Synchronization

/// `herald discover`: listens to everything on a broker for a while, with a clean session of its
/// own (nothing is stored, Herald's session is not touched), and reports what Herald would make of it.
public struct Discovery: Sendable {
    let host: String
    let port: Int
    let config: HeraldConfig

    public init(host: String, port: Int, config: HeraldConfig) {
        self.host = host
        self.port = port
        self.config = config
    }

    /// Messages kept while listening; beyond it they are counted, not kept.
    static let messageLimit = 200_000

    public func run(seconds: Double) async throws -> String {
        let received = Mutex<[MQTTMessage]>([])
        let dropped = Atomic<Int>(0)
        let connected = Atomic<Bool>(false)
        var options = MosquittoOptions(host: host, port: port, clientID: "herald-discover-\(getpid())")
        options.cleanSession = true
        options.username = config.mqtt.username
        let handlers = MosquittoHandlers(
            onConnect: { code, _ in if code == 0 { connected.store(true, ordering: .sequentiallyConsistent) } },
            onMessages: { messages in
                received.withLock { kept in
                    let room = max(0, Self.messageLimit - kept.count)
                    kept += messages.prefix(room)
                    if messages.count > room { dropped.add(messages.count - room, ordering: .relaxed) }
                }
            },
            onBurstEnd: { true })
        let client = try MosquittoClient(options: options, handlers: handlers)
        try client.start()
        defer { client.stop() }
        let deadline = ContinuousClock.now + .seconds(10)
        while !connected.load(ordering: .sequentiallyConsistent) {
            guard ContinuousClock.now < deadline else { throw DiscoveryError(description: "no answer from mqtt://\(host):\(port) within 10 s") }
            try await Task.sleep(for: .milliseconds(20))
        }
        _ = try client.subscribe("#", qos: 0)
        try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
        var report = DiscoveryReport(config: config)
        for message in received.withLock({ $0 }) {
            report.take(SourceMessage(topic: message.topic, payload: message.payload, retain: message.retain))
        }
        let more = dropped.load(ordering: .relaxed)
        return report.text + (more > 0 ? "\n(\(more) more messages arrived and were not looked at)\n" : "")
    }
}

public struct DiscoveryError: Error, CustomStringConvertible {
    public var description: String
}
