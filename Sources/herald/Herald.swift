import ArgumentParser
import Foundation
import HeraldCore

@main
struct Herald: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "herald",
        abstract: "Relays MQTT messages to Server-Sent Event streams, with durable ids and exact resume.",
        subcommands: [Serve.self, Tail.self, Publish.self, Channels.self, CheckConfig.self, Token.self, Demo.self, Discover.self, Notify.self, Store.self],
        defaultSubcommand: Serve.self)
}

/// Where the client commands find a running Herald.
struct ServerOption: ParsableArguments {
    @Option(name: .long, help: "Herald's base URL.")
    var url = "http://127.0.0.1:8080"
    @Option(name: .long, help: "Access token (default: $HERALD_TOKEN).")
    var token: String?

    var headers: [(String, String)] {
        guard let token = token ?? ProcessInfo.processInfo.environment["HERALD_TOKEN"] else { return [] }
        return [("Authorization", "Bearer " + token)]
    }

    func endpoint(_ path: String) -> String {
        (url.hasSuffix("/") ? String(url.dropLast()) : url) + path
    }
}
