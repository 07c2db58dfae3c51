import Testing
@testable import HeraldCore

@Suite struct SSEParserTests {
    func parse(_ text: String, chunk: Int = .max) -> (events: [SSEParser.Event], parser: SSEParser) {
        var parser = SSEParser()
        var events: [SSEParser.Event] = []
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            let end = min(index + chunk, bytes.count)
            events += parser.feed(bytes[index..<end])
            index = end
        }
        return (events, parser)
    }

    @Test(arguments: [1, 2, 3, 7, 1000])
    func allThreeLineEndingsInAnyChunking(chunk: Int) {
        let text = "id: 1\nevent: a\ndata: x\n\nid: 2\r\ndata: y\r\n\r\nid: 3\rdata: z\r\r"
        let events = parse(text, chunk: chunk).events
        #expect(events == [
            .init(id: "1", type: "a", data: "x"),
            .init(id: "2", type: "message", data: "y"),
            .init(id: "3", type: "message", data: "z"),
        ])
    }

    @Test func leadingByteOrderMarkIsDropped() {
        #expect(parse("\u{FEFF}data: a\n\n").events == [.init(id: "", type: "message", data: "a")])
        // Split across chunks too.
        #expect(parse("\u{FEFF}data: a\n\n", chunk: 1).events == [.init(id: "", type: "message", data: "a")])
        // Only the first: a second BOM is content (and makes an unknown field here).
        #expect(parse("\u{FEFF}\u{FEFF}data: a\n\n").events.isEmpty)
    }

    @Test func commentsRetryAndFieldsWithoutValue() {
        let (events, parser) = parse(":keepalive\n\nretry: 2500\nretry: x1\ndata\n\ndata:no-space\n\n")
        #expect(events == [.init(id: "", type: "message", data: ""), .init(id: "", type: "message", data: "no-space")])
        #expect(parser.retryMilliseconds == 2500)
        #expect(parser.commentCount == 1)
    }

    @Test func idWithNulIsIgnoredAndIdsAreSticky() {
        let events = parse("id: 7\ndata: a\n\nid: 8\u{0}9\ndata: b\n\nid\ndata: c\n\n").events
        #expect(events.map(\.id) == ["7", "7", ""])
    }

    @Test func multipleDataLinesJoinWithLineFeed() {
        #expect(parse("data: a\ndata:\ndata:  b\n\n").events == [.init(id: "", type: "message", data: "a\n\n b")])
    }

    @Test func eventWithoutDataIsNotDispatchedAndTypeResets() {
        let events = parse("event: x\n\ndata: a\n\n").events
        #expect(events == [.init(id: "", type: "message", data: "a")])
    }

    @Test func unterminatedEventIsNotDispatched() {
        #expect(parse("data: a\n").events.isEmpty)
    }
}
