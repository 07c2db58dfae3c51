import Logging

/// Stores the broker's `$status` events, in the order they were reported, without making the
/// reporter wait: reports come under the broker state's lock, from the network thread and from the
/// heartbeat task, and a task must not block the cooperative pool waiting for a commit. `run`
/// awaits the event log's async append instead.
final class BrokerStatusWriter: Sendable {
    private let log: any MQTTStore
    private let logger: Logger
    /// `host:port`, named in every `connected` report.
    private let broker: String
    /// This node (`HeraldRuntime.nodeName`), named in every report: on PostgreSQL the latest
    /// `connected` says which node holds the broker session.
    private let node: String
    private let drafts: AsyncStream<EventDraft>
    private let continuation: AsyncStream<EventDraft>.Continuation

    init(log: any MQTTStore, logger: Logger, broker: String, node: String) {
        self.log = log
        self.logger = logger
        self.broker = broker
        self.node = node
        // Unbounded: a report per change of the connection, and reconnects back off.
        (drafts, continuation) = AsyncStream.makeStream(of: EventDraft.self)
    }

    /// Made now, so the event's time is when it happened, not when it is stored.
    func report(_ report: BrokerReport) {
        continuation.yield(EventDraft(channel: "$status", type: report.type, key: "mqtt", data: report.data(broker: broker, node: node)))
    }

    /// Stores reports until `finish`, then the rest.
    func run() async {
        for await draft in drafts { await store(draft) }
    }

    func finish() {
        continuation.finish()
    }

    private func store(_ draft: EventDraft) async {
        while true {
            do {
                _ = try await log.append([draft])
                return
            } catch AppendError.overloaded {
                // The writer is behind; a status is worth waiting for, as MQTT messages are.
                do { try await Task.sleep(for: .milliseconds(5)) } catch { return }
            } catch {
                logger.debug("broker status not stored", metadata: ["error": "\(error)"])
                return
            }
        }
    }
}

extension BrokerReport {
    var type: String {
        switch self {
        case .connected, .answersAgain: "connected"
        case .disconnected: "disconnected"
        }
    }

    func data(broker: String, node: String) -> String {
        let node = ",\"node\":\(JSONText.quoted(node))}"
        switch self {
        case .connected(let sessionPresent):
            return "{\"state\":\"connected\",\"broker\":\(JSONText.quoted(broker)),\"sessionPresent\":\(sessionPresent)" + node
        case .answersAgain:
            return "{\"state\":\"connected\",\"reason\":\"the broker answers again\"" + node
        case .disconnected(let reason):
            return "{\"state\":\"disconnected\",\"reason\":\(JSONText.quoted(reason))" + node
        }
    }
}

extension BrokerSignals {
    /// Readiness for `/readyz` and the systemd status line, the gauge, and `$status` through `writer`.
    static func live(runtime: HeraldRuntime, writer: BrokerStatusWriter) -> BrokerSignals {
        BrokerSignals(readiness: { ready in runtime.mqttLink.withLock { $0 = ready ? .connected : .disconnected } },
                      gauge: { BridgeMetrics.connected.record($0) },
                      status: { writer.report($0) })
    }
}
