/// An incremental `text/event-stream` parser following the WHATWG HTML rules
/// (§9.2.6 "Interpreting an event stream"). Feed it bytes as they arrive; it returns whole events.
public struct SSEParser: Sendable {
    public struct Event: Sendable, Equatable {
        /// The stream's last event id at dispatch time (sticky across events, as in EventSource).
        public var id: String
        public var type: String
        public var data: String
    }

    /// Set by a `retry:` field with only digits.
    public private(set) var retryMilliseconds: Int?
    /// Comments seen so far (keepalives), for clients that care.
    public private(set) var commentCount = 0
    public private(set) var lastEventId = ""

    private var line: [UInt8] = []
    private var data: [UInt8] = []
    private var hasData = false
    private var eventType = ""
    private var sawFirstBytes = false
    private var bomCandidate: [UInt8] = []
    private var skipLineFeed = false

    public init() {}

    public mutating func feed<Bytes: Sequence>(_ bytes: Bytes) -> [Event] where Bytes.Element == UInt8 {
        var events: [Event] = []
        for byte in bytes {
            if !sawFirstBytes {
                // One leading U+FEFF (EF BB BF) is dropped; anything else is stream content.
                bomCandidate.append(byte)
                let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
                if bom.starts(with: bomCandidate) {
                    if bomCandidate.count == 3 { sawFirstBytes = true; bomCandidate = [] }
                    continue
                }
                sawFirstBytes = true
                let pending = bomCandidate
                bomCandidate = []
                for b in pending { consume(b, into: &events) }
                continue
            }
            consume(byte, into: &events)
        }
        return events
    }

    private mutating func consume(_ byte: UInt8, into events: inout [Event]) {
        if skipLineFeed {
            skipLineFeed = false
            if byte == 0x0A { return }
        }
        switch byte {
        case 0x0D:
            skipLineFeed = true
            endLine(into: &events)
        case 0x0A:
            endLine(into: &events)
        default:
            line.append(byte)
        }
    }

    private mutating func endLine(into events: inout [Event]) {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            dispatch(into: &events)
            return
        }
        if line[0] == UInt8(ascii: ":") {
            commentCount += 1
            return
        }
        let name: ArraySlice<UInt8>
        var value: ArraySlice<UInt8>
        if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            name = line[..<colon]
            value = line[(colon + 1)...]
            if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
        } else {
            name = line[...]
            value = []
        }
        switch String(decoding: name, as: UTF8.self) {
        case "event":
            eventType = String(decoding: value, as: UTF8.self)
        case "data":
            data.append(contentsOf: value)
            data.append(0x0A)
            hasData = true
        case "id":
            if !value.contains(0) { lastEventId = String(decoding: value, as: UTF8.self) }
        case "retry":
            if !value.isEmpty, value.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
                retryMilliseconds = Int(String(decoding: value, as: UTF8.self))
            }
        default:
            break
        }
    }

    private mutating func dispatch(into events: inout [Event]) {
        defer {
            data.removeAll(keepingCapacity: true)
            hasData = false
            eventType = ""
        }
        guard hasData else { return }
        if data.last == 0x0A { data.removeLast() }
        events.append(Event(id: lastEventId, type: eventType.isEmpty ? "message" : eventType,
                            data: String(decoding: data, as: UTF8.self)))
    }
}
