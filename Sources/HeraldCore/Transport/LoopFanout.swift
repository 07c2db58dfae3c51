import Metrics
import NIOCore
import Synchronization

/// The direct lane's fan-out on one event loop. The hub posts each committed batch once per loop
/// that has live streams; the loop takes everything posted in one task, matches each event once
/// per group of streams with the same filter, writes it to each stream's socket (as a chunk this
/// loop frames for itself, so a thousand writes do not fight over one reference count across
/// cores) and flushes each socket once. No lock, task or object per delivery.
final class LoopFanout: Sendable {
    private enum Posted {
        case events([EventFrame])
        case keepalive
    }

    private struct Mailbox {
        var posted: [Posted] = []
        var scheduled = false
        var pacer = DrainPacer()
    }

    /// The streams on this loop, grouped by filter; only the loop touches them.
    private final class Streams {
        var groups: [String: (filter: EventFilter, members: [ObjectIdentifier: LiveStream])] = [:]
        /// Where a stream's chunks of one drain are joined for one send: one buffer per loop.
        var scratch = ByteBuffer()
    }

    let loop: any EventLoop
    private let mailbox = Mutex(Mailbox())
    private let streams: NIOLoopBound<Streams>
    /// Read by the hub's thread to skip loops without streams.
    private let streamCount = Atomic<Int>(0)

    fileprivate init(loop: any EventLoop) {
        self.loop = loop
        self.streams = NIOLoopBound(Streams(), eventLoop: loop)
    }

    // MARK: From the hub's thread

    func post(_ frames: [EventFrame], coalescing: TimeAmount) { post(.events(frames), coalescing) }
    func postKeepalive(coalescing: TimeAmount) { post(.keepalive, coalescing) }

    /// The loop drains at once, or after the pause its last drain calls for (`DrainPacer`).
    private func post(_ item: Posted, _ coalescing: TimeAmount) {
        let wait: TimeAmount? = mailbox.withLock { mailbox in
            mailbox.posted.append(item)
            guard !mailbox.scheduled else { return nil }
            mailbox.scheduled = true
            return mailbox.pacer.wait(at: .now(), coalescing: coalescing)
        }
        guard let wait else { return }
        if wait <= .zero {
            loop.execute { self.drain() }
        } else {
            loop.scheduleTask(in: wait) { self.drain() }
        }
    }

    var hasStreams: Bool { streamCount.load(ordering: .sequentiallyConsistent) > 0 }

    // MARK: On the loop

    func register(_ stream: LiveStream) {
        let identity = stream.filter.identity
        streams.value.groups[identity, default: (stream.filter, [:])].members[ObjectIdentifier(stream)] = stream
        streamCount.add(1, ordering: .sequentiallyConsistent)
    }

    func unregister(_ stream: LiveStream) {
        let identity = stream.filter.identity
        guard streams.value.groups[identity]?.members.removeValue(forKey: ObjectIdentifier(stream)) != nil else { return }
        if streams.value.groups[identity]?.members.isEmpty == true { streams.value.groups[identity] = nil }
        streamCount.subtract(1, ordering: .sequentiallyConsistent)
    }

    private func drain() {
        let began = NIODeadline.now()
        let posted = mailbox.withLock { mailbox in
            mailbox.scheduled = false
            defer { mailbox.posted = [] }
            return mailbox.posted
        }
        defer {
            let ended = NIODeadline.now()
            mailbox.withLock { $0.pacer.drained(began: began, ended: ended) }
        }
        let state = streams.value
        let groups = Array(state.groups.values)
        var touched: [LiveStream] = []
        var deliveries = 0
        for item in posted {
            switch item {
            case .events(let frames):
                for frame in frames {
                    var chunk: ByteBuffer?
                    for group in groups where group.filter.matches(channel: frame.channel, key: frame.key) {
                        if chunk == nil { chunk = HTTPChunk.framed(frame.bytes) }
                        for stream in group.members.values where stream.send(frame, chunk: chunk!, touched: &touched) {
                            deliveries += 1
                        }
                    }
                }
            case .keepalive:
                for group in groups {
                    for stream in group.members.values { stream.sendKeepalive(touched: &touched) }
                }
            }
        }
        var writes = WriteCounts()
        for stream in touched { writes.add(stream.flush(joiningIn: &state.scratch)) }
        if state.scratch.capacity > 1 << 20 { state.scratch = ByteBuffer() }  // after a huge batch
        if deliveries > 0 { HubMetrics.deliveries.increment(by: deliveries) }
        writes.record()
    }

    /// Flushes a stream outside a drain (at its hand-over, or its socket writable again).
    func flush(_ stream: LiveStream) {
        var writes = WriteCounts()
        writes.add(stream.flush(joiningIn: &streams.value.scratch))
        writes.record()
    }

    /// Streams' flushes by the way they went (`StreamConnection.flush`), counted on the loop and
    /// recorded once: `socket` is the usual way; `channel` means a full socket (or the hand-over,
    /// behind the response's start), or a connection whose descriptor was not confirmed.
    private struct WriteCounts {
        private var socket = 0
        private var channel = 0

        mutating func add(_ path: StreamConnection.Path?) {
            switch path {
            case .socket?: socket += 1
            case .channel?: channel += 1
            case nil: break
            }
        }

        func record() {
            if socket > 0 { Self.socketWrites.increment(by: socket) }
            if channel > 0 { Self.channelWrites.increment(by: channel) }
        }

        private static let socketWrites = Counter(label: "herald_stream_writes_total", dimensions: [("path", "socket")])
        private static let channelWrites = Counter(label: "herald_stream_writes_total", dimensions: [("path", "channel")])
    }
}

/// The fan-outs of one hub, one per event loop that has had a live stream, for the hub's life
/// (loops are few and live as long as the server).
final class LoopFanouts: Sendable {
    private let all = Mutex<[ObjectIdentifier: LoopFanout]>([:])

    func of(_ loop: any EventLoop) -> LoopFanout {
        all.withLock { all in
            if let fanout = all[ObjectIdentifier(loop)] { return fanout }
            let fanout = LoopFanout(loop: loop)
            all[ObjectIdentifier(loop)] = fanout
            return fanout
        }
    }

    /// The fan-outs with streams now.
    func active() -> [LoopFanout] {
        all.withLock { Array($0.values) }.filter(\.hasStreams)
    }
}
