import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix

/// Replay speed: a client that resumes from id 0 over a large log (Herald only: nchan keeps
/// just its message buffer).
struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stores N events on a fresh channel, then times one client resuming from id 0 through all of them.")

    @OptionGroup var server: ServerOptions
    @Option(help: "Events in the log to replay.")
    var events = 200_000
    @Option(help: "Events per publish batch while filling the log.")
    var batch = 5_000
    @Option(help: "Upper bound on the whole run, seconds.")
    var timeout: Double = 180

    func validate() throws {
        guard (1...10_000_000).contains(events), (1...10_000).contains(batch) else {
            throw ValidationError("--events 1...10000000, --batch 1...10000")
        }
    }

    func run() async throws {
        guard server.server == .herald else { throw ValidationError("replay is measured on Herald only") }
        FileLimit.raise()
        var server = self.server
        server.channel += "-replay-\(getpid())-\(Int(Date().timeIntervalSince1970))"
        let endpoint = try server.endpoint()
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeout * 1000))

        // Fill the log through the batch endpoint.
        let fillStart = Monotonic.now()
        let publisher = HTTPPublisher(endpoint: endpoint, client: HTTPClient.shared)
        var stored = 0
        while stored < events, ContinuousClock.now < deadline {
            let count = min(batch, events - stored)
            var body = "["
            body.reserveCapacity(count * 64)
            for seq in stored..<(stored + count) {
                if seq > stored { body += "," }
                body += "{\"channel\":\"\(endpoint.channel)\",\"data\":" + Endpoint.payload(seq: seq, nanos: 0) + "}"
            }
            body += "]"
            guard await publisher.post("\(endpoint.base)/api/events", body: body) else {
                throw ValidationError("a batch publish failed after \(stored) events")
            }
            stored += count
        }
        let fillSeconds = Monotonic.seconds(fillStart, Monotonic.now())

        // One client resumes from 0 and reads everything.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let stats = LoopStats()
        let run = LoadRun(endpoint: endpoint, expected: stored)
        let before = ProcessSample.read(server.serverPids)
        let start = Monotonic.now()
        let client = SSELoadClient(loop: loop, run: run, stats: stats, resumeFrom: "0")
        client.start()
        while run.complete.load(ordering: .relaxed) < 1, run.failed.load(ordering: .relaxed) == 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(2))
        }
        let after = ProcessSample.read(server.serverPids)
        run.stopping.store(true, ordering: .relaxed)
        _ = try await client.stop().get()
        let result = try await client.result().get()
        let last = try await loop.submit { stats.lastReceipt }.get()
        try await group.shutdownGracefully()

        var report = Report(bench: "replay")
        report.add("server", "server", .text(endpoint.kind.rawValue))
        report.add("events", "events in the log", .int(stored))
        report.add("fill_per_s", "filled at (batches of \(batch))", Double(stored) / max(fillSeconds, 1e-9), digits: 0, "/s")
        let seconds = Monotonic.seconds(start, last)
        report.add("first_byte_ms", "time to first byte", result.connectNanos.map { Double($0) / 1e6 }, digits: 2, "ms")
        report.add("replay_s", "replay took", seconds, digits: 3, "s")
        report.add("replay_per_s", "replayed per second", seconds > 0 ? Double(result.unique) / seconds : nil, digits: 0, "/s")
        report.add("lost", "lost", .int(result.lost))
        report.add("duplicated", "duplicated", .int(result.duplicates))
        report.add("out_of_order", "out of order", .int(result.outOfOrder))
        if let before, let after {
            let cpu = after.cpuSeconds - before.cpuSeconds
            report.add("server_cpu_s", "server CPU during replay", cpu, digits: 2, "s")
            report.add("cpu_us_per_event", "server CPU per replayed event", cpu * 1e6 / Double(max(result.unique, 1)), digits: 2, "µs")
        }
        report.print()
    }
}
