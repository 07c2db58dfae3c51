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
        mqttLink = Mutex(config.mqtt.enabled ? .disconnected : .disabled)
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

    /// The SQLite event log, for what only it holds so far: the notification outbox.
    /// `checkStore` refuses notify targets on PostgreSQL, so this throws only if that check and
    /// the callers disagree.
    func sqliteLog(for what: String) throws -> EventLog {
        guard case .sqlite(let log) = backend else {
            throw HeraldServer.StartupError(description: "\(what) needs the SQLite store (store.path a file)")
        }
        return log
    }

    /// The store's own services: the SQLite writer, or the PostgreSQL log and its feed.
    var storeServices: [any Service] {
        switch backend {
        case .sqlite(let log): [log]
        case .postgres(let log, let feed): [log, feed]
        }
    }

    /// On PostgreSQL, what a server keeps beside its events must be there too. The events,
    /// jobs, alerts, devices, sessions, series, retention and the MQTT session's duplicate check
    /// are; the notification outbox (one delivery across nodes) is not yet, so a configuration
    /// with notify targets is refused in words. A PostgreSQL URL that
    /// does not parse is refused with what is wrong, and the password is never repeated.
    public static func checkStore(_ config: HeraldConfig) throws {
        guard PostgresLocation.isURL(config.store.path) else { return }
        let location: PostgresLocation
        do { location = try PostgresLocation(url: config.store.path) } catch {
            throw HeraldServer.StartupError(description: "\(error)")
        }
        var missing: [String] = []
        if !config.notify.isEmpty { missing.append("notify targets (\(config.notify.map(\.name).joined(separator: ", ")))") }
        guard missing.isEmpty else {
            throw HeraldServer.StartupError(description: """
                store.path names PostgreSQL (\(location)), where Herald does not run \(missing.joined(separator: " or ")) yet; \
                use an SQLite file for those.
                """)
        }
    }
}
