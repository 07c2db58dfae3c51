import ArgumentParser
import AsyncHTTPClient
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// A reconnect storm: N clients connect at once, each resuming `behind` events before the head
/// with Last-Event-ID, as browsers do when a server or a proxy comes back. Measures how many are
/// taken, how long until every one has caught up, and the server CPU and memory that took.
struct Storm: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "N SSE clients connect at once, each resuming K events behind the head with Last-Event-ID: catch-up time, server CPU per connect.")

    @OptionGroup var server: ServerOptions
    @Option(help: "Clients that connect at once.")
    var clients = 3_000
    @Option(help: "Events published to the channel before the storm.")
    var history = 100
    @Option(help: "How far behind the head each client resumes: it should receive exactly these last events.")
    var behind = 20
    @Option(help: "Event loop threads for the clients.")
    var threads = 2
    @Option(name: .customLong("connect-concurrency"), help: "Connections being set up at once (0: all at once).")
    var connectConcurrency = 0
    @Option(help: "Attempts after a refused or failed connection, per client (an EventSource would retry).")
    var retries = 0
    @Option(help: "Upper bound on the storm, from the first connect to the last catch-up, seconds.")
    var timeout: Double = 120

    func validate() throws {
        guard (1...20_000).contains(clients) else { throw ValidationError("--clients must be 1...20000") }
        guard (2...100_000).contains(history), (1...(history - 1)).contains(behind) else {
            throw ValidationError("--history 2...100000, --behind 1...history-1")
        }
        guard (1...64).contains(threads), connectConcurrency >= 0, (0...10).contains(retries), timeout > 0, timeout <= 600 else {
            throw ValidationError("--threads 1...64, --connect-concurrency ≥ 0, --retries 0...10, --timeout in (0, 600]")
        }
    }

    func run() async throws {
        let fileLimit = FileLimit.raise()
        guard clients + 100 <= fileLimit else {
            throw ValidationError("the open file limit is \(fileLimit); \(clients) clients need more")
        }
        let endpoint = try server.endpoint()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let loops = Array(group.makeIterator())
        let stats = loops.map { _ in LoopStats() }
        let pids = server.serverPids

        // 1. The channel's history, and the id `behind` events before its head, as the server
        //    itself numbers events (Herald: decimal ids; nchan: `time:tag`): one live subscriber
        //    reads the `id:` of every event while they are published.
        let resumeId = try await prepare(endpoint: endpoint, loop: loops[0])
        // The probe's stream is closed; give the server a moment to free its place (a server
        // whose limit is exactly `clients` streams must not count it).
        try await Task.sleep(for: .milliseconds(500))

        // 2. The storm.
        let run = LoadRun(endpoint: endpoint, expected: behind, firstSeq: history - behind, maxAttempts: retries,
                          connectTimeout: .milliseconds(Int64(timeout * 1000)))
        let overflowsBefore = ListenQueue.read()
        let before = ProcessSample.read(pids)
        let selfBefore = ProcessSample.read([getpid()])
        var peakPolledKiB = before?.rssKiB ?? 0
        let start = Monotonic.now()
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeout * 1000))
        var storm: [SSELoadClient] = []
        storm.reserveCapacity(clients)
        for index in 0..<clients {
            if connectConcurrency > 0 {
                while index - run.ready.load(ordering: .relaxed) - run.failed.load(ordering: .relaxed) >= connectConcurrency,
                      ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(1))
                }
            }
            let client = SSELoadClient(loop: loops[index % loops.count], run: run, stats: stats[index % loops.count],
                                       resumeFrom: resumeId)
            storm.append(client)
            client.start()
        }
        // Until every client has caught up or given up; the server's memory sampled meanwhile.
        while run.complete.load(ordering: .relaxed) + run.abandoned.load(ordering: .relaxed) < clients,
              ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
            if let sample = ProcessSample.read(pids) { peakPolledKiB = max(peakPolledKiB, sample.rssKiB) }
        }
        let end = Monotonic.now()
        let after = ProcessSample.read(pids)
        let selfCPU = (ProcessSample.read([getpid()])?.cpuSeconds ?? 0) - (selfBefore?.cpuSeconds ?? 0)
        let overflowsAfter = ListenQueue.read()
        // What the server still does in the second after: work the catch-up left behind.
        try await Task.sleep(for: .seconds(1))
        let settled = ProcessSample.read(pids)

        run.stopping.store(true, ordering: .relaxed)
        for client in storm { _ = client.stop() }
        var results: [ClientResult] = []
        results.reserveCapacity(storm.count)
        for client in storm { results.append(try await client.result().get()) }
        try await group.shutdownGracefully()

        var report = Report(bench: "storm")
        report.add("server", "server", .text(endpoint.kind.rawValue))
        report.add("clients", "clients", .int(clients))
        report.add("history", "events before the storm", .int(history))
        report.add("behind", "events behind (each client's catch-up)", .int(behind))
        report.add("resume_id", "Last-Event-ID sent", .text(resumeId))
        let connected = results.filter(\.ready)
        let refused = results.filter { $0.refusedStatus != nil }
        report.add("connected", "clients connected", .int(connected.count))
        report.add("refused", "refused (HTTP status not 200)", .int(refused.count))
        var statuses: [UInt: Int] = [:]
        for result in refused { statuses[result.refusedStatus!, default: 0] += 1 }
        report.add("refused_statuses", "refusal statuses",
                   .text(statuses.isEmpty ? "none" : statuses.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: " ")))
        report.add("failed", "failed (no stream)", .int(results.count { !$0.ready }))
        var failures: [String: Int] = [:]
        for result in results where !result.ready { failures[result.firstFailure ?? "unknown", default: 0] += 1 }
        report.add("failures", "why they failed",
                   .text(failures.isEmpty ? "none" : failures.sorted { $0.value > $1.value }.prefix(4).map { "\($0.value)× \($0.key)" }.joined(separator: "; ")))
        report.add("caught_up", "caught up", .int(run.complete.load(ordering: .relaxed)))
        report.add("closed_before_caught_up", "closed by the server before catching up",
                   .int(results.count { $0.ready && $0.completedAt == nil && $0.unexpectedCloses > 0 }))
        report.add("timed_out", "still catching up at the deadline",
                   .int(results.count { $0.ready && $0.completedAt == nil && $0.unexpectedCloses == 0 }))
        let lastCatchUp = results.compactMap(\.completedAt).max()
        report.add("wall_s", "first connect to last catch-up", lastCatchUp.map { Monotonic.seconds(start, $0) }, digits: 3, "s")
        report.add("storm_s", "storm took (to the last catch-up or give-up)", Monotonic.seconds(start, end), digits: 3, "s")
        let connects = connected.compactMap(\.connectNanos).sorted()
        report.add("connect_ms_p50", "first byte p50", percentile(connects, 50).map { Double($0) / 1e6 }, digits: 2, "ms")
        report.add("connect_ms_p99", "first byte p99", percentile(connects, 99).map { Double($0) / 1e6 }, digits: 2, "ms")
        let catchUps = results.compactMap { result -> UInt64? in
            guard let from = result.firstConnectAt, let to = result.completedAt, to >= from else { return nil }
            return to - from
        }.sorted()
        report.add("catch_up_ms_p50", "catch-up p50 (connect to last event)", percentile(catchUps, 50).map { Double($0) / 1e6 }, digits: 2, "ms")
        report.add("catch_up_ms_p99", "catch-up p99", percentile(catchUps, 99).map { Double($0) / 1e6 }, digits: 2, "ms")
        report.add("catch_up_ms_max", "catch-up max", catchUps.last.map { Double($0) / 1e6 }, digits: 2, "ms")
        report.add("received", "events received", .int(connected.reduce(0) { $0 + $1.unique }))
        report.add("lost", "lost", .int(connected.reduce(0) { $0 + $1.lost }))
        report.add("duplicated", "duplicated", .int(connected.reduce(0) { $0 + $1.duplicates }))
        report.add("out_of_order", "out of order", .int(connected.reduce(0) { $0 + $1.outOfOrder }))
        report.add("before_resume_point", "events at or before the resume point", .int(connected.reduce(0) { $0 + $1.unexpected }))
        report.add("clients_with_loss", "clients missing events", .int(connected.count { $0.lost > 0 }))
        report.add("other_frames", "other data frames (e.g. $reset)", .int(results.reduce(0) { $0 + $1.otherFrames }))
        report.add("reconnects", "reconnects", .int(results.reduce(0) { $0 + $1.reconnects }))
        if let overflowsBefore, let overflowsAfter {
            report.add("listen_overflows", "listen queue overflows (whole host)", .int(overflowsAfter - overflowsBefore))
        }
        if let before, let after {
            let cpu = after.cpuSeconds - before.cpuSeconds
            report.add("server_cpu_s", "server CPU during the storm", cpu, digits: 3, "s")
            report.add("cpu_us_per_connect", "server CPU per connect", cpu * 1e6 / Double(clients), digits: 0, "µs")
            if let settled {
                report.add("server_cpu_after_s", "server CPU in the second after", settled.cpuSeconds - after.cpuSeconds, digits: 3, "s")
            }
            report.add("bench_cpu_s", "load generator's own CPU", selfCPU, digits: 2, "s")
            // VmHWM is the true peak when the storm raised it; otherwise the 5 ms samples are.
            let peak = after.peakRssKiB > before.peakRssKiB ? max(after.peakRssKiB, peakPolledKiB) : peakPolledKiB
            report.add("rss_before_kib", "server RSS before the storm", .int(before.rssKiB), "KiB")
            report.add("rss_peak_kib", "server peak RSS during the storm", .int(peak), "KiB")
            report.add("rss_peak_delta_kib", "server peak RSS delta", .int(peak - before.rssKiB), "KiB")
            report.add("rss_end_kib", "server RSS, everyone caught up", .int(after.rssKiB), "KiB")
        }
        report.print()
    }

    /// Publishes `history` events while one subscriber records their ids; returns the id of the
    /// event `behind` events before the head, the Last-Event-ID every storm client sends.
    private func prepare(endpoint: Endpoint, loop: any EventLoop) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(20)
        let run = LoadRun(endpoint: endpoint, expected: history, maxAttempts: 0, connectTimeout: .seconds(5))
        let probe = SSELoadClient(loop: loop, run: run, stats: LoopStats(), recordIds: true)
        probe.start()
        while run.ready.load(ordering: .relaxed) + run.failed.load(ordering: .relaxed) < 1, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(2))
        }
        guard run.ready.load(ordering: .relaxed) == 1 else {
            run.stopping.store(true, ordering: .relaxed)
            _ = try? await probe.stop().get()
            throw ValidationError("the probe subscriber got no stream from \(endpoint.base)\(endpoint.subscribePath)")
        }
        let outcome = await HTTPPublisher(endpoint: endpoint, client: HTTPClient.shared)
            .publish(count: history, rate: 0, deadline: deadline)
        while run.complete.load(ordering: .relaxed) < 1, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(2))
        }
        run.stopping.store(true, ordering: .relaxed)
        _ = try await probe.stop().get()
        let result = try await probe.result().get()
        let ids = try await probe.recordedIds().get()
        guard outcome.failed == 0, outcome.sent == history, result.unique == history, result.duplicates == 0,
              result.outOfOrder == 0 else {
            throw ValidationError("preparing the channel: \(outcome.sent) published, \(outcome.failed) failed, "
                                  + "the probe received \(result.unique) of \(history)")
        }
        // Ids must be distinct and come in publishing order (the probe got them in that order).
        guard Set(ids.values).count == history, let resumeId = ids[history - behind - 1] else {
            throw ValidationError("the probe did not see a distinct id for each of the \(history) events")
        }
        return resumeId
    }
}

/// The kernel's count of connections dropped because a listen queue was full (TcpExt
/// ListenOverflows in /proc/net/netstat): for the whole host, so only a hint.
enum ListenQueue {
    static func read() -> Int? {
        guard let text = ProcessSample.readFile("/proc/net/netstat") else { return nil }
        let lines = text.split(separator: "\n")
        var index = 0
        while index + 1 < lines.count {
            let names = lines[index].split(separator: " "), values = lines[index + 1].split(separator: " ")
            if names.first == "TcpExt:", values.first == "TcpExt:", let at = names.firstIndex(of: "ListenOverflows"),
               at < values.count {
                return Int(values[at])
            }
            index += 1
        }
        return nil
    }
}
