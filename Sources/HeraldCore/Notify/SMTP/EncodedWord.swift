import Foundation

/// RFC 2047 encoded-words, for a subject or a display name that is not plain ASCII.
enum EncodedWord {
    /// 39 bytes are 52 base64 characters, a 64-character word: "Subject: " and one word stay
    /// within RFC 5322's 78, and each continuation line does too.
    static let bytesPerWord = 39

    /// Whether `text` must be encoded: anything outside printable ASCII, or "=?", which a
    /// reader would take for the start of an encoded-word.
    static func isNeeded(for text: String) -> Bool {
        !text.utf8.allSatisfy { (0x20...0x7E).contains($0) } || text.contains("=?")
    }

    /// `text` as "=?utf-8?B?…?=" words joined by folding whitespace (CRLF SP), which readers
    /// drop between adjacent encoded-words. A word never splits a character (§5 rule 3).
    static func encode(_ text: String) -> String {
        var words: [String] = []
        var chunk: [UInt8] = []
        for scalar in text.unicodeScalars {
            let bytes = Array(String(scalar).utf8)
            if chunk.count + bytes.count > bytesPerWord {
                words.append(word(chunk))
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty || words.isEmpty { words.append(word(chunk)) }
        return words.joined(separator: "\r\n ")
    }

    private static func word(_ bytes: [UInt8]) -> String {
        "=?utf-8?B?" + Data(bytes).base64EncodedString() + "?="
    }
}
