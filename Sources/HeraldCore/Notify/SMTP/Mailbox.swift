import Foundation

/// One address of a message, parsed from "ops@example.com" or "Herald Ops <ops@example.com>".
struct Mailbox: Equatable {
    let displayName: String?
    /// The bare address, safe in "MAIL FROM:<…>": printable ASCII without spaces or brackets.
    let address: String

    /// `role` names the field in the error ("sender", "recipient").
    init(parsing text: String, role: String) throws(SMTPError) {
        // A line break or other control character anywhere (a display name too) means the text
        // is not one mailbox: "a@b\r\nRCPT TO:<x@y>" would otherwise parse as a name and x@y.
        if text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw .invalidMessage("\(role) \(String(reflecting: text)) holds a line break or control character")
        }
        let trimmed = text.trimmingSpaces
        if trimmed.hasSuffix(">"), let open = trimmed.lastIndex(of: "<") {
            address = String(trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)])
            var name = String(trimmed[..<open].trimmingSpacesSubstring)
            if name.count >= 2, name.hasPrefix("\""), name.hasSuffix("\"") { name = String(name.dropFirst().dropLast()) }
            displayName = name.isEmpty ? nil : name
        } else {
            address = trimmed
            displayName = nil
        }
        guard Self.isAddress(address) else {
            throw .invalidMessage("\(role) \"\(text)\" is not an address like name@example.com")
        }
    }

    /// The mailbox as it stands in a From or To header: an ASCII name quoted, any other
    /// encoded (control characters, which could end the header, become spaces first).
    var header: String {
        guard let displayName else { return address }
        let name = String(String.UnicodeScalarView(displayName.unicodeScalars.map {
            $0.properties.generalCategory == .control ? " " : $0
        }))
        if EncodedWord.isNeeded(for: name) { return EncodedWord.encode(name) + " <\(address)>" }
        let quoted = name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return "\"\(quoted)\" <\(address)>"
    }

    /// local@domain, both sides non-empty, at most RFC 5321's 254 octets, and nothing that
    /// would end or split a command line or a header. Quoted local parts and SMTPUTF8 are not sent.
    private static func isAddress(_ text: String) -> Bool {
        let forbidden = Set("<>()[],;:\\\"".utf8)
        guard text.utf8.count <= 254,
              text.utf8.allSatisfy({ (0x21...0x7E).contains($0) && !forbidden.contains($0) })
        else { return false }
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && !parts[1].isEmpty
    }
}
