// libFuzzer target: the SSE parser must never crash, and feeding the same bytes in any chunking
// must give the same events.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    var whole = SSEParser()
    let expected = whole.feed(bytes)
    var split = SSEParser()
    var events: [SSEParser.Event] = []
    let cut = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
    events += split.feed(bytes[..<cut])
    events += split.feed(bytes[cut...])
    precondition(events == expected, "chunking changed the events")
    // What the encoder writes, the parser reads back.
    let text = String(decoding: bytes, as: UTF8.self)
    var roundTrip = SSEParser()
    let back = roundTrip.feed(Array(SSEEncoder.event(id: "1", name: "c", data: text).utf8))
    precondition(back.count == 1, "one event in, one event out")
    return 0
}
