import ArgumentParser
import Foundation
import HeraldCore
import Logging

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run Herald.")

    @Option(help: "YAML configuration file (default: embedded defaults).")
    var config: String?
    @Option(help: "Listen address HOST:PORT (overrides server.listen; port 0 picks a free one).")
    var listen: String?
    @Option(help: "SQLite database file, or postgres://USER@HOST:PORT/DB (overrides store.path).")
    var db: String?
    @Option(help: "Broker URL mqtt://HOST:PORT (overrides mqtt.url), or 'none' to run without MQTT.")
    var mqtt: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func run() async throws {
        var settings = try loadConfig()
        if let listen {
            guard let address = ListenAddress(parsing: listen) else { throw ValidationError("--listen must be HOST:PORT") }
            settings.server.listen = address
        }
        if let db { settings.store.path = db }
        if let mqtt {
            if mqtt == "none" {
                settings.mqtt.enabled = false
            } else {
                guard let parsed = HeraldConfig.MQTT(brokerURL: mqtt) else {
                    throw ValidationError("--mqtt must be mqtt://HOST:PORT, mqtts://HOST:PORT or none")
                }
                settings.mqtt.host = parsed.host
                settings.mqtt.port = parsed.port
                settings.mqtt.tls = parsed.tls
            }
        }
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "herald")
        do {
            try await HeraldServer.run(config: settings, logger: logger)
        } catch let error as HeraldServer.StartupError {
            logger.critical("\(error.description)")
            throw ExitCode(2)
        }
    }

    private func loadConfig() throws -> HeraldConfig {
        guard let config else { return HeraldConfig() }
        return try loadConfiguration(config)
    }
}

/// The file, or exit 2 with every problem it has.
func loadConfiguration(_ path: String) throws -> HeraldConfig {
    do {
        return try ConfigLoader.load(path: path)
    } catch {
        FileHandle.standardError.write(Data("herald: configuration \(path) is not valid:\n\(error)\n".utf8))
        throw ExitCode(2)
    }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Validate a configuration file; lists every problem with its line.")

    @Argument(help: "The YAML file.")
    var file: String

    func run() throws {
        do {
            let config = try ConfigLoader.load(path: file)
            try HeraldServer.checkListenAddress(config)
            try HeraldRuntime.checkStore(config)
            let sources = config.sources.sourceNames
            print("\(file): OK (listen \(config.server.listen), database \(config.store.path), \(config.routes.count) routes, "
                  + (sources.isEmpty ? "no sources" : "sources \(sources.joined(separator: ", "))")
                  + (config.notify.isEmpty ? "" : ", notify \(config.notify.map { "\($0.name) (\($0.kind.name))" }.joined(separator: ", "))") + ")")
        } catch let error as ConfigError {
            for problem in error.problems { print("\(file):\(problem.line.map { "\($0):" } ?? "") \(problem.message)") }
            throw ExitCode(1)
        } catch {
            print("\(file): \(error)")
            throw ExitCode(1)
        }
    }
}
