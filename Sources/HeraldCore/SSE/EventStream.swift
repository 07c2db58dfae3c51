import Hummingbird
import NIOCore

/// Writes one SSE response: history from the event log, then live events from the hub, with no
/// gap and no duplicate (DESIGN §3).
///
/// The hub subscription is taken before history is read, and every read also returns the log's
/// head in the same transaction; live events at or below what history covered are skipped.
struct EventStream {
    let runtime: HeraldRuntime
    let request: StreamRequest
    /// Events per history page: big enough to amortise a read, small enough to start quickly;
    /// a page is also cut at `pageBytes`, so large events cannot make one huge.
    static let page = 1_000
    static let pageBytes = 256 * 1024
    /// The most history a hand-over writes itself (a reconnect's few events; see `replay`).
    static let handOverHistoryBytes = 16 * 1024

    /// For a stream of one job (`key=`): the job's last event, after which the stream ends.
    let terminalId: Int64?
    /// A plain HTTP/1.1 keep-alive connection, for live delivery on the direct lane (`LiveStream`).
    let directLane: (any Channel)?

    init(runtime: HeraldRuntime, request: StreamRequest, directLane: (any Channel)? = nil) async throws {
        self.runtime = runtime
        self.request = request
        self.directLane = directLane
        self.terminalId = try await runtime.store.terminalEventId(matching: request.filter)
    }

    /// Thrown out of a history read or the live loop when the job's last event has been sent.
    private struct JobFinished: Error {}
    /// Thrown out of a history read when the stream's subscription ended meanwhile (signed out,
    /// shutting down): the rest of the history is not sent.
    private struct SubscriptionEnded: Error {}

    enum Outcome {
        /// The response is complete; the caller ends it.
        case ended
        /// The live part went to the connection's event loop, which ends the response (`LiveStream`).
        case handedOver
    }

    func write(to writer: StreamWriter) async throws -> Outcome {
        do {
            return try await stream(to: writer)
        } catch is JobFinished {
            return .ended
        } catch is SubscriptionEnded {
            return .ended
        }
    }

    /// A subscription to the hub; for a stream of a cookie session, only while that session
    /// lives: one signed out between the request's check and now is not subscribed.
    private func subscribe() async throws -> Hub.Subscription {
        let subscription = runtime.hub.subscribe(request.filter, session: request.session)
        if let session = request.session, try await runtime.store.sessionTokenDigest(idHash: session, now: Clock.nowMilliseconds()) == nil {
            subscription.close()
            throw SubscriptionEnded()
        }
        return subscription
    }

    private func stream(to writer: StreamWriter) async throws -> Outcome {
        var subscription = try await subscribe()
        var outcome = Outcome.ended
        defer { if outcome == .ended { subscription.close() } }
        var pending = ByteBuffer(string: SSEEncoder.retry(milliseconds: 3000) + SSEEncoder.comment("herald stream"))
        var cursor: Int64
        var firstPage: HistoryPage?
        switch try await resumePoint() {
        case .after(let lastId, let reset, let page):
            if let reset { pending.writeString(reset.frame(id: nil)) }
            cursor = lastId
            firstPage = page
        case .start(let reset):
            cursor = try await start(adding: &pending, reset: reset, to: writer)
        }
        // History, in pages, until a pass finishes while the live queue is still intact. A queue
        // that overflowed during a long replay is replaced and the replay goes on from the cursor.
        var unsent = ByteBuffer()
        while true {
            (cursor, unsent) = try await replay(after: cursor, firstPage: firstPage, prefix: &pending, until: subscription, to: writer)
            firstPage = nil
            if subscription.queue.end != .overflow { break }
            try await writer.writeHistory(unsent)
            subscription.close()
            subscription = try await subscribe()
        }
        outcome = try await live(subscription, after: cursor, history: unsent, to: writer)
        return outcome
    }

    /// Where history begins, and the `$reset` to send first, if any.
    private enum ResumePoint {
        /// History resumes after the client's Last-Event-ID; its first page may be read already.
        case after(Int64, reset: ResetNotice?, firstPage: HistoryPage?)
        /// No usable Last-Event-ID: the stream starts with the snapshot or the recent events.
        case start(reset: ResetNotice?)
    }

    /// A `$reset`. For future/invalid its id is where the client's Last-Event-ID moves, the id
    /// the stream continues after, known once the start is; the others keep the client's id.
    private struct ResetNotice {
        let reason: ResetReason
        let oldest: Int64?
        let head: Int64

        func frame(id: Int64?) -> String {
            var data = "{\"reason\":\"\(reason.rawValue)\""
            if let oldest { data += ",\"oldestId\":\(oldest)" }
            data += ",\"headId\":\(head)}"
            return SSEEncoder.event(id: id.map(String.init), name: "$reset", data: data)
        }
    }

    private func resumePoint() async throws -> ResumePoint {
        switch request.resume {
        case .none:
            return .start(reset: nil)
        case .invalid:
            return .start(reset: ResetNotice(reason: .invalid, oldest: nil, head: try await runtime.store.headId()))
        case .after(let lastId):
            if let (head, frames) = runtime.hub.recent.after(lastId, matching: request.filter) {
                return .after(lastId, reset: nil, firstPage: .recent(head: head, frames: frames))
            }
            switch try await runtime.store.resume(after: lastId, matching: request.filter, limit: Self.page) {
            case (.exact, let page):
                return .after(lastId, reset: nil, firstPage: page.map(HistoryPage.stored))
            case (.reset(.future, let bounds), _), (.reset(.invalid, let bounds), _):
                return .start(reset: ResetNotice(reason: .future, oldest: bounds.oldestId, head: bounds.headId))
            case (.reset(let reason, let bounds), _):
                return .after(lastId, reset: ResetNotice(reason: reason, oldest: bounds.oldestId, head: bounds.headId),
                              firstPage: nil)
            }
        }
    }

    /// The start of a stream without a usable Last-Event-ID: the `$reset` (if any) and the
    /// snapshot's frames go into `pending`, and the head they were read at is returned; or the
    /// cursor before the recent events, which the replay then sends page by page. The `$reset`
    /// carries the id the stream continues after, so ids on the wire only grow.
    private func start(adding pending: inout ByteBuffer, reset: ResetNotice?, to writer: StreamWriter) async throws -> Int64 {
        guard request.snapshot else {
            let cursor = try await runtime.store.recentStart(matching: request.filter, count: request.replay)
            if let reset { pending.writeString(reset.frame(id: cursor)) }
            return cursor
        }
        let (head, events) = try await runtime.store.snapshot(matching: request.filter)
        if let reset {
            let continuesAfter = events.first.map { $0.id - 1 } ?? head
            pending.writeString(reset.frame(id: continuesAfter))
        }
        if append(events, to: &pending) {
            try await writer.writeHistory(pending)
            throw JobFinished()
        }
        return head
    }

    /// Frames for `events`, stopping after the job's terminal event; true when it was reached.
    private func append(_ events: [StoredEvent], to buffer: inout ByteBuffer) -> Bool {
        for event in events {
            buffer.writeString(SSEEncoder.frame(for: event))
            if event.id == terminalId { return true }
        }
        return false
    }

    /// Sends every stored event after `cursor`, a page at a time, each page written (to a client
    /// that reads) before the next is read, and returns the head the last read saw. `firstPage`
    /// is the first page when it was read already (with the resume check). `prefix` (the
    /// preamble, the snapshot) goes out with the first page. Stops when `subscription` ends
    /// for any reason but overflow, which the caller handles.
    ///
    /// On the direct lane a small last page is returned unsent: the hand-over writes it on the
    /// connection's loop, which spares a reconnecting client's stream one trip through the
    /// response writer. A large one goes out here, under the stall deadline.
    private func replay(after start: Int64, firstPage: HistoryPage?, prefix: inout ByteBuffer,
                        until subscription: Hub.Subscription,
                        to writer: StreamWriter) async throws -> (cursor: Int64, unsent: ByteBuffer) {
        var cursor = start
        var readAlready = firstPage
        while true {
            let page: HistoryPage
            if let readAlready { page = readAlready } else {
                page = .stored(try await runtime.store.events(after: cursor, matching: request.filter, limit: Self.page))
            }
            readAlready = nil
            var buffer = prefix
            prefix.clear()
            var taken = 0, finished = false
            for index in 0..<page.count {
                page.write(index, into: &buffer)
                taken += 1
                if page.id(at: index) == terminalId { finished = true; break }
                if buffer.readableBytes >= Self.pageBytes { break }
            }
            let lastPage = !finished && taken == page.count && page.reachesHead
            if lastPage && directLane != nil && buffer.readableBytes <= Self.handOverHistoryBytes {
                if let end = subscription.queue.end, end != .overflow { throw SubscriptionEnded() }
                return (max(cursor, page.head), buffer)
            }
            if buffer.readableBytes > 0 { try await writer.writeHistory(buffer) }
            if finished { throw JobFinished() }
            if let end = subscription.queue.end, end != .overflow { throw SubscriptionEnded() }
            if !lastPage {
                cursor = page.id(at: taken - 1)
                continue
            }
            return (max(cursor, page.head), ByteBuffer())
        }
    }

    /// A page of history: read from the log, or the hub's recent frames (`RecentFrames`).
    enum HistoryPage {
        case stored(EventLog.Page)
        case recent(head: Int64, frames: [EventFrame])

        /// The log's head as of the page's read.
        var head: Int64 {
            switch self {
            case .stored(let page): page.head
            case .recent(let head, _): head
            }
        }

        var count: Int {
            switch self {
            case .stored(let page): page.events.count
            case .recent(_, let frames): frames.count
            }
        }

        func id(at index: Int) -> Int64 {
            switch self {
            case .stored(let page): page.events[index].id
            case .recent(_, let frames): frames[index].id
            }
        }

        /// The event's SSE frame; the ring's are encoded already.
        func write(_ index: Int, into buffer: inout ByteBuffer) {
            switch self {
            case .stored(let page): buffer.writeString(SSEEncoder.frame(for: page.events[index]))
            case .recent(_, let frames): buffer.writeImmutableBuffer(frames[index].bytes)
            }
        }

        /// Whether nothing was left to read after it: a short page from the log, or the ring,
        /// which reaches the head.
        var reachesHead: Bool {
            switch self {
            case .stored(let page): page.events.count < EventStream.page
            case .recent: true
            }
        }
    }

    /// Live delivery. On the direct lane the stream is handed over to the connection's event loop
    /// and this task returns. Otherwise a child task writes, watched: a subscriber cut off for
    /// falling behind is usually stuck in a write to a client that stopped reading, so the write
    /// is cancelled and the connection closed.
    /// `history`: the last of it, not written yet (see `replay`).
    private func live(_ subscription: Hub.Subscription, after cursor: Int64, history: ByteBuffer,
                      to writer: StreamWriter) async throws -> Outcome {
        if let channel = directLane {
            switch try await LiveStream.handOver(subscription, on: channel, filter: request.filter, after: cursor,
                                                 history: history, capacity: runtime.hub.queueCapacity) {
            case .handedOver:
                return .handedOver
            case .clientLeft:
                // A client that closed only its sending side may still read: the history, then
                // the terminating chunk.
                if history.readableBytes > 0 { try await writer.writeHistory(history) }
                return .ended
            case .declined:
                break
            }
        }
        if history.readableBytes > 0 { try await writer.writeHistory(history) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { subscription.queue.finish(.shutdown) }
                try await deliver(subscription, after: cursor, to: writer)
            }
            // The stream's own task is the watch (one child task fewer per connection): the queue
            // ends when delivery ends, on cancellation, or on overflow, which cancels the write.
            await subscription.queue.waitUntilEnded()
            if subscription.queue.end == .overflow {
                group.cancelAll()
                throw SlowSubscriber()
            }
            try await group.waitForAll()
        }
        return .ended
    }

    private func deliver(_ subscription: Hub.Subscription, after start: Int64, to writer: StreamWriter) async throws {
        let queue = subscription.queue
        var cursor = DeliveryCursor(after: start, endsWithJob: request.filter.key != nil, capacity: queue.capacity)
        try await withTaskCancellationHandler {
            while let next = await queue.next() {
                switch next {
                case .one(.event(let frame)):
                    // The usual case: the hub's bytes go out as they are, shared by every subscriber.
                    guard cursor.take(frame) else { continue }
                    try await writer.write(frame.bytes)
                case .one(.keepalive):
                    if cursor.takesKeepalive { try await writer.write(Self.keepalive) }
                case .many(let deliveries):
                    // A backlog: one write for all of it.
                    var buffer = ByteBuffer()
                    for delivery in deliveries {
                        switch delivery {
                        case .event(let frame):
                            if cursor.take(frame) { buffer.writeImmutableBuffer(frame.bytes) }
                        case .keepalive:
                            if buffer.readableBytes == 0 && cursor.takesKeepalive { buffer = Self.keepalive }
                        }
                    }
                    if buffer.readableBytes > 0 { try await writer.write(buffer) }
                }
                if cursor.reachedEnd { return }
            }
        } onCancel: {
            queue.finish(.shutdown)
        }
    }

    static let keepalive = ByteBuffer(string: SSEEncoder.comment("keepalive"))

    struct SlowSubscriber: Error, CustomStringConvertible {
        var description: String { "the client fell too far behind and was disconnected; it resumes by id" }
    }

}

/// The response writer, shared with the child task that does the writing. Only one task uses it
/// at a time (the stream while it runs, then the handler to finish), hence @unchecked.
final class StreamWriter: @unchecked Sendable {
    private var writer: any ResponseBodyWriter
    /// The stream's connection, closed when a history write stalls.
    private let channel: any Channel
    private let stall: TimeAmount

    init(_ writer: any ResponseBodyWriter, channel: any Channel, stall: TimeAmount) {
        self.writer = writer
        self.channel = channel
        self.stall = stall
    }

    func write(_ buffer: ByteBuffer) async throws {
        try await writer.write(buffer)
    }

    /// A write of history, which waits while the client does not read (the writer's
    /// backpressure): a client that does not take it within `stall` per page's worth of bytes
    /// (`EventStream.pageBytes`, so at least ~8.5 KiB/s by default) is cut off, as a live stream
    /// that falls behind is, and resumes by id.
    func writeHistory(_ buffer: ByteBuffer) async throws {
        let channel = self.channel
        let pages = max(1, (buffer.readableBytes + EventStream.pageBytes - 1) / EventStream.pageBytes)
        let deadline = channel.eventLoop.scheduleTask(in: stall * Int64(pages)) {
            HubMetrics.dropped.increment()
            channel.close(promise: nil)
        }
        defer { deadline.cancel() }
        try await writer.write(buffer)
    }

    func finish() async throws {
        try await writer.finish(nil)
    }
}
