import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

/// Builds Herald from a configuration and runs it: event log, hub, MQTT bridge, HTTP server,
/// retention and, under systemd, the notifier, each a Service, shut down in reverse order on
/// SIGTERM / SIGINT.
public enum HeraldServer {
    /// One registry per process: swift-metrics can only be bootstrapped once.
    public static let metrics: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // A commit takes about a millisecond: the default buckets (5 ms and up) would put them all in one.
        factory.durationHistogramBuckets["herald_commit_seconds"] = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(100), .milliseconds(500), .seconds(2),
        ]
        MetricsSystem.bootstrap(factory)
        // Series exist from the start, at 0, so rates and alerts work before the first event.
        for counter in ["herald_events_stored_total", "herald_deliveries_total", "herald_subscribers_dropped_total"] {
            Counter(label: counter).increment(by: 0)
        }
        Gauge(label: "herald_sse_clients").record(0)
        return registry
    }()

    public struct StartupError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Refuses what DESIGN §8 calls protected mode: beyond loopback with nobody authenticated.
    public static func checkListenAddress(_ config: HeraldConfig) throws {
        let server = config.server
        if !server.listen.isLoopback && !server.allowAnonymous && config.tokens.isEmpty {
            throw StartupError(description: """
                refusing to listen on \(server.listen) without access control: anyone on the network could \
                read and publish events. Add a token (`herald token new NAME` prints one and its config line \
                for `tokens:`), listen on 127.0.0.1, or set server.allow_anonymous: true to allow anonymous \
                access deliberately.
                """)
        }
    }

    /// The services in start order; the group stops them in reverse.
    public static func services(config: HeraldConfig, logger: Logger,
                                onListening: @escaping @Sendable (Int) async -> Void = { _ in }) throws -> [any Service] {
        try checkListenAddress(config)
        if let problem = WebRoot.problem(with: config.server.webRoot) { throw StartupError(description: problem) }
        raiseFileLimit(logger: logger)
        let runtime = try HeraldRuntime(config: config, logger: logger, metrics: metrics)
        var services: [any Service] = runtime.storeServices
        if config.mqtt.enabled {
            switch runtime.backend {
            case .sqlite: services.append(try MQTTBridge(runtime: runtime))
            case .postgres(let log, _): services.append(MQTTSessionLease(runtime: runtime, log: log))
            }
        }
        let days = config.store.maxAgeDays
        services.append(RetentionService(
            log: runtime.store,
            policy: .init(maxEventsPerChannel: config.store.maxEvents,
                          maxAgeMilliseconds: days > 0 ? Int64(days * 86_400_000) : nil,
                          keepTerminalMilliseconds: Int64(config.store.keepTerminalDays * 86_400_000)),
            interval: .milliseconds(Int64(config.store.retentionInterval * 1000)),
            logger: logger))
        switch runtime.backend {
        case .sqlite: services += try runtime.duties()
        case .postgres(let log, _): services.append(try LeasedDuties(runtime: runtime, log: log))
        }
        // Under systemd (Type=notify) the notifier hears of the listening port; it comes last, so a
        // shutdown reaches it first and STOPPING=1 goes out before the drain.
        var notify: SystemdNotifyService?
        var onListening = onListening
        func hearListening() -> AsyncStream<Int> {
            let (listening, listened) = AsyncStream.makeStream(of: Int.self)
            onListening = { [onListening] port in
                await onListening(port)
                listened.yield(port)
            }
            return listening
        }
        if let notifier = SystemdNotifier() {
            notify = SystemdNotifyService(notifier: notifier, runtime: runtime, listening: hearListening())
        }
        if config.server.releaseStartUpPages {
            services.append(StartUpPagesService(listening: hearListening(), settle: .seconds(3), logger: logger))
        }
        services.append(try makeApplication(runtime: runtime, onListening: onListening))
        services.append(HubService(hub: runtime.hub, interval: .milliseconds(Int64(config.server.keepaliveSeconds * 1000)),
                                   streams: runtime.streamBudget))
        if let notify { services.append(notify) }
        return services
    }

    public static func run(config: HeraldConfig, logger: Logger,
                           onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let group = ServiceGroup(configuration: .init(
            services: try services(config: config, logger: logger, onListening: onListening),
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }

    /// Every SSE client holds a file descriptor; the default soft limit (1024) is far too low.
    static func raiseFileLimit(logger: Logger) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) != 0 {
            logger.warning("could not raise the open file limit", metadata: ["errno": "\(errno)"])
        }
    }
}
