import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Sends one target's notifications from the outbox, in order per lane, at least once: a row is
/// deleted only after its target took it, so a crash or a restart sends it again, with the same
/// idempotency key. Failures are retried with backoff (`RetryPolicy`) until `max_age`, then given
/// up to `$deadletter`; refusals that no retry can change are given up at once.
final class NotifyDelivery: Service, Sendable {
    let target: NotifyTarget
    let sender: any NotifySender
    let log: any NotifyStore
    let wake: NotifyWake
    let alertChannels: Set<String>
    let policy: RetryPolicy
    let logger: Logger
    let metrics: NotifyMetrics

    init(target: NotifyTarget, sender: any NotifySender, log: any NotifyStore, wake: NotifyWake, alertChannels: Set<String>,
         policy: RetryPolicy = RetryPolicy(), logger: Logger) {
        self.target = target
        self.sender = sender
        self.log = log
        self.wake = wake
        self.alertChannels = alertChannels
        self.policy = policy
        self.logger = logger
        metrics = NotifyMetrics(target: target.name)
    }

    func run() async throws {
        await sender.start()
        await withGracefulShutdownHandler {
            // Cancelled when this node lets the duties lease go (`LeasedDuties`).
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                let pause: Duration
                do {
                    pause = try await deliverDue()
                } catch {
                    if Task.isCancelled { break }
                    logger.error("notify outbox unreadable", metadata: ["target": "\(target.name)", "error": "\(error)"])
                    pause = .seconds(5)
                }
                if pause > .zero { await wake.wait(upTo: pause) }
            }
        } onGracefulShutdown: {
            self.wake.signal()
        }
        await sender.stop()
    }

    /// Sends what is due, a few lanes at once (a Web Push target has a lane per browser), each
    /// lane's rows in order from one read; returns how long to wait before looking again (zero:
    /// something was tried, look again now).
    func deliverDue() async throws -> Duration {
        let now = Clock.nowMilliseconds()
        let lanes = try await log.outboxPage(target: target.name, now: now, perLane: Self.rowsPerLane)
        var nextDue = try await log.outboxNextHeld(target: target.name, now: now)
        for lane in lanes { if let first = lane.first, first.nextAt > now { nextDue = min(nextDue ?? first.nextAt, first.nextAt) } }
        let due = lanes.filter { ($0.first?.nextAt ?? .max) <= now }
        let tried = try await withThrowingTaskGroup(of: Bool.self) { group in
            var tried = false, started = 0
            for lane in due {
                if started >= Self.lanesAtOnce, let one = try await group.next() { tried = tried || one }
                guard !Task.isShuttingDownGracefully && !Task.isCancelled else { break }
                group.addTask { try await self.deliver(lane, now: now) }
                started += 1
            }
            for try await one in group { tried = tried || one }
            return tried
        }
        try await recordOwed(busy: tried)
        if tried { return .zero }
        guard let nextDue else { return .seconds(30) }
        return .milliseconds(max(nextDue - Clock.nowMilliseconds(), 1))
    }

    /// One lane's rows, in order, until one has to wait for its retry.
    private func deliver(_ rows: [OutboxItem], now: Int64) async throws -> Bool {
        var tried = false
        // A delivery takes the older rows of its alert with it (a rate limit's fold): not again.
        var doneThrough: [String: Int64] = [:]
        for row in rows {
            guard !Task.isShuttingDownGracefully && !Task.isCancelled else { break }
            if let done = doneThrough[row.subject], row.seq <= done { continue }
            switch try await attempt(row, now: now) {
            case .done(let through):
                tried = true
                doneThrough[row.subject] = through
            case .held:
                continue  // a rate limit holds this alert back; the lane's others go on
            case .laneWaits:
                return true
            }
        }
        return tried
    }

    static let rowsPerLane = 64
    static let lanesAtOnce = 8
    private let lastRecorded = Atomic<Int64>(0)

    /// The gauges read the whole outbox of the target: while busy, once a second rather than
    /// once per delivery; always before the service goes idle, so they never stay behind.
    private func recordOwed(busy: Bool) async throws {
        let now = Clock.nowMilliseconds()
        if busy && now - lastRecorded.load(ordering: .relaxed) < 1_000 { return }
        lastRecorded.store(now, ordering: .relaxed)
        metrics.recordOwed(try await log.outboxSummaries(only: target.name)[target.name], now: now)
    }

    enum Attempt {
        /// Sent or given up, with the older rows of its alert up to this seq.
        case done(through: Int64)
        /// A rate limit holds it until its window ends.
        case held
        /// To be retried after a backoff (or its subscription is gone): what follows in the lane waits.
        case laneWaits
    }

    private func attempt(_ head: OutboxItem, now: Int64) async throws -> Attempt {
        if Double(now - head.createdAt) > target.maxAgeSeconds * 1000 {
            try await giveUp(head, reason: "not delivered within max_age (\(head.attempts) attempts; last: \(head.lastError ?? "none"))",
                             kind: "expired")
            return .done(through: head.seq)
        }
        var item = head, folded = 0
        if let limit = target.rateLimitSeconds {
            if head.attempts == 0, let sent = try await log.lastSent(target: target.name, subject: head.subject),
               Double(now - sent) < limit * 1000 {
                try await log.outboxReschedule(head, nextAt: sent + Int64(limit * 1000), error: nil)
                return .held
            }
            (item, folded) = try await log.outboxLatest(of: head)
        }
        guard let delivery = NoticeDelivery(item, folded: folded, alertChannels: alertChannels) else {
            try await giveUp(item, reason: "the outbox row is not an event Herald can read", kind: "unreadable")
            return .done(through: item.seq)
        }
        let result = await sender.send(delivery)
        switch result {
        case .sent:
            try await log.outboxDelivered(item, at: Clock.nowMilliseconds())
            metrics.sent.increment()
            if head.attempts > 0 {
                logger.info("notification delivered after retries", metadata: ["target": "\(target.name)", "event": "\(item.eventId)",
                                                                             "attempts": "\(head.attempts + 1)"])
            }
        case .retry(let reason, let after):
            let delay = policy.delay(afterAttempt: head.attempts + 1, retryAfter: after)
            try await log.outboxReschedule(head, nextAt: Clock.nowMilliseconds() + Int64(delay / .milliseconds(1)), error: reason)
            metrics.retries.increment()
            logger.warning("notification not delivered, will retry", metadata: [
                "target": "\(target.name)", "event": "\(item.eventId)", "reason": "\(reason)", "retry_in": "\(delay)"])
            return .laneWaits
        case .permanent(let reason):
            try await giveUp(item, reason: reason, kind: "refused")
        case .recipientGone(let reason):
            try await log.deletePushSubscription(endpoint: item.lane)  // and what its lane still owed
            metrics.failed(kind: "gone").increment()
            logger.notice("push subscription removed: the push service says it is gone",
                          metadata: ["target": "\(target.name)", "endpoint": "\(item.lane)", "reason": "\(reason)"])
            return .laneWaits
        }
        return .done(through: item.seq)
    }

    /// Stores the `$deadletter` event first, then drops the row: a crash in between sends the
    /// dead letter twice rather than losing it.
    private func giveUp(_ item: OutboxItem, reason: String, kind: String) async throws {
        _ = try await log.append([NotifyDeadLetter.draft(item, reason: reason, targetKind: target.kind.name)])
        try await log.outboxRemove(item)
        metrics.failed(kind: kind).increment()
        logger.error("notification given up to $deadletter", metadata: [
            "target": "\(target.name)", "event": "\(item.eventId)", "reason": "\(reason)"])
    }
}

/// A notification given up: a `$deadletter` event (type `notify`) with the reason and the event.
enum NotifyDeadLetter {
    static func draft(_ item: OutboxItem, reason: String, targetKind: String?) -> EventDraft {
        let data = "{\"target\":\(JSONText.quoted(item.target)),\"kind\":" + (targetKind.map(JSONText.quoted) ?? "null")
            + ",\"reason\":\(JSONText.quoted(reason)),\"attempts\":\(item.attempts),\"eventId\":\(item.eventId)"
            + ",\"event\":\((try? JSONText(validating: Array(item.envelope.utf8)))?.singleLine ?? JSONText.quoted(item.envelope))}"
        return EventDraft(channel: "$deadletter", type: "notify", key: item.target, data: data,
                          source: "{\"notify\":{\"target\":\(JSONText.quoted(item.target))}}")
    }
}

extension NoticeDelivery {
    /// The row's event, read back from the envelope it was stored with.
    init?(_ item: OutboxItem, folded: Int, alertChannels: Set<String>) {
        guard let event = StoredEvent(envelope: item.envelope), let notice = Notice(event, alertChannels: alertChannels) else { return nil }
        self.init(envelope: item.envelope, event: event, notice: notice, folded: folded, lane: item.lane,
                  idempotencyKey: "\(item.eventId)")
    }
}

extension StoredEvent {
    /// The inverse of `envelope`.
    init?(envelope: String) {
        guard let json = try? JSONText(validating: Array(envelope.utf8)), let id = json.value(at: "id")?.numberValue,
              let channel = json.value(at: "channel")?.stringValue, let type = json.value(at: "type")?.stringValue,
              let time = json.value(at: "time")?.stringValue.flatMap(Clock.milliseconds(iso8601:)),
              let data = json.value(at: "data") else { return nil }
        let source = json.value(at: "source").flatMap { $0.isNull ? nil : $0.singleLine }
        self.init(id: Int64(id), draft: EventDraft(channel: channel, type: type, key: json.value(at: "key")?.stringValue,
                                                   time: time, data: data.singleLine, source: source))
    }
}

/// `herald_notify_*`, per target.
struct NotifyMetrics: Sendable {
    let target: String
    let sent: Counter
    let retries: Counter
    let oldestOwed: Gauge
    let owed: Gauge

    init(target: String) {
        self.target = target
        sent = Counter(label: "herald_notify_sent_total", dimensions: [("target", target)])
        retries = Counter(label: "herald_notify_retries_total", dimensions: [("target", target)])
        oldestOwed = Gauge(label: "herald_notify_oldest_owed_seconds", dimensions: [("target", target)])
        owed = Gauge(label: "herald_notify_owed", dimensions: [("target", target)])
        sent.increment(by: 0)
        retries.increment(by: 0)
        for kind in ["refused", "expired", "gone", "unreadable"] { failed(kind: kind).increment(by: 0) }
    }

    func failed(kind: String) -> Counter {
        Counter(label: "herald_notify_failed_total", dimensions: [("target", target), ("reason", kind)])
    }

    func recordOwed(_ summary: OutboxSummary?, now: Int64) {
        owed.record(summary?.owed ?? 0)
        oldestOwed.record(summary?.oldestCreatedAt.map { Double(now - $0) / 1000 } ?? 0)
    }
}
