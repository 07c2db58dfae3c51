/// A JSON validator that builds no tree.
///
/// Herald stores `data` exactly as it was sent (key order, number spelling), so it only needs
/// to know that the text is JSON and where the members of a top-level object or array are.
/// Errors say where the text went wrong, which a 400 answer passes on.
public struct JSONText: Sendable {
    public let bytes: [UInt8]

    /// Validates `bytes` as one JSON value (surrounding whitespace allowed).
    public init(validating bytes: [UInt8]) throws(JSONSyntaxError) {
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw JSONSyntaxError(message: "text is not valid UTF-8", offset: 0, in: bytes)
        }
        var scanner = Scanner(bytes: bytes)
        scanner.skipSpace()
        _ = try scanner.value(depth: 0)
        scanner.skipSpace()
        guard scanner.index == bytes.count else {
            throw scanner.error("unexpected text after the JSON value")
        }
        self.bytes = bytes
    }

    /// The text on one line: CR, LF and tab can only be insignificant whitespace in valid JSON
    /// (inside strings they must be escaped), so replacing them with spaces keeps the meaning.
    public var singleLine: String {
        var copy = bytes[...]
        while let first = copy.first, Scanner.isSpace(first) { copy = copy.dropFirst() }
        while let last = copy.last, Scanner.isSpace(last) { copy = copy.dropLast() }
        // Most values are on one line already (a reading's `21.4`): no copy of the bytes then.
        if !copy.contains(where: { $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return String(decoding: copy, as: UTF8.self) }
        let flattened = copy.map { $0 == 0x0A || $0 == 0x0D || $0 == 0x09 ? UInt8(ascii: " ") : $0 }
        return String(decoding: flattened, as: UTF8.self)
    }

    /// Members of a top-level object, in order, with each value as its own `JSONText`.
    public func objectMembers() throws(JSONSyntaxError) -> [(key: String, value: JSONText)] {
        var scanner = Scanner(bytes: bytes)
        scanner.skipSpace()
        guard scanner.peek == UInt8(ascii: "{") else { throw scanner.error("expected a JSON object") }
        return try scanner.members().map { ($0.key, JSONText(trusted: Array(bytes[$0.value]))) }
    }

    /// Elements of a top-level array.
    public func arrayElements() throws(JSONSyntaxError) -> [JSONText] {
        var scanner = Scanner(bytes: bytes)
        scanner.skipSpace()
        guard scanner.peek == UInt8(ascii: "[") else { throw scanner.error("expected a JSON array") }
        return try scanner.elements().map { JSONText(trusted: Array(bytes[$0])) }
    }

    /// The value when it is a JSON string.
    public var stringValue: String? {
        var scanner = Scanner(bytes: bytes)
        scanner.skipSpace()
        guard scanner.peek == UInt8(ascii: "\""), let s = try? scanner.string() else { return nil }
        return s
    }

    public var isNull: Bool { singleLine == "null" }

    private init(trusted bytes: [UInt8]) { self.bytes = bytes }

    /// JSON for a Swift string, with everything escaped that JSON and the SSE wire need.
    public static func quoted(_ string: String) -> String {
        var out = "\""
        out.reserveCapacity(string.utf8.count + 2)
        // Nearly every name, key and type needs no escape: check the bytes once, copy them whole.
        guard string.containsByte(where: needsEscape) else {
            out += string
            out += "\""
            return out
        }
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
        return out
    }

    /// Bytes that `quoted` must rewrite: `"`, `\`, controls, DEL, and the lead byte of U+2028/U+2029.
    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == 0x22 || byte == 0x5C || byte == 0x7F || byte == 0xE2
    }
}

public struct JSONSyntaxError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public var offset: Int
    public var line: Int
    public var column: Int

    init(message: String, offset: Int, in bytes: [UInt8]) {
        self.message = message
        self.offset = offset
        let before = bytes[..<min(offset, bytes.count)]
        self.line = before.count(where: { $0 == 0x0A }) + 1
        self.column = offset - (before.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0) + 1
    }

    public var description: String { "\(message) at line \(line), column \(column)" }
}

private struct Scanner {
    let bytes: [UInt8]
    var index = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }

    func error(_ message: String) -> JSONSyntaxError {
        JSONSyntaxError(message: message, offset: index, in: bytes)
    }

    mutating func skipSpace() {
        while let b = peek, Scanner.isSpace(b) { index += 1 }
    }

    mutating func expect(_ byte: UInt8, _ what: String) throws(JSONSyntaxError) {
        guard peek == byte else { throw error("expected \(what)") }
        index += 1
    }

    /// Scans one value and returns its byte range.
    mutating func value(depth: Int) throws(JSONSyntaxError) -> Range<Int> {
        guard depth < 64 else { throw error("JSON nested deeper than 64 levels") }
        let start = index
        guard let byte = peek else { throw error("unexpected end of JSON") }
        switch byte {
        case UInt8(ascii: "{"):
            _ = try members(depth: depth + 1)
        case UInt8(ascii: "["):
            _ = try elements(depth: depth + 1)
        case UInt8(ascii: "\""):
            _ = try string()
        case UInt8(ascii: "t"):
            try literal("true")
        case UInt8(ascii: "f"):
            try literal("false")
        case UInt8(ascii: "n"):
            try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try number()
        default:
            throw error("unexpected character")
        }
        return start..<index
    }

    mutating func members(depth: Int = 1) throws(JSONSyntaxError) -> [(key: String, value: Range<Int>)] {
        try expect(UInt8(ascii: "{"), "'{'")
        var result: [(key: String, value: Range<Int>)] = []
        skipSpace()
        if peek == UInt8(ascii: "}") { index += 1; return result }
        while true {
            skipSpace()
            guard peek == UInt8(ascii: "\"") else { throw error("expected a member name in double quotes") }
            let key = try string()
            skipSpace()
            try expect(UInt8(ascii: ":"), "':' after member name")
            skipSpace()
            result.append((key, try value(depth: depth)))
            skipSpace()
            if peek == UInt8(ascii: ",") { index += 1; continue }
            try expect(UInt8(ascii: "}"), "',' or '}'")
            return result
        }
    }

    mutating func elements(depth: Int = 1) throws(JSONSyntaxError) -> [Range<Int>] {
        try expect(UInt8(ascii: "["), "'['")
        var result: [Range<Int>] = []
        skipSpace()
        if peek == UInt8(ascii: "]") { index += 1; return result }
        while true {
            skipSpace()
            result.append(try value(depth: depth))
            skipSpace()
            if peek == UInt8(ascii: ",") { index += 1; continue }
            try expect(UInt8(ascii: "]"), "',' or ']'")
            return result
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONSyntaxError) {
        let expected = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        guard bytes.count - index >= expected.count, bytes[index..<index + expected.count].elementsEqual(expected) else {
            throw error("unexpected character")
        }
        index += expected.count
    }

    mutating func number() throws(JSONSyntaxError) {
        if peek == UInt8(ascii: "-") { index += 1 }
        if peek == UInt8(ascii: "0") {
            index += 1
        } else {
            guard try digits() > 0 else { throw error("expected a digit") }
        }
        if peek == UInt8(ascii: ".") {
            index += 1
            guard try digits() > 0 else { throw error("expected a digit after '.'") }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            index += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
            guard try digits() > 0 else { throw error("expected a digit in the exponent") }
        }
    }

    mutating func digits() throws(JSONSyntaxError) -> Int {
        let start = index
        while let b = peek, b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") { index += 1 }
        return index - start
    }

    /// Scans a string and returns its decoded value.
    mutating func string() throws(JSONSyntaxError) -> String {
        try expect(UInt8(ascii: "\""), "'\"'")
        var decoded: [UInt8] = []
        while true {
            guard let b = peek else { throw error("unterminated string") }
            index += 1
            switch b {
            case UInt8(ascii: "\""):
                return String(decoding: decoded, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try escape(into: &decoded)
            case ..<0x20:
                index -= 1
                throw error("control character in string (escape it)")
            default:
                decoded.append(b)
            }
        }
    }

    mutating func escape(into decoded: inout [UInt8]) throws(JSONSyntaxError) {
        guard let e = peek else { throw error("unterminated string") }
        index += 1
        switch e {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(e)
        case UInt8(ascii: "b"): decoded.append(0x08)
        case UInt8(ascii: "f"): decoded.append(0x0C)
        case UInt8(ascii: "n"): decoded.append(0x0A)
        case UInt8(ascii: "r"): decoded.append(0x0D)
        case UInt8(ascii: "t"): decoded.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hex4()
            if (0xD800..<0xDC00).contains(scalar), peek == UInt8(ascii: "\\"),
               index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") {
                index += 2
                let low = try hex4()
                guard (0xDC00..<0xE000).contains(low) else { throw error("invalid surrogate pair") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            let unicode = Unicode.Scalar(scalar) ?? "\u{FFFD}"
            decoded.append(contentsOf: String(Character(unicode)).utf8)
        default:
            index -= 1
            throw error("invalid escape in string")
        }
    }

    mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
        guard bytes.count - index >= 4 else { throw error("short \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[index]
            let digit: UInt32
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(b - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(b - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(b - UInt8(ascii: "A") + 10)
            default: throw error("invalid hex digit in \\u escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }
}
