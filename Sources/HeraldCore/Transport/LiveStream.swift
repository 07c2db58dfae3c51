import NIOCore

/// A live SSE stream on the direct lane (plain HTTP/1.1 keep-alive). Once its history is
/// written, the stream is handed over to its connection's event loop for the rest of its life:
/// events come from the loop's `LoopFanout` and go straight to the connection's `StreamConnection` as
/// pre-framed HTTP chunks, and the loop ends the response (the terminating chunk, then close).
/// The request's task returns at the hand-over and the connection's task ends with it (see
/// `StreamConnection.takeOver`), so a live stream has no task at all; nothing wakes per event and
/// nothing is encoded per subscriber.
///
/// Only the connection's event loop touches an instance.
final class LiveStream {
    let outlet: StreamConnection
    let subscription: Hub.Subscription
    let fanout: LoopFanout
    let filter: EventFilter
    private var cursor: DeliveryCursor
    /// Held while the socket takes no more writes, in order; the cursor says when they are too many.
    private var pending: [ByteBuffer] = []
    /// Chunks were written since the last flush.
    private var wrote = false
    /// In the drain's list of streams to flush.
    private var touched = false
    /// The stream writes nothing more (cut off, its client gone, or ended).
    private var closed = false

    private var queue: SubscriberQueue { subscription.queue }
    /// Deliveries waiting for the socket to take writes again.
    var heldCount: Int { pending.count }

    private init(outlet: StreamConnection, subscription: Hub.Subscription, fanout: LoopFanout, filter: EventFilter,
                 cursor: DeliveryCursor) {
        (self.outlet, self.subscription, self.fanout, self.filter, self.cursor) = (outlet, subscription, fanout, filter, cursor)
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

    /// Hands `subscription` over to this connection's loop: `history` (the last of it, unsent) and
    /// what the queue holds are written first, then every later event comes from the loop's
    /// fan-out, and the loop ends the response when the queue ends.
    ///
    /// No event falls between the two: the hub offers each event to the queue first and posts it
    /// to the loops after, so an event the queue turns away (it is direct by then) is posted after
    /// this stream joined its loop. One both queued and posted is skipped by id.
    static func handOver(_ subscription: Hub.Subscription, on channel: any Channel, filter: EventFilter,
                         after cursor: Int64, history: ByteBuffer = ByteBuffer(), capacity: Int) async throws -> HandOver {
        let loop = channel.eventLoop
        return try await loop.submit { () -> HandOver in
            let fanout = subscription.fanouts.of(loop)  // on the loop: it is made there the first time
            // A connection that closed has no handlers left.
            guard channel.isActive, let outlet = try? StreamConnection.of(channel), !outlet.clientLeft else {
                return .clientLeft
            }
            guard outlet.isOpenToAStream, !HTTP10Replies.answeringHTTP10(on: channel) else { return .declined }
            let stream = LiveStream(outlet: outlet, subscription: subscription, fanout: fanout, filter: filter,
                                    cursor: DeliveryCursor(after: cursor, endsWithJob: filter.key != nil, capacity: capacity))
            fanout.register(stream)
            guard let waiting = subscription.queue.goDirect() else {
                fanout.unregister(stream)
                return .declined
            }
            outlet.takeOver(for: stream)
            if history.readableBytes > 0 { stream.put(HTTPChunk.framed(history)) }
            stream.sendWaiting(waiting)
            subscription.wentDirect()
            let bound = NIOLoopBound(stream, eventLoop: loop)
            subscription.queue.whenEnded { end in loop.execute { bound.value.end(end) } }
            return .handedOver
        }.get()
    }

    /// True when the event counts as delivered (written, or held for a full socket).
    func send(_ frame: EventFrame, chunk: ByteBuffer, touched list: inout [LiveStream]) -> Bool {
        guard !closed, cursor.take(frame) else { return false }
        put(chunk, touched: &list)
        return true
    }

    func sendKeepalive(touched list: inout [LiveStream]) {
        guard !closed, cursor.takesKeepalive else { return }
        put(Self.keepalive, touched: &list)
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

    /// One chunk outside a drain (the history at hand-over); the caller flushes.
    private func put(_ chunk: ByteBuffer) {
        var touched: [LiveStream] = []
        put(chunk, touched: &touched)
    }

    private func put(_ chunk: ByteBuffer, touched list: inout [LiveStream]) {
        guard pending.isEmpty && outlet.isWritable else {
            pending.append(chunk)
            if cursor.overflows(holding: pending.count) { stop(.overflow) }
            return
        }
        outlet.write(chunk)
        wrote = true
        if !touched {
            touched = true
            list.append(self)
        }
    }

    /// How the written chunks went (nil: none were written); see `StreamConnection.flush`.
    func flush(joiningIn scratch: inout ByteBuffer) -> StreamConnection.Path? {
        touched = false
        guard !closed else { return nil }
        let path = wrote ? outlet.flush(joiningIn: &scratch) : nil
        wrote = false
        if cursor.reachedEnd && pending.isEmpty { queue.finish(.completed) }
        return path
    }

    /// The socket takes writes again: what waited goes out.
    func resume() {
        guard !closed else { return }
        var sent = 0
        while sent < pending.count && outlet.isWritable {
            outlet.write(pending[sent])
            wrote = true
            sent += 1
        }
        pending.removeFirst(sent)
        fanout.flush(self)
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
