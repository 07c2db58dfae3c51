/// RFC 4648 §5 base64url, the alphabet Web Push uses for keys, auth secrets and JWTs: written
/// without padding (RFC 8292 and `PushSubscription.toJSON()` omit it), read with or without.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// The unpadded text of `bytes`.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let input = Array(bytes)
        var out: [UInt8] = []
        out.reserveCapacity((input.count * 4 + 2) / 3)
        var index = 0
        while index < input.count {
            let count = min(3, input.count - index)
            let b0 = UInt32(input[index])
            let b1 = count > 1 ? UInt32(input[index + 1]) : 0
            let b2 = count > 2 ? UInt32(input[index + 2]) : 0
            let group = b0 << 16 | b1 << 8 | b2
            for position in 0...count { out.append(alphabet[Int(group >> UInt32(18 - 6 * position) & 0x3F)]) }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of `text`, or nil when it has a character outside the alphabet, padding anywhere
    /// but the end, or a length no encoding produces.
    public static func decode(_ text: String) -> [UInt8]? {
        var digits = Array(text.utf8)
        // Padding only as a whole encoding has it: up to two `=` ending a multiple of four.
        if digits.count % 4 == 0 {
            for _ in 0..<2 where digits.last == UInt8(ascii: "=") { digits.removeLast() }
        }
        guard digits.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count * 3 / 4)
        var group: UInt32 = 0
        var filled = 0
        for digit in digits {
            guard let value = Self.value(of: digit) else { return nil }
            group = group << 6 | value
            filled += 1
            if filled == 4 {
                out += [UInt8(group >> 16), UInt8(group >> 8 & 0xFF), UInt8(group & 0xFF)]
                group = 0
                filled = 0
            }
        }
        // 2 digits carry one byte, 3 carry two; the unused low bits must be zero (one spelling per value).
        switch filled {
        case 2:
            guard group & 0xF == 0 else { return nil }
            out.append(UInt8(group >> 4))
        case 3:
            guard group & 0x3 == 0 else { return nil }
            out += [UInt8(group >> 10), UInt8(group >> 2 & 0xFF)]
        default: break
        }
        return out
    }

    private static func value(of digit: UInt8) -> UInt32? {
        switch digit {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): UInt32(digit - UInt8(ascii: "A"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): UInt32(digit - UInt8(ascii: "a")) + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(digit - UInt8(ascii: "0")) + 52
        case UInt8(ascii: "-"): 62
        case UInt8(ascii: "_"): 63
        default: nil
        }
    }
}
