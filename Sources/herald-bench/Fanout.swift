import ArgumentParser
import AsyncHTTPClient
import Histogram
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

enum PublishKind: String, ExpressibleByArgument, Sendable {
    case http
    case mqtt
}

/// N SSE clients, M events published at a target rate; deliveries, latency, loss, CPU and memory.
struct Fanout: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "N concurrent SSE clients receive M events published over HTTP or MQTT at a target rate.")

    @OptionGroup var server: ServerOptions
    @OptionGroup var load: LoadOptions

    func run() async throws {
        try await FanoutRun(server: server, load: load.config, bench: "fanout").execute().print()
    }
}

/// MQTT ingest: messages published as fast as libmosquitto sends them (QoS 1), each counted once
/// it reaches an SSE client, i.e. once it is committed.
struct Ingest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "MQTT QoS 1 messages as fast as possible to one SSE client: messages committed per second.")

    @OptionGroup var server: ServerOptions
    @Option(help: "Messages to publish.")
    var messages = 50_000
    @Option(help: "The broker (loopback only).")
    var mqtt = "mqtt://127.0.0.1:1883"
    @Option(help: "Topic to publish to; a Herald route must map it to --channel.")
    var topic = "sensors/bench/ingest"
    @Option(help: "QoS 1 messages awaiting PUBACK at once.")
    var inflight: Int32 = 1_000
    @Option(help: "Upper bound on the whole run, seconds.")
    var timeout: Double = 180

    func run() async throws {
        var load = LoadConfig()
        load.clients = 1
        load.events = messages
        load.rate = 0
        load.publish = .mqtt
        load.mqtt = mqtt
        load.topic = topic
        load.inflight = inflight
        load.timeout = timeout
        load.drain = 60
        var server = self.server
        if server.channel == "bench" { server.channel = "sensors" }
        try await FanoutRun(server: server, load: load, bench: "ingest").execute().print()
    }
}

struct LoadOptions: ParsableArguments {
    @Option(help: "Concurrent SSE clients.")
    var clients = 100
    @Option(help: "Events to publish.")
    var events = 1_000
    @Option(help: "Events per second (0: as fast as the server takes them).")
    var rate: Double = 100
    @Option(help: "How events are published: http, or mqtt (Herald only).")
    var publish: PublishKind = .http
    @Option(help: "The broker for --publish mqtt (loopback only).")
    var mqtt = "mqtt://127.0.0.1:1883"
    @Option(help: "Topic for --publish mqtt; a Herald route must map it to --channel.")
    var topic = "sensors/bench/fanout"
    @Option(help: "QoS 1 messages awaiting PUBACK at once (--publish mqtt).")
    var inflight: Int32 = 1_000
    @Option(help: "Fraction of clients that drop their connection mid-run and resume with Last-Event-ID.")
    var drop: Double = 0
    @Option(help: "Event loop threads for the clients.")
    var threads = 2
    @Option(name: .customLong("connect-concurrency"), help: "Connections being set up at once.")
    var connectConcurrency = 128
    @Option(help: "Seconds with all clients connected and idle before memory is read.")
    var settle: Double = 2
    @Option(help: "Seconds to wait for deliveries after the last publish.")
    var drain: Double = 10
    @Option(help: "Upper bound on the whole run, seconds.")
    var timeout: Double = 180

    var config: LoadConfig {
        LoadConfig(clients: clients, events: events, rate: rate, publish: publish, mqtt: mqtt, topic: topic,
                   inflight: inflight, drop: drop, threads: threads, connectConcurrency: connectConcurrency,
                   settle: settle, drain: drain, timeout: timeout)
    }

    func validate() throws {
        guard (1...20_000).contains(clients) else { throw ValidationError("--clients must be 1...20000") }
        guard (1...10_000_000).contains(events) else { throw ValidationError("--events must be 1...10000000") }
        guard rate >= 0, (0...1).contains(drop), (1...64).contains(threads), timeout > 0 else {
            throw ValidationError("--rate ≥ 0, --drop in 0...1, --threads 1...64, --timeout > 0")
        }
    }
}

/// The load of one run, as parsed (`LoadOptions`) or set by a command (`Ingest`).
struct LoadConfig {
    var clients = 100
    var events = 1_000
    var rate: Double = 100
    var publish = PublishKind.http
    var mqtt = "mqtt://127.0.0.1:1883"
    var topic = "sensors/bench/fanout"
    var inflight: Int32 = 1_000
    var drop: Double = 0
    var threads = 2
    var connectConcurrency = 128
    var settle: Double = 2
    var drain: Double = 10
    var timeout: Double = 180
}

/// One bounded run: connect, settle, publish, drain, collect.
struct FanoutRun {
    let server: ServerOptions
    let load: LoadConfig
    let bench: String

    func execute() async throws -> Report {
        let fileLimit = FileLimit.raise()
        guard load.clients + 100 <= fileLimit else {
            throw ValidationError("the open file limit is \(fileLimit); \(load.clients) clients need more")
        }
        let endpoint = try server.endpoint()
        let deadline = ContinuousClock.now + .milliseconds(Int64(load.timeout * 1000))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: load.threads)
        let loops = Array(group.makeIterator())
        let stats = loops.map { _ in LoopStats() }
        let run = LoadRun(endpoint: endpoint, expected: load.events)
        let pids = server.serverPids

        // Connect, at most `connectConcurrency` connections in progress at once.
        let baseline = ProcessSample.read(pids)
        let connectStart = Monotonic.now()
        var clients: [SSELoadClient] = []
        clients.reserveCapacity(load.clients)
        for index in 0..<load.clients {
            while index - run.ready.load(ordering: .relaxed) - run.failed.load(ordering: .relaxed) >= load.connectConcurrency,
                  ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(1))
            }
            let client = SSELoadClient(loop: loops[index % loops.count], run: run, stats: stats[index % loops.count])
            clients.append(client)
            client.start()
        }
        while run.ready.load(ordering: .relaxed) + run.failed.load(ordering: .relaxed) < load.clients, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        let connectSeconds = Monotonic.seconds(connectStart, Monotonic.now())
        let held = run.ready.load(ordering: .relaxed)
        try await Task.sleep(for: .milliseconds(Int64(load.settle * 1000)))
        let idle = ProcessSample.read(pids)

        // Drops: every k-th client, at a point spread over the publishing time.
        let publishSeconds = load.rate > 0 ? Double(load.events) / load.rate : 1
        let dropCount = Int((Double(load.clients) * load.drop).rounded())
        if dropCount > 0 {
            var generator = SplitMix64(seed: 42)
            let stride = Double(load.clients) / Double(dropCount)
            for n in 0..<dropCount {
                let at = publishSeconds * (0.1 + 0.8 * Double(generator.next() % 1_000) / 1_000)
                clients[Int(Double(n) * stride)].drop(after: .milliseconds(Int64(at * 1000)))
            }
        }

        // Publish.
        let before = ProcessSample.read(pids)
        let selfBefore = ProcessSample.read([getpid()])
        let outcome: HTTPPublisher.Outcome
        var acked: Int?
        switch load.publish {
        case .http:
            outcome = await HTTPPublisher(endpoint: endpoint, client: HTTPClient.shared)
                .publish(count: load.events, rate: load.rate, deadline: deadline)
        case .mqtt:
            let (host, port) = try Self.broker(load.mqtt)
            let publisher = try MQTTPublisher(host: host, port: port, inflight: load.inflight)
            guard await publisher.waitConnected(timeout: .seconds(5)) else {
                publisher.close()
                throw ValidationError("no CONNACK from the broker at \(load.mqtt)")
            }
            outcome = await publisher.publish(topic: load.topic, count: load.events, rate: load.rate, deadline: deadline)
            let ackDeadline = min(deadline, ContinuousClock.now + .milliseconds(Int64(load.drain * 1000)))
            while publisher.state.acked.load(ordering: .relaxed) < outcome.sent, ContinuousClock.now < ackDeadline {
                try await Task.sleep(for: .milliseconds(2))
            }
            acked = publisher.state.acked.load(ordering: .relaxed)
            publisher.close()
        }

        // Drain: until every connected client has every event, or the drain time is up.
        let drainDeadline = min(deadline, ContinuousClock.now + .milliseconds(Int64(load.drain * 1000)))
        while run.complete.load(ordering: .relaxed) < held, ContinuousClock.now < drainDeadline {
            try await Task.sleep(for: .milliseconds(2))
        }
        let after = ProcessSample.read(pids)
        let selfCPU = (ProcessSample.read([getpid()])?.cpuSeconds ?? 0) - (selfBefore?.cpuSeconds ?? 0)

        run.stopping.store(true, ordering: .relaxed)
        for client in clients { _ = client.stop() }
        var results: [ClientResult] = []
        results.reserveCapacity(clients.count)
        for client in clients { results.append(try await client.result().get()) }
        var latency: Histogram<UInt64>?
        var deliveries = 0
        var lastReceipt: UInt64 = 0
        for (loop, stat) in zip(loops, stats) {
            let (histogram, count, last) = try await loop.submit { (stat.latency, stat.deliveries, stat.lastReceipt) }.get()
            if latency == nil { latency = histogram } else { latency!.add(histogram) }
            deliveries += count
            lastReceipt = max(lastReceipt, last)
        }
        try await group.shutdownGracefully()

        return report(endpoint: endpoint, results: results, held: held, connectSeconds: connectSeconds,
                      outcome: outcome, acked: acked, latency: latency, deliveries: deliveries, lastReceipt: lastReceipt,
                      samples: (baseline, idle, before, after), dropCount: dropCount, benchCPU: selfCPU)
    }

    private func report(endpoint: Endpoint, results: [ClientResult], held: Int, connectSeconds: Double,
                        outcome: HTTPPublisher.Outcome, acked: Int?, latency: Histogram<UInt64>?,
                        deliveries: Int, lastReceipt: UInt64,
                        samples: (baseline: ProcessSample?, idle: ProcessSample?, before: ProcessSample?, after: ProcessSample?),
                        dropCount: Int, benchCPU: Double) -> Report {
        var report = Report(bench: bench)
        report.add("server", "server", .text(endpoint.kind.rawValue))
        report.add("publish", "published over", .text(load.publish.rawValue))
        report.add("clients", "clients", .int(load.clients))
        report.add("events", "events", .int(load.events))
        report.add("rate", "target rate", load.rate > 0 ? .number(load.rate, digits: 0) : .text("max"), "/s")
        report.add("drop", "clients dropped and resumed", .int(dropCount))
        report.add("held", "connections held", .int(held))
        let connects = results.compactMap(\.connectNanos).sorted()
        report.add("connect_all_s", "connect all", connectSeconds, digits: 2, "s")
        report.add("connect_ms_p50", "connect p50", percentile(connects, 50).map { Double($0) / 1e6 }, digits: 2, "ms")
        report.add("connect_ms_p99", "connect p99", percentile(connects, 99).map { Double($0) / 1e6 }, digits: 2, "ms")
        report.add("connect_ms_max", "connect max", connects.last.map { Double($0) / 1e6 }, digits: 2, "ms")
        report.add("published", "published", .int(outcome.sent))
        report.add("publish_failed", "publish failures", .int(outcome.failed))
        if let acked { report.add("mqtt_acked", "PUBACKs", .int(acked)) }
        let span = Monotonic.seconds(outcome.firstAt, lastReceipt)
        report.add("publish_s", "publishing took", Monotonic.seconds(outcome.firstAt, outcome.lastAt), digits: 2, "s")
        report.add("deliveries", "deliveries", .int(deliveries))
        report.add("deliveries_per_s", "deliveries per second", span > 0 ? Double(deliveries) / span : nil, digits: 0, "/s")
        if bench == "ingest" {
            report.add("committed_per_s", "committed per second", span > 0 ? Double(deliveries) / span : nil, digits: 0, "/s")
        }
        let ms = { (value: UInt64) -> Double in Double(value) / 1_000 }
        report.add("latency_ms_p50", "latency p50", latency.map { ms($0.valueAtPercentile(50)) }, digits: 2, "ms")
        report.add("latency_ms_p99", "latency p99", latency.map { ms($0.valueAtPercentile(99)) }, digits: 2, "ms")
        report.add("latency_ms_max", "latency max", latency.map { ms($0.max) }, digits: 2, "ms")
        let connected = results.filter(\.ready)
        report.add("lost", "lost", .int(connected.reduce(0) { $0 + $1.lost }))
        report.add("duplicated", "duplicated", .int(connected.reduce(0) { $0 + $1.duplicates }))
        report.add("out_of_order", "out of order", .int(connected.reduce(0) { $0 + $1.outOfOrder }))
        report.add("clients_with_loss", "clients missing events", .int(connected.count { $0.lost > 0 }))
        report.add("unexpected_closes", "connections closed by the server", .int(results.reduce(0) { $0 + $1.unexpectedCloses }))
        report.add("reconnects", "reconnects", .int(results.reduce(0) { $0 + $1.reconnects }))
        if let baseline = samples.baseline, let idle = samples.idle, let before = samples.before, let after = samples.after {
            let cpu = after.cpuSeconds - before.cpuSeconds
            report.add("server_cpu_s", "server CPU while publishing", cpu, digits: 2, "s")
            report.add("cpu_us_per_delivery", "server CPU per delivery", deliveries > 0 ? cpu * 1e6 / Double(deliveries) : nil, digits: 2, "µs")
            report.add("bench_cpu_s", "load generator's own CPU", benchCPU, digits: 2, "s")
            // Connecting and settling: the server's whole cost of taking a stream (request, history
            // read, subscription), with nothing published yet.
            report.add("cpu_us_per_connect", "server CPU per connect",
                       held > 0 ? (idle.cpuSeconds - baseline.cpuSeconds) * 1e6 / Double(held) : nil, digits: 0, "µs")
            report.add("rss_before_kib", "server RSS before connecting", .int(baseline.rssKiB), "KiB")
            report.add("rss_idle_kib", "server RSS, clients idle", .int(idle.rssKiB), "KiB")
            report.add("rss_per_conn_kib", "server RSS per idle connection",
                       held > 0 ? Double(idle.rssKiB - baseline.rssKiB) / Double(held) : nil, digits: 2, "KiB")
            report.add("rss_end_kib", "server RSS at the end", .int(after.rssKiB), "KiB")
            report.add("rss_peak_kib", "server peak RSS", .int(after.peakRssKiB), "KiB")
        }
        return report
    }

    static func broker(_ url: String) throws -> (String, Int) {
        guard url.hasPrefix("mqtt://") else { throw ValidationError("--mqtt must be mqtt://127.0.0.1:PORT") }
        let parts = url.dropFirst("mqtt://".count).split(separator: ":")
        guard parts.count == 2, parts[0] == "127.0.0.1" || parts[0] == "localhost", let port = Int(parts[1]) else {
            throw ValidationError("--mqtt must be a loopback broker, mqtt://127.0.0.1:PORT")
        }
        return ("127.0.0.1", port)
    }
}

/// A small deterministic generator, so that drop points repeat from run to run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
