/// Validation of the names that end up on the SSE wire: channels, types, keys.
///
/// The rules live here so every door (HTTP, MQTT routes, config) refuses the same things,
/// and the SSE encoder can trust what it is given.
public enum Names {
    /// A channel name: 1–128 of `A-Z a-z 0-9 _ . - / :`. Names starting with `$` are Herald's own.
    public static func validateChannel(_ name: String, allowReserved: Bool = false) throws(InvalidName) {
        let bytes = Array(name.utf8)
        if bytes.isEmpty || bytes.count > 128 {
            throw InvalidName(field: "channel", value: name, reason: "must be 1–128 characters")
        }
        var body = bytes[...]
        if bytes[0] == UInt8(ascii: "$") {
            guard allowReserved else {
                throw InvalidName(field: "channel", value: name, reason: "names starting with '$' are reserved for Herald")
            }
            body = bytes.dropFirst()
        }
        guard body.allSatisfy(isChannelByte) else {
            throw InvalidName(field: "channel", value: name, reason: "allowed characters are A-Z a-z 0-9 _ . - / :")
        }
    }

    /// Event types: like channel names but up to 64 characters and never `$`-prefixed from outside.
    public static func validateType(_ type: String) throws(InvalidName) {
        let bytes = Array(type.utf8)
        guard !bytes.isEmpty, bytes.count <= 64, bytes.allSatisfy(isChannelByte) else {
            throw InvalidName(field: "type", value: type, reason: "must be 1–64 of A-Z a-z 0-9 _ . - / :")
        }
    }

    /// Keys name the thing an event is about; any printable text up to 256 bytes, but never CR, LF or NUL
    /// (nor other control characters), which could split an SSE line, nor the bidirectional
    /// controls that make text shown on the dashboard read other than it is (U+202A–202E, U+2066–2069).
    public static func validateKey(_ key: String) throws(InvalidName) {
        let bytes = key.utf8
        if bytes.isEmpty { throw InvalidName(field: "key", value: key, reason: "the key is empty") }
        if bytes.count > 256 {
            throw InvalidName(field: "key", value: key, reason: "key longer than 256 bytes (\(bytes.count))")
        }
        if bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            throw InvalidName(field: "key", value: key, reason: "control characters (CR, LF, NUL, …) are not allowed")
        }
        if bytes.contains(where: { $0 >= 0x80 }), key.unicodeScalars.contains(where: isBidiControl) {
            throw InvalidName(field: "key", value: key, reason: "bidirectional text controls (U+202A–202E, U+2066–2069) are not allowed")
        }
    }

    static func isBidiControl(_ scalar: Unicode.Scalar) -> Bool {
        (0x202A...0x202E).contains(scalar.value) || (0x2066...0x2069).contains(scalar.value)
    }

    private static func isChannelByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "/"), UInt8(ascii: ":"):
            return true
        default:
            return false
        }
    }
}

public struct InvalidName: Error, CustomStringConvertible, Equatable {
    public var field: String
    public var value: String
    public var reason: String
    public var description: String {
        "invalid \(field) \(String(reflecting: value.prefix(80))): \(reason)"
    }
}
