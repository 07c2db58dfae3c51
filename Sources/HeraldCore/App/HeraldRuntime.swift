import Glibc
import Logging
import ServiceLifecycle
import Prometheus
import Synchronization

/// The long-lived parts that request handlers and services share.
public final class HeraldRuntime: Sendable {
    public let config: HeraldConfig
    /// The store every request and service reads and writes: SQLite, or PostgreSQL shared by
    /// several nodes (`store.path` a postgres:// URL).
    public let store: any HeraldStore
    let backend: Backend
    /// Jobs, alerts and rules, as the store applies them.
    public let semantics: EventSemantics
    public let hub: Hub
    public let staleWatcher: StaleWatcher
    public let offlineWatcher: OfflineWatcher
    public let notify: NotifyCenter
    public let logger: Logger
    /// This node's name (`server.node_name`, or the host name and the listening port).
    public let nodeName: String
    public let metrics: PrometheusCollectorRegistry
    /// The MQTT link as `/readyz` and the systemd status line tell it.
    let mqttLink: Mutex<MQTTLink>
    /// The streams open now, against `max_streams` (`FrontDoor`); at shutdown `HubService` waits
    /// for them to end before the server closes its connections.
    let streamBudget: ConnectionLimits

    enum MQTTLink: String, Sendable {
        case disabled, connected, disconnected
        /// On PostgreSQL, another node holds the broker session (`MQTTSessionLease`).
        case standby
    }

    /// Whether this node runs the duties one node runs for all (`duties()`), as `/readyz` tells it.
    enum DutiesState: String, Sendable {
        case running
        /// On PostgreSQL, another node holds the duties lease (`LeasedDuties`).
        case standby
    }

    /// Always running on SQLite; on PostgreSQL, running on the node holding the duties lease.
    let dutiesState: Mutex<DutiesState>

    enum Backend: Sendable {
        case sqlite(EventLog)
        /// The log and its feed of other nodes' commits.
        case postgres(PostgresEventLog, PostgresEventFeed)
    }

    public init(config: HeraldConfig, logger: Logger, metrics: PrometheusCollectorRegistry) throws {
        try Self.checkStore(config)
        self.config = config
        self.logger = logger
        self.metrics = metrics
        nodeName = config.server.nodeName ?? "\(Self.hostName()):\(config.server.listen.port)"
        mqttLink = Mutex(config.mqtt.enabled ? .disconnected : .disabled)
        dutiesState = Mutex(PostgresLocation.isURL(config.store.path) ? .standby : .running)
        streamBudget = ConnectionLimits(kind: "streams", maxTotal: config.server.maxStreams,
                                        maxPerClient: config.server.maxStreamsPerClient)
        let hub = Hub(queueCapacity: config.server.subscriberQueue,
                      coalescing: .milliseconds(Int64(config.server.coalesceMilliseconds)), logger: logger)
        self.hub = hub
        var semantics = EventSemantics(routes: config.routes, rules: config.alertRules)
        if !config.sources.isEmpty { semantics.jobChannels.insert(config.sources.jobsChannel) }
        self.semantics = semantics
        let routing = NotifyRouting(targets: config.notify, semantics: semantics)
        let notify = NotifyCenter(targets: config.notify, routing: routing)
        self.notify = notify
        let staleWatcher = StaleWatcher(routes: config.routes)
        self.staleWatcher = staleWatcher
        let offlineWatcher = OfflineWatcher(rules: config.alertRules)
        self.offlineWatcher = offlineWatcher
        let committed: @Sendable ([StoredEvent]) -> Void = { events in
            hub.publish(events)
            staleWatcher.observe(events)
            offlineWatcher.observe(events)
            notify.committed(events)
        }
        if PostgresLocation.isURL(config.store.path) {
            var options = PostgresEventLog.Options(location: try PostgresLocation(url: config.store.path))
            options.semantics = semantics
            options.notify = routing
            options.onPrune = { hub.recent.forget(through: $0) }
            // Every node's commits, this one's and the others', reach the hub through the gate in id order.
            let log = PostgresEventLog(options: options, gate: PublishGate(startingAfter: 0, deliver: committed), logger: logger)
            backend = .postgres(log, PostgresEventFeed(log: log))
            store = log
            // A session of a token no longer configured gives no access (`Authenticator` maps the
            // digest to a configured token); on PostgreSQL its row goes when it expires.
            return
        }
        var options = EventLog.Options(path: config.store.path)
        options.synchronousFull = config.store.synchronousFull
        options.semantics = semantics
        options.notify = routing
        options.onPrune = { hub.recent.forget(through: $0) }
        let log = try EventLog(options: options, logger: logger, onCommit: committed)
        backend = .sqlite(log)
        store = log
        // Sessions die with their token: one changed or removed from the configuration signs them out.
        let ended = try log.deleteSessions(exceptFor: TokenAuthority(config.tokens).digests)
        if ended > 0 { logger.notice("sessions ended: their token is no longer configured", metadata: ["sessions": "\(ended)"]) }
    }

    /// Where the MQTT bridge stores messages.
    var mqttStore: any MQTTStore {
        switch backend {
        case .sqlite(let log): log
        case .postgres(let log, _): log
        }
    }

    /// Where the notification outbox and the Web Push subscriptions are.
    var notifyStore: any NotifyStore {
        switch backend {
        case .sqlite(let log): log
        case .postgres(let log, _): log
        }
    }

    /// What one node does for all: a delivery service per notify target, and the stale and
    /// offline watchers. On SQLite they run as services; on PostgreSQL on the node holding the
    /// duties lease, made again for each term (`LeasedDuties`).
    func duties() throws -> [any Service] {
        try notify.services(runtime: self) + [
            StaleWatcher.Runner(watcher: staleWatcher, store: store, logger: logger),
            OfflineWatcher.Runner(watcher: offlineWatcher, store: store, logger: logger),
        ]
    }

    /// Runs `body` with the store open: for a command that is not a server (`herald notify
    /// test`). PostgreSQL's log runs for the while, once it has reached the database; a database
    /// not reached within `patience` is an error with the reason.
    func withStoreRunning<T: Sendable>(patience: Duration,
                                       _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        guard case .postgres(let log, _) = backend else { return try await body() }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await log.run(); return nil }
            defer { log.close() }
            let deadline = ContinuousClock.now + patience
            while log.phase != .ready {
                if case .failed(let failure) = log.phase { throw failure }
                if ContinuousClock.now > deadline { try log.requireReady() }
                try await Task.sleep(for: .milliseconds(50))
            }
            let value = try await body()
            log.close()
            try await group.waitForAll()
            return value
        }
    }

    /// The store's own services: the SQLite writer, or the PostgreSQL log and its feed.
    var storeServices: [any Service] {
        switch backend {
        case .sqlite(let log): [log]
        case .postgres(let log, let feed): [log, feed]
        }
    }

    /// gethostname(2): no lookup, so a gateway without DNS starts as fast as one with.
    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "herald" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A PostgreSQL URL that does not parse is refused with what is wrong, and the password is
    /// never repeated.
    public static func checkStore(_ config: HeraldConfig) throws {
        guard PostgresLocation.isURL(config.store.path) else { return }
        do { _ = try PostgresLocation(url: config.store.path) } catch {
            throw HeraldServer.StartupError(description: "\(error)")
        }
    }
}
