import NIOCore

/// A live SSE stream on the direct lane (plain HTTP/1.1 keep-alive). Once its history is
/// written, the stream is handed over to its connection's event loop for the rest of its life:
/// events come from the loop's `LoopFanout` and go straight to the connection's `SocketOutlet` as
/// pre-framed HTTP chunks, and the loop ends the response (the terminating chunk, then close).
/// The request's task returns at the hand-over and the connection's task ends with it (see
/// `SocketOutlet`), so a live stream has no task at all; nothing wakes per event and nothing is
/// encoded per subscriber.
///
/// Only the connection's event loop touches an instance.
final class LiveStream {
    let outlet: SocketOutlet
    let subscription: Hub.Subscription
    let fanout: LoopFanout
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

    private var queue: SubscriberQueue { subscription.queue }

    private init(outlet: SocketOutlet, subscription: Hub.Subscription, fanout: LoopFanout, filter: EventFilter,
                 lastSent: Int64, capacity: Int) {
        (self.outlet, self.subscription, self.fanout, self.filter) = (outlet, subscription, fanout, filter)
        (self.lastSent, self.capacity) = (lastSent, capacity)
        endsWithJob = filter.key != nil
    }

    enum HandOver {
        /// The loop has the stream now and ends the response.
        case handedOver
        /// The queue has ended already (or a stream took the connection before): the caller
        /// carries on as without the direct lane.
        case declined
        /// The client left or closed its sending side before: the caller ends the response now.
        case clientLeft
    }

    /// Hands `subscription` over to this connection's loop: what its queue holds is written first,
    /// then every later event comes from the loop's fan-out, and the loop ends the response when
    /// the queue ends.
    ///
    /// No event falls between the two: the hub offers each event to the queue first and posts it
    /// to the loops after, so an event the queue turns away (it is direct by then) is posted after
    /// this stream joined its loop. One both queued and posted is skipped by id.
    static func handOver(_ subscription: Hub.Subscription, on channel: any Channel, filter: EventFilter,
                         after cursor: Int64, capacity: Int) async throws -> HandOver {
        let loop = channel.eventLoop
        return try await loop.submit {
            let fanout = LoopFanout.of(loop)  // on the loop: it is made there the first time
            let outlet = try SocketOutlet.of(channel)
            guard !outlet.clientLeft else { return .clientLeft }
            guard !outlet.owned else { return .declined }
            let stream = LiveStream(outlet: outlet, subscription: subscription, fanout: fanout, filter: filter,
                                    lastSent: cursor, capacity: capacity)
            fanout.register(stream)
            guard let waiting = subscription.queue.goDirect() else {
                fanout.unregister(stream)
                return .declined
            }
            outlet.own(for: stream)
            stream.sendWaiting(waiting)
            subscription.wentDirect()
            let bound = NIOLoopBound(stream, eventLoop: loop)
            subscription.queue.whenEnded { end in loop.execute { bound.value.end(end) } }
            return .handedOver
        }.get()
    }

    /// True when the event counts as delivered (written, or held for a full socket).
    func send(_ frame: EventFrame, chunk: ByteBuffer, touched list: inout [LiveStream]) -> Bool {
        guard !closed, !finished, frame.id > lastSent else { return false }
        lastSent = frame.id
        put(frame, chunk, touched: &list)
        return true
    }

    func sendKeepalive(touched list: inout [LiveStream]) {
        guard !closed, !finished else { return }
        put(nil, Self.keepalive, touched: &list)
    }

    /// What the queue held when the stream switched lanes, then a flush.
    private func sendWaiting(_ deliveries: [Delivery]) {
        var touched: [LiveStream] = []
        for delivery in deliveries {
            switch delivery {
            case .event(let frame): _ = send(frame, chunk: HTTPChunk.framed(frame.bytes), touched: &touched)
            case .keepalive: sendKeepalive(touched: &touched)
            }
        }
        fanout.flush(self)
    }

    private func put(_ frame: EventFrame?, _ chunk: ByteBuffer, touched list: inout [LiveStream]) {
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

    /// How the written chunks went (nil: none were written); see `SocketOutlet.flush`.
    func flush(joiningIn scratch: inout ByteBuffer) -> SocketOutlet.Path? {
        touched = false
        guard !closed else { return nil }
        let path = wrote ? outlet.flush(joiningIn: &scratch) : nil
        wrote = false
        if finished { queue.finish(.completed) }
        return path
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
        fanout.flush(self)
    }

    /// A client that stopped reading: cut off (it resumes by id), see `end`.
    private func overflow() {
        stop(.overflow)
    }

    /// The client went away (or closed its side): the stream ends now, not when its unwritten
    /// events would overflow.
    func connectionClosed() {
        guard !closed else { return }
        stop(.shutdown)
    }

    /// Nothing more is written; the queue's end brings `end` on the loop.
    private func stop(_ reason: SubscriberQueue.End) {
        closed = true
        pending = []
        queue.finish(reason)
    }

    /// The queue ended (job done, shutdown, overflow, client gone): leave the lane and the hub,
    /// and end the response. The connection closes with it: a request the client pipelined
    /// behind the stream was refused unrun and its answer never sent (`FrontDoor`); HTTP/1.1
    /// clients retry such requests on a new connection.
    private func end(_ reason: SubscriberQueue.End) {
        closed = true  // also for ends from elsewhere: the job's last event, shutdown
        pending = []
        fanout.unregister(self)
        if reason == .overflow {
            subscription.dropSlow()
            outlet.finish(with: nil)
        } else {
            subscription.close()
            outlet.finish(with: HTTPChunk.last)
        }
    }

    static let keepalive = HTTPChunk.framed(EventStream.keepalive)
}
