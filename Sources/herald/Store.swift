import ArgumentParser
import Foundation
import HeraldCore
import Logging

struct Store: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The event store.", subcommands: [Copy.self])

    struct Copy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy an SQLite store into an empty PostgreSQL database, ids and all, to run several nodes on it.",
            discussion: "Stop the Herald that uses the SQLite store first. The copy is one transaction: all of it or nothing.")

        @Option(help: "The SQLite store (a stopped Herald's store.path).")
        var from: String
        @Option(help: "postgres://USER[:PASSWORD]@HOST:PORT/DB (password_file= and sslmode= as for --db).")
        var to: String

        func run() async throws {
            var logger = Logger(label: "herald")
            logger.logLevel = .warning
            do {
                let copied = try await StoreCopy.copy(sqlite: from, to: to, logger: logger)
                for (table, rows) in copied.rows.sorted(by: { $0.key < $1.key }) where rows > 0 { print("\(table): \(rows)") }
                print("copied; ids continue after \(copied.headId)")
            } catch {
                FileHandle.standardError.write(Data("herald: \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
    }
}
