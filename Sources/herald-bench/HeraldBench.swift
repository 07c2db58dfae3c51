import ArgumentParser

/// Load generator for Herald (and, for comparison, nchan): SSE fan-out, MQTT ingest, replay,
/// reconnect storms.
/// Loopback only; every run is bounded in count and in time.
@main
struct HeraldBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "herald-bench",
        abstract: "Measures SSE fan-out, MQTT ingest, replay and reconnect storms on 127.0.0.1; prints a table and one JSON line.",
        subcommands: [Fanout.self, Ingest.self, Replay.self, Storm.self, StoreBench.self],
        defaultSubcommand: Fanout.self)
}
