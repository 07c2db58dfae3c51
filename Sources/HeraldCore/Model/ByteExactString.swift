/// A string compared and hashed by its UTF-8 bytes, as MQTT compares topics and SQLite compares
/// text. `String` equality takes canonically equivalent spellings ("é" as one scalar, or as "e"
/// and a combining accent) for one, which would merge two distinct topics in a dictionary.
struct ByteExactString: Hashable, Sendable {
    var string: String

    init(_ string: String) { self.string = string }

    static func == (lhs: Self, rhs: Self) -> Bool { lhs.string.hasSameBytes(as: rhs.string) }

    func hash(into hasher: inout Hasher) {
        var string = string  // `withUTF8` may make a contiguous copy; a native string is lent as it is
        string.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}
