/// Reading and extending the JSON of event data without building a tree.
extension JSONText {
    /// The value at a dotted path (`value`, `reading.celsius`) inside nested objects.
    public func value(at path: String) -> JSONText? {
        var current = self
        for name in path.split(separator: ".") {
            guard let members = try? current.objectMembers(),
                  let next = members.last(where: { $0.key == name })?.value else { return nil }
            current = next
        }
        return current
    }

    /// An object or an array, not a single value.
    public var isContainer: Bool {
        guard let first = bytes.first(where: { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }) else { return false }
        return first == UInt8(ascii: "{") || first == UInt8(ascii: "[")
    }

    public var numberValue: Double? {
        let text = singleLine
        guard let first = text.first, first == "-" || first.isNumber else { return nil }
        return Double(text)
    }

    /// `{"a":1}` + [("b", "2")] → `{"a":1,"b":2}`; nil when the text is not an object.
    public static func object(_ objectText: String, appending members: [(String, String)]) -> String? {
        guard !members.isEmpty else { return objectText }
        var text = Substring(objectText)
        while text.last == " " { text.removeLast() }
        guard text.first == "{", text.last == "}" else { return nil }
        text.removeLast()
        let isEmpty = text.dropFirst().allSatisfy { $0 == " " }
        let added = members.map { quoted($0.0) + ":" + $0.1 }.joined(separator: ",")
        return String(text) + (isEmpty ? "" : ",") + added + "}"
    }
}

/// Numbers in JSON: finite, and without a trailing `.0` noise for whole values.
func jsonNumber(_ value: Double) -> String {
    guard value.isFinite else { return "null" }
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    return String(value)
}

func jsonNumber(_ value: Double?) -> String { value.map(jsonNumber) ?? "null" }
func jsonString(_ value: String?) -> String { value.map(JSONText.quoted) ?? "null" }
func jsonTime(_ milliseconds: Int64?) -> String {
    milliseconds.map { "\"" + Clock.iso8601(milliseconds: $0) + "\"" } ?? "null"
}

extension JSONText {
    static func string(_ text: String) -> JSONText {
        // A quoted string is always valid JSON.
        try! JSONText(validating: Array(JSONText.quoted(text).utf8))
    }
}

/// Text that is a number as JSON writes one (`21.5`, `-3`, `1e3`): not Swift's wider `Double`
/// syntax, which also reads `0x1A`, `inf` and `nan`.
enum JSONNumber {
    static func parse(_ text: String) -> Double? {
        guard let first = text.utf8.first, first == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first),
              text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")
                  || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }),
              let value = Double(text), value.isFinite else { return nil }
        return value
    }
}
