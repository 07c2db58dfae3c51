import Histogram
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Shared by every client of a run.
final class LoadRun: Sendable {
    let endpoint: Endpoint
    /// The endpoint's address, resolved once: no name lookup and no Happy Eyeballs per connect.
    let address: SocketAddress
    /// Events each client should receive: sequence numbers firstSeq..<(firstSeq + expected).
    let expected: Int
    /// The first sequence number a client should receive (a resume point's successor).
    let firstSeq: Int
    /// Give up on a client after this many failed connection attempts in a row.
    let maxAttempts: Int
    /// How long one TCP connect may take.
    let connectTimeout: TimeAmount
    let ready = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
    let complete = Atomic<Int>(0)
    /// Clients that gave up, whether or not they had a stream.
    let abandoned = Atomic<Int>(0)
    let stopping = Atomic<Bool>(false)

    init(endpoint: Endpoint, expected: Int, firstSeq: Int = 0, maxAttempts: Int = 5,
         connectTimeout: TimeAmount = .seconds(10)) {
        self.endpoint = endpoint
        // Endpoint's host is always the IPv4 loopback literal (ServerOptions.endpoint).
        self.address = try! SocketAddress(ipAddress: endpoint.host, port: endpoint.port)
        self.expected = expected
        self.firstSeq = firstSeq
        self.maxAttempts = maxAttempts
        self.connectTimeout = connectTimeout
    }
}

/// Per event loop: the latency histogram (µs) and delivery counts of the clients on that loop.
/// Touched only on its loop; read through `loop.submit` once the run is over.
final class LoopStats: @unchecked Sendable {
    var latency = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000,
                                    numberOfSignificantValueDigits: .three)
    var deliveries = 0
    var firstReceipt: UInt64 = .max
    var lastReceipt: UInt64 = 0
}

/// One SSE subscriber, pinned to one event loop; it reconnects with Last-Event-ID when its
/// connection ends, as EventSource does (at once after a deliberate drop).
/// `@unchecked Sendable`: every mutable field is touched only on `loop`.
final class SSELoadClient: @unchecked Sendable {
    let loop: any EventLoop
    let run: LoadRun
    let stats: LoopStats
    private(set) var receipts: Receipts
    /// The last `id:` seen, sent back as Last-Event-ID on reconnect.
    var lastEventId: [UInt8]?
    private var channel: (any Channel)?
    private var connectStartedAt: UInt64 = 0
    private var firstConnectAt: UInt64?
    private var completedAt: UInt64?
    private var refusedStatus: UInt?
    private var otherFrames = 0
    /// Why the first attempt that failed did: the connect error, or a close before any answer.
    private var firstFailure: String?
    /// The `id:` of every event received, by sequence number, when asked for (`recordIds`).
    private var ids: [Int: String]?
    private var connectNanos: UInt64?
    private var everReady = false
    private var failuresInARow = 0
    private var reconnects = 0
    private var unexpectedCloses = 0
    private var dropRequested = false
    private var dropped = false
    private var isComplete = false
    private var gaveUp = false

    init(loop: any EventLoop, run: LoadRun, stats: LoopStats, resumeFrom: String? = nil, recordIds: Bool = false) {
        self.loop = loop
        self.run = run
        self.stats = stats
        self.receipts = Receipts(expected: run.expected)
        self.lastEventId = resumeFrom.map { Array($0.utf8) }
        self.ids = recordIds ? [:] : nil
    }

    func start() {
        loop.execute { self.connect() }
    }

    /// Closes the connection after `delay` and reconnects at once with Last-Event-ID.
    func drop(after delay: TimeAmount) {
        loop.scheduleTask(in: delay) {
            guard let channel = self.channel, !self.isComplete else { return }
            self.dropRequested = true
            self.dropped = true
            channel.close(promise: nil)
        }
    }

    func stop() -> EventLoopFuture<Void> {
        loop.submit { self.channel?.close(promise: nil) }
    }

    func result() -> EventLoopFuture<ClientResult> {
        loop.submit {
            ClientResult(ready: self.everReady, connectNanos: self.connectNanos, unique: self.receipts.unique,
                         lost: self.receipts.lost, duplicates: self.receipts.duplicates,
                         outOfOrder: self.receipts.outOfOrder, unexpected: self.receipts.unexpected,
                         reconnects: self.reconnects, unexpectedCloses: self.unexpectedCloses, dropped: self.dropped,
                         firstConnectAt: self.firstConnectAt, completedAt: self.completedAt,
                         refusedStatus: self.refusedStatus, otherFrames: self.otherFrames,
                         firstFailure: self.firstFailure)
        }
    }

    /// The ids seen by sequence number (with `recordIds`).
    func recordedIds() -> EventLoopFuture<[Int: String]> {
        loop.submit { self.ids ?? [:] }
    }

    private func connect() {
        guard !run.stopping.load(ordering: .relaxed) else { return }
        connectStartedAt = Monotonic.now()
        if firstConnectAt == nil { firstConnectAt = connectStartedAt }
        var headers: HTTPHeaders = ["Host": "\(run.endpoint.host):\(run.endpoint.port)", "Accept": "text/event-stream"]
        if let lastEventId { headers.add(name: "Last-Event-ID", value: String(decoding: lastEventId, as: UTF8.self)) }
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: run.endpoint.subscribePath, headers: headers)
        ClientBootstrap(group: loop)
            .connectTimeout(run.connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(SSEHandler(client: self, request: head))
                }
            }
            .connect(to: run.address)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    self.channel = channel
                    if self.run.stopping.load(ordering: .relaxed) { channel.close(promise: nil) }
                case .failure(let error):
                    if self.firstFailure == nil { self.firstFailure = "connect: " + String(String(describing: error).prefix(120)) }
                    self.retry(unexpected: false)
                }
            }
    }

    // MARK: Called by the handler, on `loop`.

    func streamStarted() {
        failuresInARow = 0
        guard !everReady else { return }
        everReady = true
        connectNanos = Monotonic.now() - connectStartedAt
        run.ready.add(1, ordering: .relaxed)
    }

    func received(seq: Int, publishedAt: UInt64, id: [UInt8]?) {
        if let id {
            if lastEventId == nil { lastEventId = [] }
            lastEventId!.removeAll(keepingCapacity: true)
            lastEventId!.append(contentsOf: id)
        }
        if ids != nil, let id { ids![seq] = String(decoding: id, as: UTF8.self) }
        guard receipts.record(seq - run.firstSeq) else { return }
        let now = Monotonic.now()
        stats.deliveries += 1
        stats.firstReceipt = min(stats.firstReceipt, now)
        stats.lastReceipt = now
        if publishedAt > 0, now > publishedAt { _ = stats.latency.record((now - publishedAt) / 1_000) }
        if receipts.unique == run.expected, !isComplete {
            isComplete = true
            completedAt = now
            run.complete.add(1, ordering: .relaxed)
        }
    }

    func idOnly(_ id: [UInt8]) {
        lastEventId = id
    }

    /// A `data:` frame that is not a benchmark event (a `$reset`, say).
    func otherFrame() {
        otherFrames += 1
    }

    /// The server answered the GET with another status than 200.
    func refused(status: UInt) {
        if refusedStatus == nil { refusedStatus = status }
    }

    func closed(answered: Bool) {
        channel = nil
        guard !run.stopping.load(ordering: .relaxed), !isComplete else { return }
        if firstFailure == nil, !dropRequested {
            firstFailure = refusedStatus.map { "refused: HTTP \($0)" }
                ?? (answered ? "closed by the server mid-stream" : "closed by the server before answering")
        }
        if dropRequested {
            dropRequested = false
            reconnects += 1
            connect()
        } else {
            unexpectedCloses += 1
            retry(unexpected: true)
        }
    }

    private func retry(unexpected: Bool) {
        failuresInARow += 1
        if failuresInARow > run.maxAttempts {
            guard !gaveUp else { return }
            gaveUp = true
            run.abandoned.add(1, ordering: .relaxed)
            if !everReady { run.failed.add(1, ordering: .relaxed) }
            return
        }
        if everReady { reconnects += 1 }
        loop.scheduleTask(in: .milliseconds(100 * Int64(failuresInARow))) { self.connect() }
    }
}

/// Sends the GET, then parses the `text/event-stream` body: `id:` and the `bseq`/`bts` members of
/// `data:`, dispatched at the blank line. Only LF line ends (both servers use them).
final class SSEHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let client: SSELoadClient
    private let request: HTTPRequestHead
    private var carry: [UInt8] = []
    private var id: [UInt8] = []
    private var hasId = false
    private var seq: Int?
    private var hasData = false
    private var publishedAt: UInt64 = 0
    private var started = false
    private var refused = false
    /// Whether a response head arrived.
    private var answered = false

    init(client: SSELoadClient, request: HTTPRequestHead) {
        self.client = client
        self.request = request
        carry.reserveCapacity(512)
    }

    func channelActive(context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(.head(request)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            answered = true
            if head.status != .ok {
                refused = true
                client.refused(status: head.status.code)
                context.close(promise: nil)
            }
        case .body(let buffer):
            guard !refused else { return }  // a refusal's body (JSON, say) is no stream
            if !started {
                started = true
                client.streamStarted()
            }
            buffer.withUnsafeReadableBytes { feed($0) }
        case .end:
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        client.closed(answered: answered)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func feed(_ bytes: UnsafeRawBufferPointer) {
        var start = 0
        while start < bytes.count {
            guard let newline = Self.index(of: 0x0A, in: bytes, from: start) else {
                carry.append(contentsOf: bytes[start...])
                return
            }
            if carry.isEmpty {
                line(UnsafeRawBufferPointer(rebasing: bytes[start..<newline]))
            } else {
                carry.append(contentsOf: bytes[start..<newline])
                let joined = carry
                joined.withUnsafeBytes { line($0) }
                carry.removeAll(keepingCapacity: true)
            }
            start = newline + 1
        }
    }

    private func line(_ line: UnsafeRawBufferPointer) {
        if line.isEmpty {
            dispatch()
        } else if Self.hasPrefix(line, Self.idField) {
            id.removeAll(keepingCapacity: true)
            var value = line.dropFirst(Self.idField.count)
            if value.first == 0x20 { value = value.dropFirst() }
            id.append(contentsOf: value)
            hasId = true
        } else if Self.hasPrefix(line, Self.dataField) {
            hasData = true
            if let at = Self.find(Self.seqMember, in: line) { seq = Self.number(in: line, from: at).map(Int.init) }
            if let at = Self.find(Self.tsMember, in: line) { publishedAt = Self.number(in: line, from: at) ?? 0 }
        }
    }

    private func dispatch() {
        if let seq {
            client.received(seq: seq, publishedAt: publishedAt, id: hasId ? id : nil)
        } else {
            if hasData { client.otherFrame() }
            if hasId { client.idOnly(id) }
        }
        seq = nil
        hasData = false
        publishedAt = 0
        hasId = false
    }

    static let idField = Array("id:".utf8)
    static let dataField = Array("data:".utf8)
    static let seqMember = Array("\"bseq\":".utf8)
    static let tsMember = Array("\"bts\":".utf8)

    static func index(of byte: UInt8, in bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var i = start
        while i < bytes.count {
            if bytes[i] == byte { return i }
            i += 1
        }
        return nil
    }

    static func hasPrefix(_ bytes: UnsafeRawBufferPointer, _ prefix: [UInt8]) -> Bool {
        guard bytes.count >= prefix.count else { return false }
        for i in 0..<prefix.count where bytes[i] != prefix[i] { return false }
        return true
    }

    /// The index just past `pattern` in `bytes`.
    static func find(_ pattern: [UInt8], in bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= pattern.count else { return nil }
        var i = 0
        outer: while i <= bytes.count - pattern.count {
            if bytes[i] == pattern[0] {
                for j in 1..<pattern.count where bytes[i + j] != pattern[j] {
                    i += 1
                    continue outer
                }
                return i + pattern.count
            }
            i += 1
        }
        return nil
    }

    static func number(in bytes: UnsafeRawBufferPointer, from start: Int) -> UInt64? {
        var i = start
        var value: UInt64 = 0
        while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 {
            value = value &* 10 &+ UInt64(bytes[i] - 0x30)
            i += 1
        }
        return i > start ? value : nil
    }
}
