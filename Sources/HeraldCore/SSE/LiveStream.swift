import NIOCore

/// A live SSE stream on the direct lane (plain HTTP/1.1): its events come from its loop's
/// `LoopFanout` and go straight to the connection's `SocketOutlet` as pre-framed HTTP chunks.
/// No task wakes up per event and nothing is encoded per subscriber; the stream's own task only
/// waits for the end. Everything else about the stream (history, `$reset`, the end of the
/// response) still goes through Hummingbird's writer, and always before or after the live part:
/// the loop runs tasks in order, the stream switches here only after its last history write
/// returned, and it leaves this lane before it ends the response.
final class LiveStream: Sendable {
    private let fanout: LoopFanout
    private let state: NIOLoopBound<LoopState>

    private init(fanout: LoopFanout, state: NIOLoopBound<LoopState>) {
        self.fanout = fanout
        self.state = state
    }

    /// Moves `subscription` onto this connection's loop: what its queue holds is written first,
    /// then every later event comes from the loop's fan-out. Nil when the queue has already ended.
    ///
    /// No event falls between the two: the hub offers each event to the queue first and posts it
    /// to the loops after, so an event the queue turns away (it is direct by then) is posted after
    /// this stream joined its loop. One both queued and posted is skipped by id.
    static func start(on channel: any Channel, subscription: Hub.Subscription, filter: EventFilter,
                      after cursor: Int64, capacity: Int) async throws -> LiveStream? {
        let loop = channel.eventLoop
        return try await loop.submit {
            let fanout = LoopFanout.of(loop)  // on the loop: it is made there the first time
            let outlet = try SocketOutlet.of(channel)
            let state = LoopState(outlet: outlet, queue: subscription.queue, filter: filter, lastSent: cursor, capacity: capacity)
            fanout.register(state)
            guard let waiting = subscription.queue.goDirect() else {
                fanout.unregister(state)
                return nil
            }
            outlet.stream = state
            state.sendWaiting(waiting)
            subscription.wentDirect()
            return LiveStream(fanout: fanout, state: NIOLoopBound(state, eventLoop: loop))
        }.get()
    }

    /// Leaves the lane; returns once the loop has closed it, so whatever the stream writes next
    /// (the end of the response) comes after the last chunk, however its writes are scheduled.
    func end() async {
        let state = self.state, fanout = self.fanout
        try? await fanout.loop.submit {
            state.value.close()
            fanout.unregister(state.value)
        }.get()
    }

    /// What only the connection's event loop touches.
    final class LoopState {
        let outlet: SocketOutlet
        let queue: SubscriberQueue
        let filter: EventFilter
        let endsWithJob: Bool
        let capacity: Int
        /// Events at or below it were sent already (by history, or earlier here).
        var lastSent: Int64
        /// Held while the socket takes no more writes; more than `capacity` cuts the stream off.
        var pending: [(frame: EventFrame?, chunk: ByteBuffer)] = []
        var wrote = false
        var touched = false
        var finished = false
        var closed = false

        init(outlet: SocketOutlet, queue: SubscriberQueue, filter: EventFilter, lastSent: Int64, capacity: Int) {
            (self.outlet, self.queue, self.filter, self.lastSent, self.capacity) = (outlet, queue, filter, lastSent, capacity)
            endsWithJob = filter.key != nil
        }

        /// True when the event counts as delivered (written, or held for a full socket).
        func send(_ frame: EventFrame, chunk: ByteBuffer, touched list: inout [LoopState]) -> Bool {
            guard !closed, !finished, frame.id > lastSent else { return false }
            lastSent = frame.id
            put(frame, chunk, touched: &list)
            return true
        }

        func sendKeepalive(touched list: inout [LoopState]) {
            guard !closed, !finished else { return }
            put(nil, LiveStream.keepalive, touched: &list)
        }

        /// What the queue held when the stream switched lanes, then a flush.
        func sendWaiting(_ deliveries: [Delivery]) {
            var touched: [LoopState] = []
            for delivery in deliveries {
                switch delivery {
                case .event(let frame): _ = send(frame, chunk: HTTPChunk.framed(frame.bytes), touched: &touched)
                case .keepalive: sendKeepalive(touched: &touched)
                }
            }
            flush()
        }

        private func put(_ frame: EventFrame?, _ chunk: ByteBuffer, touched list: inout [LoopState]) {
            guard pending.isEmpty && outlet.isWritable else {
                pending.append((frame, chunk))
                if pending.count > capacity { overflow() }
                return
            }
            write(frame, chunk)
            if !touched {
                touched = true
                list.append(self)
            }
        }

        private func write(_ frame: EventFrame?, _ chunk: ByteBuffer) {
            outlet.write(chunk)
            wrote = true
            if let frame, frame.terminal && endsWithJob { finished = true }
        }

        func flush() {
            touched = false
            guard !closed else { return }
            if wrote { outlet.flush() }
            wrote = false
            if finished { queue.finish(.completed) }
        }

        /// The socket takes writes again: what waited goes out.
        func resume() {
            guard !closed else { return }
            var sent = 0
            while sent < pending.count && outlet.isWritable && !finished {
                write(pending[sent].frame, pending[sent].chunk)
                sent += 1
            }
            pending.removeFirst(sent)
            flush()
        }

        /// A client that stopped reading: the stream's task sees the overflow and closes the connection.
        private func overflow() {
            pending = []
            closed = true
            queue.finish(.overflow)
        }

        func connectionClosed() {
            guard !closed else { return }
            close()
            queue.finish(.shutdown)
        }

        func close() {
            closed = true
            pending = []
            if outlet.stream === self { outlet.stream = nil }
        }
    }

    static let keepalive = HTTPChunk.framed(EventStream.keepalive)
}
