import ArgumentParser
import Foundation
import HeraldCore

struct Discover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Listen to a broker and print the sources, devices, readings and jobs Herald finds, and the topics nothing takes.",
        discussion: "Uses a clean session of its own and stores nothing; the routes and sources of --config apply.")

    @Option(help: "Broker URL.")
    var mqtt = "mqtt://127.0.0.1:1883"
    @Option(help: "How long to listen, in seconds (retained messages arrive at once).")
    var seconds = 10.0
    @Option(help: "YAML configuration whose routes and sources apply (default: the embedded defaults).")
    var config: String?

    func run() async throws {
        guard seconds > 0, seconds <= 3600 else { throw ValidationError("--seconds must be in 0…3600") }
        guard let broker = HeraldConfig.MQTT(brokerURL: mqtt) else {
            throw ValidationError("--mqtt must be mqtt://HOST:PORT")
        }
        var settings = HeraldConfig()
        if let config {
            do { settings = try ConfigLoader.load(path: config) } catch {
                FileHandle.standardError.write(Data("herald: configuration \(config) is not valid:\n\(error)\n".utf8))
                throw ExitCode(2)
            }
        }
        // The broker of --mqtt, with the login and TLS settings of the file.
        settings.mqtt.host = broker.host
        settings.mqtt.port = broker.port
        settings.mqtt.tls = broker.tls || settings.mqtt.tls
        print("herald discover: listening to mqtt://\(broker.host):\(broker.port) for \(jsonlessSeconds) s…")
        do {
            print(try await Discovery(config: settings).run(seconds: seconds), terminator: "")
        } catch let error as DiscoveryError {
            FileHandle.standardError.write(Data("herald discover: \(error.description)\n".utf8))
            throw ExitCode(1)
        } catch let error as HeraldServer.StartupError {
            FileHandle.standardError.write(Data("herald discover: \(error.description)\n".utf8))
            throw ExitCode(2)
        }
    }

    private var jsonlessSeconds: String { seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds) }
}
