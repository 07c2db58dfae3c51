import ArgumentParser
import Foundation
import HeraldCore
import Logging
import Synchronization

/// The event log alone, in process: appends per second on SQLite and on PostgreSQL, and on
/// PostgreSQL with two nodes the time from one node's commit to the other node handing the
/// event on (what a remote event adds before the hub). Shipped settings of both logs.
struct StoreBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Times appends to the SQLite and PostgreSQL event logs and a remote event's delay between two PostgreSQL nodes.")

    @Option(help: "A new PostgreSQL database to use: postgres://user:pw@127.0.0.1:port/db.")
    var postgres: String
    @Option(help: "Appends per measurement.")
    var appends = 5_000
    @Option(help: "Concurrent publishers.")
    var publishers = 8
    @Option(help: "Remote-latency samples (one event at a time).")
    var samples = 500

    func validate() throws {
        guard (1...1_000_000).contains(appends), (1...256).contains(publishers), (1...100_000).contains(samples) else {
            throw ValidationError("--appends 1...1000000, --publishers 1...256, --samples 1...100000")
        }
    }

    func run() async throws {
        var logger = Logger(label: "herald-bench")
        logger.logLevel = .error
        print("| store | nodes | load | appends/s | events/s |")
        print("|---|---:|---|---:|---:|")
        let dir = NSTemporaryDirectory() + "herald-bench-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (load, size) in [("single events", 1), ("batches of 100", 100)] {
            let sqlite = try EventLog(options: .init(path: dir + "/\(size).sqlite"), logger: logger, onCommit: { _ in })
            let rate = try await measure(running: sqlite) { try await sqlite.append(Self.drafts(size)).count }
            print("| SQLite | 1 | \(load) | \(Int(rate.appends)) | \(Int(rate.events)) |")
        }
        for nodes in [1, 2] {
            for (load, size) in [("single events", 1), ("batches of 100", 100)] {
                let cluster = try await Cluster(url: postgres, nodes: nodes, logger: logger)
                let turns = Tally(0)
                let logs = cluster.logs
                let rate = try await measure(running: nil) {
                    let node = logs[turns.events.add(1, ordering: .relaxed).newValue % nodes]
                    return try await node.append(Self.drafts(size)).count
                }
                await cluster.stop()
                print("| PostgreSQL | \(nodes) | \(load) | \(Int(rate.appends)) | \(Int(rate.events)) |")
            }
        }
        let (handedOn, handOn) = AsyncStream.makeStream(of: Int64.self)
        let cluster = try await Cluster(url: postgres, nodes: 2, logger: logger, secondNodeHandsOn: handOn)
        var arrivals = handedOn.makeAsyncIterator()
        var delays: [Double] = []
        for _ in 0..<samples {
            let start = ContinuousClock.now
            let id = try await cluster.logs[0].append(Self.drafts(1))[0].id
            while let arrived = await arrivals.next(), arrived < id {}
            delays.append(Double((ContinuousClock.now - start) / .microseconds(1)) / 1_000)
        }
        var local: [Double] = []
        for _ in 0..<samples {
            let start = ContinuousClock.now
            _ = try await cluster.logs[0].append(Self.drafts(1))
            local.append(Double((ContinuousClock.now - start) / .microseconds(1)) / 1_000)
        }
        await cluster.stop()
        delays.sort()
        let sortedLocal = local.sorted()
        func percentile(_ values: [Double], _ p: Double) -> String {
            String(format: "%.2f", values[min(values.count - 1, Int(Double(values.count) * p))])
        }
        print("")
        print("| PostgreSQL, 2 nodes, one event at a time | p50 ms | p99 ms |")
        print("|---|---:|---:|")
        print("| append on node A, committed | \(percentile(sortedLocal, 0.5)) | \(percentile(sortedLocal, 0.99)) |")
        print("| append on node A, handed on by node B | \(percentile(delays, 0.5)) | \(percentile(delays, 0.99)) |")
    }

    static func drafts(_ count: Int) -> [EventDraft] {
        (0..<count).map { n in EventDraft(channel: "bench/\(n % 8)", key: "k\(n % 32)", data: "{\"n\":\(n),\"temperature\":21.5}") }
    }

    /// Runs `append` `appends` times from `publishers` tasks; the log's writer runs meanwhile.
    private func measure(running log: EventLog?, _ append: @escaping @Sendable () async throws -> Int) async throws -> (appends: Double, events: Double) {
        let writer = log.map { log in Task { try await log.run() } }
        defer { writer?.cancel() }
        let tally = Tally(appends)
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<publishers {
                group.addTask {
                    while tally.remaining.subtract(1, ordering: .relaxed).newValue >= 0 {
                        tally.events.add(try await append(), ordering: .relaxed)
                    }
                }
            }
            try await group.waitForAll()
        }
        let seconds = Double((ContinuousClock.now - start) / .microseconds(1)) / 1_000_000
        return (Double(appends) / seconds, Double(tally.events.load(ordering: .relaxed)) / seconds)
    }
}

/// Appends left to make and events made, shared by the publishers.
private final class Tally: Sendable {
    let remaining: Atomic<Int>
    let events = Atomic<Int>(0)

    init(_ appends: Int) { remaining = Atomic(appends) }
}

/// Nodes on one PostgreSQL database, each with its feed and gate.
private struct Cluster {
    var logs: [PostgresEventLog] = []
    var gates: [PublishGate] = []
    var tasks: [Task<Void, any Error>] = []

    init(url: String, nodes: Int, logger: Logger, secondNodeHandsOn: AsyncStream<Int64>.Continuation? = nil) async throws {
        let location = try PostgresLocation(url: url)
        for index in 0..<nodes {
            let handOn = index == 1 ? secondNodeHandsOn : nil
            let gate = PublishGate(startingAfter: 0) { events in for event in events { handOn?.yield(event.id) } }
            let log = PostgresEventLog(options: .init(location: location), gate: gate, logger: logger)
            let feed = PostgresEventFeed(log: log)
            tasks.append(Task {
                try await withThrowingDiscardingTaskGroup { group in
                    group.addTask { try await log.run() }
                    group.addTask { try await feed.run() }
                }
            })
            logs.append(log)
            gates.append(gate)
        }
        let deadline = ContinuousClock.now + .seconds(30)
        while logs.contains(where: { $0.phase != .ready }) {
            if case .failed(let failure) = logs[0].phase { throw failure }
            guard ContinuousClock.now < deadline else { throw ValidationError("PostgreSQL not ready after 30 s: \(logs[0].phase)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func stop() async {
        for log in logs { log.close() }
        for task in tasks { task.cancel(); _ = await task.result }
    }
}
