extension String {
    /// Whether any of the string's UTF-8 bytes passes `test`. A native string's bytes are one
    /// contiguous buffer: a plain loop over it, where `utf8.contains(where:)` walks the view's
    /// indices byte by byte (9 % of a replay's CPU when the SSE encoder checked every envelope
    /// for line breaks that way).
    func containsByte(where test: (UInt8) -> Bool) -> Bool {
        utf8.withContiguousStorageIfAvailable { $0.contains(where: test) } ?? utf8.contains(where: test)
    }
}
