import Foundation
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import NIOSSL
import Synchronization
import Testing

/// A stream over HTTP/2 when Herald stops (SIGTERM): the stream ends first (END_STREAM), then
/// the connection with a GOAWAY that names the last stream served (after SwiftNIO's first
/// GOAWAY and its ping), then the close. A client then knows its stream was served and that a
/// new one goes on a new connection.
@Suite struct HTTP2ShutdownTests {
    @Test func aStreamEndsBeforeTheConnectionAndTheLastGoAwayNamesIt() async throws {
        let dir = try TempDir()
        let (child, port) = try startTLSHerald(dir)
        defer { child.signal(SIGKILL) }
        let frames = FrameLog()
        let group = MultiThreadedEventLoopGroup.singleton
        var connected: (any Channel)?
        try await waitFor("Herald to accept TLS connections") {
            connected = try? await connectHTTP2(port: port, group: group, frames: frames)
            return connected != nil
        }
        let channel = try #require(connected)
        try await channel.eventLoop.submit {
            let headers = HPACKHeaders([(":method", "GET"), (":path", "/sse?channel=x"), (":scheme", "https"),
                                        (":authority", "127.0.0.1:\(port)")])
            channel.writeAndFlush(HTTP2Frame(streamID: 1, payload: .headers(.init(headers: headers, endStream: true))),
                                  promise: nil)
        }.get()
        try await waitFor("the stream's first data") { frames.all.contains { $0.hasPrefix("DATA 1") } }
        child.signal(SIGTERM)
        try await channel.closeFuture.get()
        let seen = frames.all.filter { !$0.hasPrefix("DATA 1") || $0.hasSuffix("end") }
        let streamEnd = try #require(seen.firstIndex(of: "DATA 1 end"), "\(seen)")
        let lastGoAway = try #require(seen.lastIndex { $0.hasPrefix("GOAWAY") }, "\(seen)")
        #expect(seen[lastGoAway] == "GOAWAY 1", "the last GOAWAY names stream 1: \(seen)")
        #expect(streamEnd < lastGoAway, "the stream ended before the connection: \(seen)")
    }
}

/// Every frame the server sends, in order, as `KIND stream [end]`.
private final class FrameLog: Sendable {
    private let frames = Mutex<[String]>([])
    var all: [String] { frames.withLock { $0 } }
    func add(_ frame: String) { frames.withLock { $0.append(frame) } }
}

private final class FrameRecorder: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    let log: FrameLog
    init(_ log: FrameLog) { self.log = log }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        let stream = Int(frame.streamID)
        switch frame.payload {
        case .data(let data): log.add("DATA \(stream)" + (data.endStream ? " end" : ""))
        case .headers(let headers): log.add("HEADERS \(stream)" + (headers.endStream ? " end" : ""))
        case .goAway(let last, _, _): log.add("GOAWAY \(Int(last))")
        case .ping(_, let ack): if !ack { log.add("PING") }
        case .rstStream: log.add("RST \(stream)")
        default: break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        log.add("ERROR \(error)")
    }
}

/// A TLS connection speaking HTTP/2 frames (no stream multiplexer: every frame reaches the
/// recorder), trusting any certificate (Herald's is self-signed).
private func connectHTTP2(port: Int, group: any EventLoopGroup, frames: FrameLog) async throws -> any Channel {
    var tls = TLSConfiguration.makeClientConfiguration()
    tls.certificateVerification = .none
    tls.applicationProtocols = ["h2"]
    let context = try NIOSSLContext(configuration: tls)
    return try await ClientBootstrap(group: group)
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: nil))
                try channel.pipeline.syncOperations.addHandler(NIOHTTP2Handler(mode: .client))
                try channel.pipeline.syncOperations.addHandler(FrameRecorder(frames))
            }
        }
        .connect(host: "127.0.0.1", port: port).get()
}

private func waitFor(_ what: String, _ condition: () async -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(30)
    while !(await condition()) {
        guard ContinuousClock.now < deadline else { throw TestFailure("waited 30 s for \(what)") }
        try await Task.sleep(for: .milliseconds(20))
    }
}
