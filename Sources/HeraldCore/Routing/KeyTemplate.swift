/// A route's key (or type) pattern: literal text with `{1}`, `{2}`… for the segments that matched
/// `+`, `{#}` for what matched `#`, and `{$path}` for a field of the payload (`{$machine.id}`).
enum KeyTemplate {
    enum Part: Equatable {
        case literal(String)
        case plus(Int)
        case rest
        case field(String)
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
            } else if name.hasPrefix("$"), name.count > 1 {
                parts.append(.field(String(name.dropFirst())))
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
            return "key '\(template)' has an unknown placeholder (use {1}, {2}, …, {#} or {$field.path})"
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

    /// Fills the template from a match's captures (the `+` segments in order, then `#`'s rest);
    /// payload fields stay parts, for `render(_:payload:)`.
    static func render(_ parts: [Part], captures: [Substring], hasRest: Bool) -> [Part] {
        var out: [Part] = []
        var text = ""
        for part in parts {
            switch part {
            case .literal(let literal): text += literal
            case .plus(let index): text += captures[index - 1]
            case .rest: text += hasRest ? captures[captures.count - 1] : ""
            case .field:
                if !text.isEmpty { out.append(.literal(text)) }
                text = ""
                out.append(part)
            }
        }
        if !text.isEmpty || out.isEmpty { out.append(.literal(text)) }
        return out
    }

    /// The text of parts without payload fields, or nil when there are fields.
    static func text(_ parts: [Part]) -> String? {
        guard parts.count == 1, case .literal(let text) = parts[0] else { return nil }
        return text
    }

    /// Fills payload fields in; nil names the field the payload does not have.
    static func render(_ parts: [Part], payload: JSONText?) -> Result<String, MissingField> {
        var out = ""
        for part in parts {
            switch part {
            case .literal(let text): out += text
            case .field(let path):
                guard let value = payload?.value(at: path), !value.isContainer, !value.isNull else { return .failure(MissingField(path: path)) }
                out += value.stringValue ?? value.singleLine
            case .plus, .rest: break
            }
        }
        return .success(out)
    }

    struct MissingField: Error {
        var path: String
    }
}
