extension String {
    /// Whether any of the string's UTF-8 bytes passes `test`. A native string's bytes are one
    /// contiguous buffer: a plain loop over it, where `utf8.contains(where:)` walks the view's
    /// indices byte by byte (9 % of a replay's CPU when the SSE encoder checked every envelope
    /// for line breaks that way).
    func containsByte(where test: (UInt8) -> Bool) -> Bool {
        utf8.withContiguousStorageIfAvailable { $0.contains(where: test) } ?? utf8.contains(where: test)
    }

    /// Whether both strings hold the same UTF-8 bytes, as MQTT compares topics (`==` on `String`
    /// takes canonically equivalent spellings for one). Lengths first, then the contiguous bytes.
    func hasSameBytes(as other: String) -> Bool {
        guard utf8.count == other.utf8.count else { return false }
        return utf8.withContiguousStorageIfAvailable { mine in
            other.utf8.withContiguousStorageIfAvailable { theirs in mine.elementsEqual(theirs) }
        }.flatMap { $0 } ?? utf8.elementsEqual(other.utf8)
    }

    /// `hasPrefix` by UTF-8 bytes, as MQTT compares topics: cheaper than `String.hasPrefix`, which
    /// compares canonically equivalent spellings, on every message a source looks at.
    func hasBytePrefix(_ prefix: String) -> Bool {
        utf8.count >= prefix.utf8.count && utf8.starts(with: prefix.utf8)
    }

    func hasByteSuffix(_ suffix: String) -> Bool {
        utf8.count >= suffix.utf8.count && utf8.reversed().starts(with: suffix.utf8.reversed())
    }
}

extension String {
    /// Without the whitespace around it (a payload's `"21.5\n"`).
    var trimmingSpaces: String { String(self[...].trimmingSpacesSubstring) }
}

extension Substring {
    var trimmingSpacesSubstring: Substring {
        var text = self
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return text
    }
}

/// Names Herald accepts in a few places (a series' field, a notify target) are plain ASCII.
extension UInt8 {
    var isASCIIAlphanumeric: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }
}
