@testable import HeraldCore
import Logging
import NIOCore
import NIOEmbedded
import Testing

/// A live stream's hand-over and life on a connection, on SwiftNIO's testing channel: the hub
/// fans out for real, and what the connection writes is read back as bytes. The testing channel
/// lends no socket, so these streams write through SwiftNIO (`ConnectionState.Lane.nioOnly`);
/// the socket lane is covered by `DirectLaneTests` against a running Herald.
@Suite struct StreamConnectionTests {
    private struct Setup {
        let channel = NIOAsyncTestingChannel()
        let hub = Hub(queueCapacity: 4, logger: Logger(label: "test"))

        init() async throws {
            let channel = self.channel
            try await channel.eventLoop.submit {
                try channel.pipeline.syncOperations.addHandler(StreamConnection(taken: TakenMark(), logger: Logger(label: "test")))
                try channel.pipeline.syncOperations.addHandler(HummingbirdsPlace())
            }.get()
            try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080))
        }

        /// Whether Hummingbird's task would have been told to leave.
        func hummingbirdToldToLeave() async throws -> Bool {
            let channel = self.channel
            return try await channel.eventLoop.submit { try channel.pipeline.syncOperations.handler(type: HummingbirdsPlace.self).toldToLeave }.get()
        }

        /// The connection's state, read on its loop.
        func state() async throws -> ConnectionState {
            let channel = self.channel
            return try await channel.eventLoop.submit { try StreamConnection.of(channel).state }.get()
        }

        /// As `EventStream` does: a stream not handed over is closed by its caller.
        func handOver(key: String? = nil, after cursor: Int64 = 0) async throws -> LiveStream.HandOver {
            let filter = EventFilter(selectors: SelectorSet([try Selector("lane")]), key: key)
            let subscription = hub.subscribe(filter)
            let result = try await LiveStream.handOver(subscription, on: channel, filter: filter, after: cursor, capacity: 4)
            if result != .handedOver { subscription.close() }
            return result
        }

        /// Events the stream holds for a full socket (read on the connection's loop).
        func held() async throws -> Int {
            let channel = self.channel
            return try await channel.eventLoop.submit { try StreamConnection.of(channel).stream?.heldCount ?? 0 }.get()
        }

        func publish(_ id: Int64, key: String? = nil, terminal: Bool = false) {
            var event = StoredEvent(id: id, draft: EventDraft(channel: "lane", key: key, data: "{\"n\":\(id)}"))
            event.terminal = terminal
            hub.publish([event])
        }

        /// The connection's next write, as text.
        func nextWrite() async throws -> String {
            let write = try await channel.waitForOutboundWrite(as: IOData.self)
            guard case .byteBuffer(var bytes) = write else { Issue.record("a file region"); return "" }
            return bytes.readString(length: bytes.readableBytes) ?? ""
        }

        /// Writes until one holds `text` (the empty flush markers come between).
        func write(containing text: String) async throws -> String {
            for _ in 0..<50 {
                let write = try await nextWrite()
                if write.contains(text) { return write }
            }
            Issue.record("no write held \(text)")
            return ""
        }

        func isClosed() async -> Bool {
            (try? await channel.closeFuture.get()) != nil
        }
    }

    @Test func aHandedOverStreamGetsLiveEventsAsChunksAndHummingbirdNoLonger() async throws {
        let setup = try await Setup()
        #expect(try await setup.handOver() == .handedOver)
        #expect(try await setup.state().isTaken)
        setup.publish(1)
        let chunk = try await setup.write(containing: "id: 1")
        #expect(chunk.hasSuffix("\r\n") && chunk.contains("id: 1\n"), "a chunk: \(chunk)")
        // What Hummingbird's task would write or close now is refused, and what the client
        // sends is dropped: the stream owns the connection.
        await #expect(throws: StreamTookConnection.self) { try await setup.channel.writeAndFlush(ByteBuffer(string: "HTTP/1.1 200 OK\r\n\r\n")) }
        await #expect(throws: StreamTookConnection.self) { try await setup.channel.close() }
        try await setup.channel.writeInbound(ByteBuffer(string: "GET /api/channels HTTP/1.1\r\n\r\n"))
        #expect(try await setup.channel.readInbound(as: ByteBuffer.self) == nil)
        #expect(setup.hub.subscriberCount == 1)
        #expect(try await setup.hummingbirdToldToLeave())
    }

    @Test func anEventAlreadySentByHistoryIsSkipped() async throws {
        let setup = try await Setup()
        #expect(try await setup.handOver(after: 5) == .handedOver)
        setup.publish(5)
        setup.publish(6)
        let chunk = try await setup.write(containing: "id: ")
        #expect(chunk.contains("id: 6\n") && !chunk.contains("id: 5\n"), "\(chunk)")
    }

    @Test func aHalfClosedConnectionIsNotTakenAndAStreamingOneEndsWithTheLastChunk() async throws {
        let before = try await Setup()
        before.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(try await before.handOver() == .clientLeft)
        #expect(try await !before.state().isTaken)

        let after = try await Setup()
        #expect(try await after.handOver() == .handedOver)
        after.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(try await after.write(containing: "0\r\n\r\n") == "0\r\n\r\n")
        try await eventually("the hub to drop the stream") { after.hub.subscriberCount == 0 }
        #expect(await after.isClosed())
    }

    @Test func aConnectionThatClosesDuringTheHandOverLeavesNoStreamBehind() async throws {
        let setup = try await Setup()
        let handOver = Task { try await setup.handOver() }
        try await setup.channel.pipeline.close()  // SwiftNIO closing it: inactive, then removed
        let result = try await handOver.value
        #expect(result == .clientLeft || result == .handedOver, "whichever came first on the loop")
        try await eventually("the hub to drop the stream") { setup.hub.subscriberCount == 0 }
        #expect(await setup.isClosed())
    }

    @Test func aFullSocketHoldsEventsInOrderAndCutsOffAClientThatStopsReading() async throws {
        let setup = try await Setup()
        #expect(try await setup.handOver() == .handedOver)
        setup.channel.isWritable = false
        setup.channel.pipeline.fireChannelWritabilityChanged()
        for id in 1...3 { setup.publish(Int64(id)) }
        try await eventually("three events held for the full socket") { try await setup.held() == 3 }
        setup.channel.isWritable = true
        setup.channel.pipeline.fireChannelWritabilityChanged()
        var written = ""
        while !written.contains("id: 3\n") { written += try await setup.nextWrite() }
        let ids = written.unicodeScalars.split(separator: "\n").map(String.init).filter { $0.hasPrefix("id: ") }
        #expect(ids == ["id: 1", "id: 2", "id: 3"], "\(written)")

        setup.channel.isWritable = false
        setup.channel.pipeline.fireChannelWritabilityChanged()
        for id in 4...9 { setup.publish(Int64(id)) }  // more than the capacity of 4
        try await eventually("the stream to be cut off") { setup.hub.subscriberCount == 0 }
        #expect(await setup.isClosed())
    }

    @Test func aJobStreamEndsAfterTheJobsLastEvent() async throws {
        let setup = try await Setup()
        #expect(try await setup.handOver(key: "j1") == .handedOver)
        setup.publish(1, key: "j1")
        setup.publish(2, key: "j1", terminal: true)
        setup.publish(3, key: "j1")
        var written = ""
        while !written.hasSuffix("0\r\n\r\n") { written += try await setup.nextWrite() }
        #expect(written.contains("id: 2\n") && !written.contains("id: 3\n"))
        try await eventually("the hub to drop the stream") { setup.hub.subscriberCount == 0 }
    }
}

/// Where Hummingbird's handler for the connection's task sits: it meets `StreamTookConnection`.
private final class HummingbirdsPlace: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var toldToLeave = false

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is StreamTookConnection { toldToLeave = true } else { context.fireErrorCaught(error) }
    }
}
