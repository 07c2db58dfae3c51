import ArgumentParser
import HeraldCore

struct Token: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage access tokens.", subcommands: [New.self])

    struct New: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a fresh random token once, and the config line that stores only its SHA-256.")

        @Argument(help: "A name for the token (shown in logs and sessions).")
        var name: String
        @Option(help: "Channel selectors it may read.")
        var subscribe: [String] = ["#"]
        @Option(help: "Channel selectors it may publish to.")
        var publish: [String] = []
        @Flag(help: "May also acknowledge alerts and read /metrics; --subscribe and --publish still bound what it reads and writes.")
        var admin = false

        func run() throws {
            let token = TokenAuthority.newToken()
            func list(_ items: [String]) -> String { "[" + items.map { JSONText.quoted($0) }.joined(separator: ", ") + "]" }
            print("token (shown once, keep it secret): \(token)")
            print("add under tokens: in the configuration:")
            print("  - { name: \(JSONText.quoted(name)), sha256: \"\(TokenAuthority.sha256Hex(token))\", "
                  + "subscribe: \(list(subscribe)), publish: \(list(publish)), admin: \(admin) }")
        }
    }
}
