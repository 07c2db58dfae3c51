import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Subscribes to the routes' and sources' topics and turns every message into a committed event.
///
/// The client's network thread runs the callbacks: messages go through the drafter (what each
/// becomes) to the ingest (stored before their PUBACKs leave); connection changes go to the broker
/// state, which alone sets readiness, the gauge and `$status`. The heartbeat task watches for a
/// broker that stopped answering (`MQTTBridge+Heartbeat.swift`).
final class MQTTBridge: Service, Sendable {
    let runtime: HeraldRuntime
    let options: MosquittoOptions
    let qos: Int
    /// Every route's and source's filter once; topics that discovery configs name are added
    /// unless one of these covers them (see `follow`).
    let filters: [String]
    let filterSelectors: [Selector]
    let drafter: MessageDrafter
    let ingest: MessageIngest
    let broker: SharedBrokerState
    let statusWriter: BrokerStatusWriter
    /// Failed connects per reason (and, in the drafter, dead letters per topic): once a minute each.
    let onceAMinute = OncePerMinuteLog()
    /// Compared with every message's topic, so made once.
    let heartbeatTopic: String
    /// When Herald's own heartbeat last came back (see `heartbeat`).
    let lastEcho = Atomic<Int64>(0)
    /// Set before the client starts (its connect callback subscribes through it), cleared after it stops.
    let clientBox = Mutex<MosquittoClient?>(nil)
    /// The device sources, restored from the store when the service starts.
    let sources: SourceSet
    /// The connect's subscriptions not yet acknowledged: ready once it is empty.
    let pendingSubscriptions = Mutex<Set<Int32>>([])
    /// Where messages are stored: the store's writer, which the network thread hands them to.
    let log: any MQTTStore

    init(runtime: HeraldRuntime, crashHooks: CrashHooks = .fromEnvironment()) throws {
        let config = runtime.config.mqtt
        self.runtime = runtime
        log = runtime.mqttStore
        self.qos = config.qos
        let sources = runtime.config.sources.makeSourceSet()
        self.sources = sources
        var seen = Set<String>()
        filters = (runtime.config.routes.map(\.topic.text) + sources.filters).filter { seen.insert($0).inserted }
        filterSelectors = filters.compactMap { try? Selector($0) }
        options = try MosquittoOptions(config, clientID: config.clientID)
        heartbeatTopic = "herald/heartbeat/" + options.clientID
        drafter = MessageDrafter(router: TopicRouter(runtime.config.routes), sources: sources, payloadLimit: config.maxPayloadBytes,
                                 logger: runtime.logger, onceAMinute: onceAMinute)
        ingest = MessageIngest(log: log, logger: runtime.logger, crashHooks: crashHooks)
        statusWriter = BrokerStatusWriter(log: log, logger: runtime.logger, broker: "\(options.host):\(options.port)",
                                           node: runtime.nodeName)
        broker = SharedBrokerState(signals: .live(runtime: runtime, writer: statusWriter))
    }

    func run() async throws {
        try await run(until: { try? await gracefulShutdown() })
    }

    /// Runs until `stop` returns: a graceful shutdown, or on PostgreSQL the session lease lost.
    func run(until stop: @Sendable () async -> Void) async throws {
        try await sources.restore(from: log)  // before the first message
        broker.handle(.started)
        let handlers = MosquittoHandlers(
            onConnect: { [self] code, sessionPresent in connected(code: code, sessionPresent: sessionPresent) },
            onDisconnect: { [self] code in disconnected(code: code) },
            onConnectFailed: { [self] reason, retryIn in connectFailed(reason: reason, retryIn: retryIn) },
            onMessages: { [self] messages in receive(messages) },
            onBurstEnd: { [self] in ingest.settle() },
            onSubscribe: { [self] mid in subscribed(mid) })
        let client = try MosquittoClient(options: options, handlers: handlers)
        clientBox.withLock { $0 = client }
        try client.start()
        runtime.logger.info("mqtt bridge started", metadata: ["broker": "\(options.host):\(options.port)", "client_id": "\(options.clientID)"])
        async let statusStored: Void = statusWriter.run()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.heartbeat(client) }
            await stop()
            ingest.beginStopping()
            group.cancelAll()
        }
        // Disconnect cleanly: the broker keeps the persistent session and queues for our return.
        client.stop()
        clientBox.withLock { $0 = nil }
        broker.handle(.stopped)
        // The disconnect's report is among those still to store.
        statusWriter.finish()
        await statusStored
        runtime.logger.info("mqtt bridge stopped")
    }

    // MARK: The network thread's callbacks

    private func connected(code: Int32, sessionPresent: Bool) {
        guard code == 0 else { return }  // refused: reported by `connectFailed`, once a minute
        ingest.sessionStarted(present: sessionPresent)
        // Before the state says there is a connection, so the heartbeat does not count the time
        // since the last one's echo.
        lastEcho.store(Clock.nowMilliseconds(), ordering: .sequentiallyConsistent)
        broker.handle(.accepted(sessionPresent: sessionPresent))
        subscribe(sessionPresent: sessionPresent)
        runtime.logger.notice("mqtt connected", metadata: ["session_present": "\(sessionPresent)"])
    }

    private func subscribed(_ mid: Int32) {
        let allDone = pendingSubscriptions.withLock { pending in
            pending.remove(mid) != nil && pending.isEmpty
        }
        guard allDone else { return }
        broker.handle(.subscribed)
        runtime.logger.info("mqtt subscriptions acknowledged", metadata: ["filters": "\(filters.joined(separator: " "))"])
    }

    private func disconnected(code: Int32) {
        let reason = code == 0 ? "disconnected by Herald" : MosquittoClient.errorString(code)
        broker.handle(.dropped(reason: reason))
        runtime.logger.warning("mqtt disconnected", metadata: ["reason": "\(reason)"])
    }

    private func connectFailed(reason: String, retryIn: Int) {
        onceAMinute.warn(runtime.logger, key: "connect: " + reason, "mqtt broker not reachable; retrying",
                         metadata: ["broker": "\(options.host):\(options.port)", "reason": "\(reason)", "retry_in_s": "\(retryIn)"])
    }

    /// A slice of a read burst: the heartbeat's echo is Herald's own, the rest is stored.
    private func receive(_ messages: [MQTTMessage]) {
        ingest.submit(messages) { message in
            if message.topic.hasSameBytes(as: heartbeatTopic) {
                echoed()
                return nil
            }
            let drafted = drafter.draft(message)
            follow(drafted.subscribe, unfollow: drafted.unsubscribe)
            return drafted.item
        }
    }
}
