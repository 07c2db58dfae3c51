/// The `value_template` forms devices really send in Home Assistant discovery configs
/// (https://www.home-assistant.io/docs/configuration/templating/#processing-incoming-data):
/// `{{ value }}`, `{{ value_json.a.b }}`, `{{ value_json['a']["b"] }}`, `{{ value_json.list[0] }}`,
/// followed by `| float`, `| int`, `| round(n)` (with or without a default, `float(0)`). Herald
/// has no Jinja; anything else is refused when the config is read, and the value kept as it came.
struct ValueTemplate: Sendable, Equatable {
    enum Step: Sendable, Equatable {
        case member(String)
        case index(Int)
    }

    enum Filter: Sendable, Equatable {
        case float, int
        case round(Int)
    }

    /// nil: the payload itself (`{{ value }}`); otherwise the path into `value_json`.
    var path: [Step]?
    var filters: [Filter] = []

    static let identity = ValueTemplate(path: nil)

    struct Unsupported: Error, CustomStringConvertible {
        var template: String
        var description: String { "value_template \(JSONText.quoted(template)) is not one Herald evaluates" }
    }

    init(path: [Step]?, filters: [Filter] = []) {
        self.path = path
        self.filters = filters
    }

    init(_ template: String) throws(Unsupported) {
        var text = template.trimmingSpaces[...]
        guard text.hasPrefix("{{"), text.hasSuffix("}}") else { throw Unsupported(template: template) }
        text = text.dropFirst(2).dropLast(2)
        var pieces = text.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingSpacesSubstring }
        let expression = pieces.removeFirst()
        if expression == "value" {
            path = nil
        } else if expression.hasPrefix("value_json") {
            guard let steps = Self.steps(expression.dropFirst(10)) else { throw Unsupported(template: template) }
            path = steps
        } else {
            throw Unsupported(template: template)
        }
        for piece in pieces {
            if piece == "float" || piece.hasPrefix("float(") { filters.append(.float) }
            else if piece == "int" || piece.hasPrefix("int(") { filters.append(.int) }
            else if piece.hasPrefix("round(") || piece == "round" {
                let digits = piece.dropFirst(6).prefix { $0.isNumber }
                filters.append(.round(Int(digits) ?? 0))
            } else {
                throw Unsupported(template: template)
            }
        }
    }

    /// `.a.b`, `['a']`, `["a"]`, `[0]` in any mix.
    private static func steps(_ text: Substring) -> [Step]? {
        var rest = text
        var steps: [Step] = []
        while let first = rest.first {
            if first == "." {
                rest = rest.dropFirst()
                let name = rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
                guard !name.isEmpty else { return nil }
                steps.append(.member(String(name)))
                rest = rest.dropFirst(name.count)
            } else if first == "[" {
                guard let close = rest.firstIndex(of: "]") else { return nil }
                let inner = rest[rest.index(after: rest.startIndex)..<close].trimmingSpacesSubstring
                if let quote = inner.first, quote == "'" || quote == "\"", inner.count >= 2, inner.last == quote {
                    steps.append(.member(String(inner.dropFirst().dropLast())))
                } else if let index = Int(inner), index >= 0 {
                    steps.append(.index(index))
                } else {
                    return nil
                }
                rest = rest[rest.index(after: close)...]
            } else {
                return nil
            }
        }
        return steps
    }

    /// The value as JSON text, or nil when the payload has no such value.
    func apply(to payload: [UInt8]) -> String? {
        var value: JSONText
        if let path {
            guard var current = try? JSONText(validating: payload) else { return nil }
            for step in path {
                switch step {
                case .member(let name):
                    guard let next = (try? current.objectMembers())?.last(where: { $0.key == name })?.value else { return nil }
                    current = next
                case .index(let index):
                    guard let elements = try? current.arrayElements(), index < elements.count else { return nil }
                    current = elements[index]
                }
            }
            value = current
        } else {
            guard let text = String(validating: payload, as: UTF8.self)?.trimmingSpaces else { return nil }
            if let number = JSONNumber.parse(text) {
                value = (try? JSONText(validating: Array(jsonNumber(number).utf8))) ?? JSONText.string(text)
            } else {
                value = JSONText.string(text)
            }
        }
        guard !filters.isEmpty else { return value.singleLine }
        guard var number = value.numberValue ?? value.stringValue.flatMap({ JSONNumber.parse($0.trimmingSpaces) }) else { return nil }
        for filter in filters {
            switch filter {
            case .float: break
            case .int: number = number.rounded(.towardZero)
            case .round(let digits):
                let scale = pow10(digits)
                number = (number * scale).rounded() / scale
            }
        }
        return jsonNumber(number)
    }

    private func pow10(_ digits: Int) -> Double {
        var scale = 1.0
        for _ in 0..<max(0, min(digits, 12)) { scale *= 10 }
        return scale
    }
}
