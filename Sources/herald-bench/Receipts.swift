/// What one client received, by sequence number: each event once, in order, none missing.
struct Receipts: Sendable {
    private var bits: [UInt64]
    let expected: Int
    private(set) var unique = 0
    private(set) var duplicates = 0
    private(set) var outOfOrder = 0
    private(set) var unexpected = 0
    private var highest = -1

    init(expected: Int) {
        self.expected = expected
        self.bits = [UInt64](repeating: 0, count: (expected + 63) / 64)
    }

    /// True when `seq` is new.
    mutating func record(_ seq: Int) -> Bool {
        guard seq >= 0, seq < expected else {
            unexpected += 1
            return false
        }
        let (word, bit) = (seq >> 6, UInt64(1) << UInt64(seq & 63))
        if bits[word] & bit != 0 {
            duplicates += 1
            return false
        }
        bits[word] |= bit
        unique += 1
        if seq < highest { outOfOrder += 1 } else { highest = seq }
        return true
    }

    var lost: Int { expected - unique }
}

/// One client's outcome, collected from its event loop at the end of a run.
struct ClientResult: Sendable {
    var ready: Bool
    var connectNanos: UInt64?
    var unique: Int
    var lost: Int
    var duplicates: Int
    var outOfOrder: Int
    var unexpected: Int
    var reconnects: Int
    var unexpectedCloses: Int
    var dropped: Bool
    /// When the first connection attempt began, and when the last expected event arrived (Monotonic).
    var firstConnectAt: UInt64? = nil
    var completedAt: UInt64? = nil
    /// The status of a refused GET (not 200), if any.
    var refusedStatus: UInt? = nil
    /// `data:` frames that were not benchmark events.
    var otherFrames = 0
    /// Why the first failed attempt failed, if one did.
    var firstFailure: String? = nil
}
