import Logging
import PostgresNIO
import ServiceLifecycle

/// Brings other nodes' commits to this node's gate, in id order. NOTIFY is only the wake-up:
/// the events are read by id, so a notification lost, merged or dropped across a reconnect
/// costs nothing. After every (re)connect the feed first catches up by id, and only then waits.
public struct PostgresEventFeed: Service {
    let log: PostgresEventLog

    public init(log: PostgresEventLog) { self.log = log }

    public func run() async throws {
        var backoff: Duration = .milliseconds(100)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            guard log.phase == .ready else {
                try await Task.sleep(for: .milliseconds(50))
                continue
            }
            let began = ContinuousClock.now
            do {
                try await cancelWhenGracefulShutdown {
                    let connection = try await log.connect()
                    do {
                        // A stop or a graceful shutdown cancels the wait, which closes the connection.
                        try await connection.run { connection in
                            try await connection.listen(on: PostgresSchema.notifyChannel) { notifications in
                                try await catchUp(connection)
                                for try await notification in notifications {
                                    // Several commits, one read: a wake-up for what is handed on already is spent.
                                    if let head = Int64(notification.payload), head <= log.gate.publishedThrough { continue }
                                    try await catchUp(connection)
                                }
                            }
                        }
                    } catch {
                        await connection.close()
                        throw error
                    }
                    await connection.close()
                }
            } catch {
                if Task.isCancelled || Task.isShuttingDownGracefully { return }
                // A connection that held for a while starts the backoff again.
                if began.duration(to: .now) > .seconds(10) { backoff = .milliseconds(100) }
                log.logger.warning("PostgreSQL feed lost; catching up by id once back",
                                   metadata: ["error": "\(PostgresFailure.from(error, endpoint: log.endpoint))"])
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, log.options.maxBackoff)
            }
        }
    }

    /// Reads and hands on every committed event past what the gate handed on, a page at a time.
    /// Head and page come from one statement, so the page covers exactly up to the head it names.
    func catchUp(_ connection: PostgresConnection) async throws {
        while true {
            let after = log.gate.publishedThrough
            let rows = try await connection.query("""
                SELECT h.id, e.id, e.channel, e.type, e.key, e.time, e.data, e.source FROM head h
                LEFT JOIN LATERAL (SELECT * FROM events WHERE id > \(after) AND id <= h.id ORDER BY id LIMIT \(PostgresEventLog.catchUpLimit)) e ON true
                ORDER BY e.id
                """, logger: log.logger)
            var head = after
            var events: [StoredEvent] = []
            for try await (rowHead, id, channel, type, key, time, data, source)
                in rows.decode((Int64, Int64?, String?, String?, String?, Int64?, String?, String?).self) {
                head = rowHead
                if let id, let channel, let type, let time, let data {
                    events.append(StoredEvent(id: id, draft: EventDraft(channel: channel, type: type, key: key,
                                                                         time: time, data: data, source: source)))
                }
            }
            let full = events.count == PostgresEventLog.catchUpLimit
            let through = full ? events[events.count - 1].id : head
            guard through > after else { return }
            log.gate.offer(PublishGate.Batch(after: after, events: events, through: through))
            if !full { return }
        }
    }
}
