import Testing
@testable import HeraldCore

@Suite struct SSEEncoderTests {
    @Test func frameCarriesIdChannelAndEnvelope() {
        let event = StoredEvent(id: 4711, draft: EventDraft(
            channel: "sensors", type: "reading", key: "greenhouse/temp", time: 1_795_791_600_123,
            data: "{\"value\":21.5}", source: "{\"mqtt\":{\"topic\":\"sensors/greenhouse/temp\",\"qos\":1,\"retain\":false}}"))
        let frame = SSEEncoder.frame(for: event)
        #expect(frame == """
            id: 4711
            event: sensors
            data: {"id":4711,"channel":"sensors","type":"reading","key":"greenhouse/temp","time":"2026-11-27T15:00:00.123Z","data":{"value":21.5},"source":{"mqtt":{"topic":"sensors/greenhouse/temp","qos":1,"retain":false}}}


            """)
    }

    @Test(arguments: [
        ("a\nb", "data: a\ndata: b\n\n"),
        ("a\r\nb", "data: a\ndata: b\n\n"),
        ("a\rb", "data: a\ndata: b\n\n"),
        ("a\n\nb\n", "data: a\ndata: \ndata: b\ndata: \n\n"),
        ("", "data: \n\n"),
    ])
    func dataIsSplitOnEveryLineEnding(data: String, wire: String) {
        #expect(SSEEncoder.event(id: nil, name: nil, data: data) == wire)
    }

    @Test func idAndNameCanNeverBreakALine() {
        let wire = SSEEncoder.event(id: "1\n2\r\0", name: "x\ndata: evil", data: "ok")
        #expect(wire == "id: 12\nevent: xdata: evil\ndata: ok\n\n")
        var parser = SSEParser()
        #expect(parser.feed(Array(wire.utf8)) == [.init(id: "12", type: "xdata: evil", data: "ok")])
    }

    @Test func encoderAndParserRoundTripHostileData() {
        let hostile = ["line1\r\nline2", "\n\ndata: x", "id: 9", "tab\tand\u{0}nul", "ünïcödé ✓ 🚀", "\r", "\r\n\r\n"]
        for data in hostile {
            var parser = SSEParser()
            let events = parser.feed(Array(SSEEncoder.event(id: "5", name: "c", data: data).utf8))
            // CRLF and CR come back as LF: the wire cannot tell them apart, and EventSource does the same.
            let expected = data.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
            #expect(events == [.init(id: "5", type: "c", data: expected)], "for \(String(reflecting: data))")
        }
    }

    @Test func commentAndRetry() {
        #expect(SSEEncoder.comment("keepalive") == ":keepalive\n\n")
        #expect(SSEEncoder.retry(milliseconds: 3000) == "retry: 3000\n")
    }
}
