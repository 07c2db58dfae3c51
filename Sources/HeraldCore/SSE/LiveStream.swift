import NIOCore

/// A live SSE stream on the direct lane (plain HTTP/1.1): the hub's deliveries go, through the
/// loop's `LoopOutbox`, straight to the connection's `SocketOutlet` as pre-framed HTTP chunks.
/// No task wakes up per event and nothing is encoded per subscriber; the stream's own task only
/// waits for the end. Everything else about the stream (history, `$reset`, the end of the
/// response) still goes through Hummingbird's writer, and always before or after the live part:
/// the loop runs tasks in order, and the stream switches here only after its last history write
/// returned, and closes this lane before it ends the response.
final class LiveStream: DirectSink, Sendable {
    private let outbox: LoopOutbox
    private let state: NIOLoopBound<LoopState>

    private init(outbox: LoopOutbox, state: NIOLoopBound<LoopState>) {
        self.outbox = outbox
        self.state = state
    }

    /// Switches `queue` to this connection's socket; nil when the queue has already ended.
    static func start(on channel: any Channel, queue: SubscriberQueue, after cursor: Int64,
                      endsWithJob: Bool) async throws -> LiveStream? {
        let loop = channel.eventLoop
        return try await loop.submit {
            let outlet = try SocketOutlet.of(channel)
            let state = LoopState(outlet: outlet, queue: queue, lastSent: cursor, endsWithJob: endsWithJob)
            let stream = LiveStream(outbox: .of(loop), state: NIOLoopBound(state, eventLoop: loop))
            guard queue.goDirect(stream) else { return nil }
            outlet.stream = state
            return stream
        }.get()
    }

    func enqueue(_ delivery: Delivery) {
        outbox.add(self, delivery)
    }

    /// On the loop: true when this is the stream's first delivery since its last flush.
    func write(_ delivery: Delivery) -> Bool { state.value.write(delivery) }

    /// On the loop, once per outbox drain.
    func flush() { state.value.flush() }

    /// Stops this lane; called before the response ends, so that nothing is written after its end.
    func end() {
        let state = self.state
        outbox.loop.execute { state.value.close() }
    }

    /// What only the connection's event loop touches.
    final class LoopState {
        let outlet: SocketOutlet
        let queue: SubscriberQueue
        let endsWithJob: Bool
        /// Live events at or below it were sent already (by history, or earlier here).
        var lastSent: Int64
        /// Held while the socket takes no more writes; the queue's capacity bounds them.
        var pending: [Delivery] = []
        /// Deliveries handled since the last flush, reported to the queue at the flush.
        var handled = 0
        var wrote = false
        var finished = false
        var closed = false

        init(outlet: SocketOutlet, queue: SubscriberQueue, lastSent: Int64, endsWithJob: Bool) {
            (self.outlet, self.queue, self.lastSent, self.endsWithJob) = (outlet, queue, lastSent, endsWithJob)
        }

        func write(_ delivery: Delivery) -> Bool {
            guard !closed else { return false }
            let first = handled == 0 && pending.isEmpty
            if pending.isEmpty && outlet.isWritable {
                send(delivery)
            } else {
                pending.append(delivery)
            }
            return first
        }

        private func send(_ delivery: Delivery) {
            handled += 1
            guard !finished else { return }
            switch delivery {
            case .event(let id, _, let chunk, let terminal):
                guard id > lastSent else { return }
                outlet.write(chunk)
                lastSent = id
                finished = terminal && endsWithJob
            case .keepalive:
                outlet.write(LiveStream.keepalive)
            }
            wrote = true
        }

        func flush() {
            guard !closed else { return }
            if wrote { outlet.flush() }
            wrote = false
            if handled > 0 { queue.delivered(handled) }
            handled = 0
            if finished { queue.finish(.completed) }
        }

        /// The socket takes writes again: what waited goes out.
        func resume() {
            guard !closed else { return }
            var sent = 0
            while sent < pending.count && outlet.isWritable {
                send(pending[sent])
                sent += 1
            }
            pending.removeFirst(sent)
            flush()
        }

        func close() {
            closed = true
            pending = []
            if outlet.stream === self { outlet.stream = nil }
        }
    }

    static let keepalive = HTTPChunk.framed(EventStream.keepalive)
}
