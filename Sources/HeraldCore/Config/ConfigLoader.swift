import Foundation
import Yams

/// Reads the YAML configuration, collecting every problem with its line instead of stopping at
/// the first, so `herald check-config` can list them all.
public enum ConfigLoader {
    public static func load(path: String) throws(ConfigError) -> HeraldConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(problems: [.init(line: nil, message: "cannot read \(path): \(error.localizedDescription)")])
        }
        return try parse(text)
    }

    public static func parse(_ text: String) throws(ConfigError) -> HeraldConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ConfigError(problems: [Self.problem(from: error)])
        } catch {
            throw ConfigError(problems: [.init(line: nil, message: "\(error)")])
        }
        var reader = ConfigReader()
        var config = HeraldConfig()
        if let root { reader.read(root, into: &config) }
        if !reader.problems.isEmpty {
            throw ConfigError(problems: reader.problems.sorted { ($0.line ?? 0) < ($1.line ?? 0) })
        }
        return config
    }

    private static func problem(from error: YamlError) -> ConfigError.Problem {
        switch error {
        case let .scanner(_, problem, mark, _), let .parser(_, problem, mark, _), let .composer(_, problem, mark, _):
            return .init(line: mark.line, message: "YAML syntax: \(problem)")
        default:
            return .init(line: nil, message: "YAML: \(error)")
        }
    }
}

public struct ConfigError: Error, CustomStringConvertible {
    public struct Problem: Sendable, CustomStringConvertible {
        public var line: Int?
        public var message: String
        public var description: String { line.map { "line \($0): \(message)" } ?? message }
    }

    public var problems: [Problem]
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
