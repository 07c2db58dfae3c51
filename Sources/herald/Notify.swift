import ArgumentParser
import Foundation
import HeraldCore
import Logging

struct Notify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Notification targets (notify: in the configuration).",
                                                    subcommands: [Test.self])

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send a test notification to one target now.")

        @Argument(help: "The target's name.")
        var name: String
        @Option(help: "YAML configuration file.")
        var config: String
        @Option(help: "The store: an SQLite path or a postgres:// URL (overrides store.path; Web Push reads its subscriptions there).")
        var db: String?

        func run() async throws {
            var settings = try loadConfiguration(config)
            if let db { settings.store.path = db }
            var logger = Logger(label: "herald")
            logger.logLevel = .warning
            do {
                let outcome = try await NotifyTest.send(target: name, config: settings, logger: logger)
                print("\(name): \(outcome.detail)")
                if !outcome.sent { throw ExitCode(1) }
            } catch let error as HeraldServer.StartupError {
                FileHandle.standardError.write(Data("herald: \(error.description)\n".utf8))
                throw ExitCode(2)
            }
        }
    }
}
