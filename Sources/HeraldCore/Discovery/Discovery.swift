import Foundation
import Synchronization

/// `herald discover`: listens to everything on a broker for a while, with a clean session of its
/// own (nothing is stored, Herald's session is not touched), and reports what Herald would make of it.
public struct Discovery: Sendable {
    /// The broker, login and TLS of `config.mqtt`; its routes and sources apply.
    let config: HeraldConfig

    public init(config: HeraldConfig) {
        self.config = config
    }

    /// Messages kept while listening; beyond it they are counted, not kept.
    static let messageLimit = 200_000

    public func run(seconds: Double) async throws -> String {
        let received = Mutex<[MQTTMessage]>([])
        let dropped = Atomic<Int>(0)
        var options = try MosquittoOptions(config.mqtt, clientID: "herald-discover-\(getpid())")
        options.cleanSession = true
        let handlers = MosquittoHandlers(
            onMessages: { messages in
                received.withLock { kept in
                    let room = max(0, Self.messageLimit - kept.count)
                    kept += messages.prefix(room)
                    if messages.count > room { dropped.add(messages.count - room, ordering: .relaxed) }
                }
            },
            onBurstEnd: { true })
        let client: MosquittoClient
        do { client = try await MosquittoClient.connected(options: options, handlers: handlers, timeout: .seconds(10)) } catch let error as MosquittoClient.NotConnected {
            throw DiscoveryError(description: error.description)
        }
        defer { client.stop() }
        _ = try client.subscribe("#", qos: 0)
        try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
        var report = DiscoveryReport(config: config)
        // Descriptions first (bridge/devices, discovery configs), as Herald would know them from
        // its store: a state that arrived before its config is still the device's.
        let messages = received.withLock { $0 }
        let (descriptions, rest) = messages.reduce(into: ([MQTTMessage](), [MQTTMessage]())) { split, message in
            if report.sources.isMetadata(message.topic) { split.0.append(message) } else { split.1.append(message) }
        }
        for message in descriptions + rest {
            report.take(SourceMessage(topic: message.topic, payload: message.payload, retain: message.retain))
        }
        let more = dropped.load(ordering: .relaxed)
        return report.text + (more > 0 ? "\n(\(more) more messages arrived and were not looked at)\n" : "")
    }
}

public struct DiscoveryError: Error, CustomStringConvertible {
    public var description: String
}
