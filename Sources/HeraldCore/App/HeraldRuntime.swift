import Logging
import Prometheus
import Synchronization

/// The long-lived parts that request handlers and services share.
public final class HeraldRuntime: Sendable {
    public let config: HeraldConfig
    public let log: EventLog
    /// What streams and history queries read (`EventHistory`): the event log, on either store.
    public var history: any EventHistory { log }
    public let hub: Hub
    public let staleWatcher: StaleWatcher
    public let offlineWatcher: OfflineWatcher
    public let notify: NotifyCenter
    public let logger: Logger
    public let metrics: PrometheusCollectorRegistry
    /// nil while MQTT is disabled; otherwise whether the bridge is connected.
    let mqttConnected = Mutex<Bool?>(nil)
    /// The streams open now, against `max_streams` (`FrontDoor`); at shutdown `HubService` waits
    /// for them to end before the server closes its connections.
    let streamBudget: ConnectionLimits

    public init(config: HeraldConfig, logger: Logger, metrics: PrometheusCollectorRegistry) throws {
        try Self.checkStore(config.store)
        self.config = config
        self.logger = logger
        self.metrics = metrics
        streamBudget = ConnectionLimits(kind: "streams", maxTotal: config.server.maxStreams,
                                        maxPerClient: config.server.maxStreamsPerClient)
        let hub = Hub(queueCapacity: config.server.subscriberQueue,
                      coalescing: .milliseconds(Int64(config.server.coalesceMilliseconds)), logger: logger)
        self.hub = hub
        var options = EventLog.Options(path: config.store.path)
        options.synchronousFull = config.store.synchronousFull
        options.semantics = EventSemantics(routes: config.routes, rules: config.alertRules)
        if !config.sources.isEmpty { options.semantics.jobChannels.insert(config.sources.jobsChannel) }
        options.notify = NotifyRouting(targets: config.notify, semantics: options.semantics)
        options.onPrune = { hub.recent.forget(through: $0) }
        let notify = NotifyCenter(targets: config.notify, routing: options.notify)
        self.notify = notify
        let staleWatcher = StaleWatcher(routes: config.routes)
        self.staleWatcher = staleWatcher
        let offlineWatcher = OfflineWatcher(rules: config.alertRules)
        self.offlineWatcher = offlineWatcher
        self.log = try EventLog(options: options, logger: logger, onCommit: { events in
            hub.publish(events)
            staleWatcher.observe(events)
            offlineWatcher.observe(events)
            notify.committed(events)
        })
        // Sessions die with their token: one changed or removed from the configuration signs them out.
        let ended = try log.deleteSessions(exceptFor: TokenAuthority(config.tokens).digests)
        if ended > 0 { logger.notice("sessions ended: their token is no longer configured", metadata: ["sessions": "\(ended)"]) }
    }

    /// A server keeps devices, sessions, the notification outbox and series beside its events,
    /// and only the SQLite store holds all of them so far: a PostgreSQL URL is refused in words
    /// (a wrong one with what is wrong) rather than taken for the name of a file.
    public static func checkStore(_ store: HeraldConfig.Store) throws {
        guard PostgresLocation.isURL(store.path) else { return }
        let location: PostgresLocation
        do { location = try PostgresLocation(url: store.path) } catch {
            throw HeraldServer.StartupError(description: "\(error)")
        }
        throw HeraldServer.StartupError(description: """
            store.path names PostgreSQL (\(location)): this Herald serves from an SQLite file only; \
            on PostgreSQL, the event log runs in `herald-bench store` so far. Set store.path (or --db) to a file.
            """)
    }
}
