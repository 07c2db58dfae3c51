/// A route's key pattern: literal text with `{1}`, `{2}`… for the segments that matched `+`
/// and `{#}` for what matched `#`.
enum KeyTemplate {
    enum Part: Equatable {
        case literal(String)
        case plus(Int)
        case rest
    }

    static func parts(_ template: String) -> [Part]? {
        var parts: [Part] = []
        var rest = template[...]
        while let open = rest.firstIndex(of: "{") {
            if open > rest.startIndex { parts.append(.literal(String(rest[..<open]))) }
            guard let close = rest[open...].firstIndex(of: "}") else { return nil }
            let name = rest[rest.index(after: open)..<close]
            if name == "#" {
                parts.append(.rest)
            } else if let index = Int(name), index >= 1 {
                parts.append(.plus(index))
            } else {
                return nil
            }
            rest = rest[rest.index(after: close)...]
        }
        if !rest.isEmpty { parts.append(.literal(String(rest))) }
        return parts
    }

    /// Why the template cannot work with this topic filter, or nil.
    static func problem(in template: String, for topic: Selector) -> String? {
        guard let parts = parts(template) else {
            return "key '\(template)' has an unknown placeholder (use {1}, {2}, … or {#})"
        }
        let plusCount = topic.segments.count { $0 == .one }
        let hasRest = topic.segments.last == .rest
        for part in parts {
            switch part {
            case .plus(let index) where index > plusCount:
                return "key '\(template)' uses {\(index)} but topic '\(topic)' has only \(plusCount) '+'"
            case .rest where !hasRest:
                return "key '\(template)' uses {#} but topic '\(topic)' does not end in '#'"
            default:
                continue
            }
        }
        return nil
    }

    /// Fills the template from a match's captures (the `+` segments in order, then `#`'s rest).
    static func render(_ parts: [Part], captures: [Substring], hasRest: Bool) -> String {
        var out = ""
        for part in parts {
            switch part {
            case .literal(let text): out += text
            case .plus(let index): out += captures[index - 1]
            case .rest: out += hasRest ? captures[captures.count - 1] : ""
            }
        }
        return out
    }
}
