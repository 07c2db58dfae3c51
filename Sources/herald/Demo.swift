import ArgumentParser
import HeraldCore

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish a simulated feed over MQTT: sensors with noise and threshold crossings, and jobs.")

    @Option(help: "Broker URL.")
    var mqtt = "mqtt://127.0.0.1:1883"
    @Option(help: "Seconds between sensor rounds.")
    var interval = 1.0
    @Option(help: "Stop after this many seconds (default: run until interrupted).")
    var duration: Double?

    func run() async throws {
        guard let broker = HeraldConfig.MQTT(brokerURL: mqtt) else {
            throw ValidationError("--mqtt must be mqtt://HOST:PORT")
        }
        try await DemoFeed(host: broker.host, port: broker.port, interval: interval).run(for: duration)
    }
}
