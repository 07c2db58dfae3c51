/// An MQTT-style filter over `/`-separated names: `+` matches one segment, a final `#` the rest.
///
/// Used both for channel selectors (`sensors/+`, `#`) and MQTT topic filters in routes.
/// Following MQTT, a wildcard in the first segment never matches a name starting with `$`:
/// Herald's own channels (`$status`, `$deadletter`) have to be asked for by name.
public struct Selector: Sendable, Hashable, CustomStringConvertible {
    enum Segment: Sendable, Hashable {
        case literal(Substring)
        case one
        case rest
    }

    public let text: String
    let segments: [Segment]
    let hasWildcard: Bool

    public init(_ text: String) throws(InvalidSelector) {
        guard !text.isEmpty, text.utf8.count <= 256 else {
            throw InvalidSelector(text: text, reason: "must be 1–256 characters")
        }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        var segments: [Segment] = []
        for (index, part) in parts.enumerated() {
            switch part {
            case "+":
                segments.append(.one)
            case "#":
                guard index == parts.count - 1 else {
                    throw InvalidSelector(text: text, reason: "'#' must be the last segment")
                }
                segments.append(.rest)
            default:
                if part.contains("+") || part.contains("#") {
                    throw InvalidSelector(text: text, reason: "wildcards '+' and '#' must fill a whole segment")
                }
                if part.utf8.contains(where: { $0 < 0x20 }) {
                    throw InvalidSelector(text: text, reason: "control characters are not allowed")
                }
                segments.append(.literal(part))
            }
        }
        self.text = text
        self.segments = segments
        self.hasWildcard = segments.contains { !$0.isLiteral }
    }

    public var description: String { text }

    /// Whether `name` matches; `captures` receives what each `+` matched and, last, what `#` matched.
    public func matches(_ name: String) -> Bool {
        var ignored: [Substring] = []
        return match(name, captures: &ignored)
    }

    public func match(_ name: String, captures: inout [Substring]) -> Bool {
        if !hasWildcard { return name == text }
        if name.hasPrefix("$"), let first = segments.first, !first.isLiteral { return false }
        var rest = name[...]
        for (index, segment) in segments.enumerated() {
            switch segment {
            case .rest:
                // `a/#` also matches `a` itself, as in MQTT.
                captures.append(rest)
                return true
            case .one, .literal:
                let end = rest.firstIndex(of: "/") ?? rest.endIndex
                let part = rest[rest.startIndex..<end]
                if case .literal(let expected) = segment, part != expected { return false }
                if case .one = segment { captures.append(part) }
                let isLast = index == segments.count - 1
                if end == rest.endIndex {
                    if isLast { return true }
                    // Name ran out: only a trailing `#` may still match (`a/#` against `a`).
                    if index == segments.count - 2, segments[index + 1] == .rest {
                        captures.append(rest[end...])
                        return true
                    }
                    return false
                }
                if isLast { return false }
                rest = rest[rest.index(after: end)...]
            }
        }
        return rest.isEmpty
    }
}

extension Selector.Segment {
    var isLiteral: Bool {
        if case .literal = self { return true }
        return false
    }
}

public struct InvalidSelector: Error, CustomStringConvertible, Equatable {
    public var text: String
    public var reason: String
    public var description: String { "invalid selector \(String(reflecting: text)): \(reason)" }
}

/// A set of selectors, matched as one: an event passes if any selector matches it.
public struct SelectorSet: Sendable {
    public let selectors: [Selector]
    private let exact: Set<String>
    private let wildcards: [Selector]

    public init(_ selectors: [Selector]) {
        self.selectors = selectors
        self.exact = Set(selectors.filter { !$0.hasWildcard }.map(\.text))
        self.wildcards = selectors.filter(\.hasWildcard)
    }

    public static let all = SelectorSet([try! Selector("#")])

    public func matches(_ channel: String) -> Bool {
        if exact.contains(channel) { return true }
        return wildcards.contains { $0.matches(channel) }
    }
}
