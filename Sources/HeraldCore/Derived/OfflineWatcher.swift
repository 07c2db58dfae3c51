import Logging
import ServiceLifecycle
import Synchronization

/// Devices offline for too long (DESIGN §5a): alert rules with `offline_for` raise an alert once a
/// device has been offline that long, and clear it when it is back online.
///
/// `observe` runs on the writer thread after each commit and only records availability; `run`
/// checks every second and appends an `offline` event (on the device's channel, keyed by its id,
/// `{"availability": "offline", "offline_seconds": …}`) as each rule's time passes, which the rules
/// then turn into alerts in the writer's transaction. The clock is injected for tests.
public final class OfflineWatcher: Sendable {
    struct Offline: Sendable {
        var channel: String
        var since: Int64
        /// The thresholds already reported for this spell offline.
        var reported: Set<Int64> = []
    }

    /// Every rule's `offline_for`, in milliseconds.
    let thresholds: [Int64]
    let now: @Sendable () -> Int64
    private let offline = Mutex<[String: Offline]>([:])
    /// When each device last came back online, as observed: an `offline` event of a spell that
    /// ended before (committed after the device's return) starts no spell again.
    private let backOnline = Mutex<[String: Int64]>([:])
    /// The thresholds each device's drafts of the last `check` marked reported, for `retract`.
    private let lastDue = Mutex<[String: [Int64]]>([:])

    public init(rules: [AlertRule], now: @escaping @Sendable () -> Int64 = Clock.nowMilliseconds) {
        thresholds = Set(rules.compactMap { $0.offlineFor.map { Int64($0 * 1000) } }).sorted()
        self.now = now
    }

    public var isEnabled: Bool { !thresholds.isEmpty }

    /// Records availability; and the `offline` events themselves, whoever appended them, so that
    /// on PostgreSQL a standby that takes over does not report a threshold the holder reported.
    public func observe(_ events: [StoredEvent]) {
        guard isEnabled else { return }
        offline.withLock { offline in
            for event in events where event.type == "availability" || event.type == "offline" {
                guard let id = event.key else { continue }
                let data = try? JSONText(validating: Array(event.draft.data.utf8))
                if event.type == "offline" {
                    // A spell this node did not see begin (it started since) begins when the event says.
                    let since = data?.value(at: "since")?.stringValue.flatMap(Clock.milliseconds(iso8601:)) ?? event.draft.time
                    if offline[id] == nil, let back = backOnline.withLock({ $0[id] }), back >= since { continue }
                    var spell = offline[id] ?? Offline(channel: event.channel, since: since)
                    spell.reported.formUnion(reportedThresholds(by: event, since: spell.since))
                    offline[id] = spell
                } else if data?.value(at: "availability")?.stringValue == "offline" {
                    if offline[id] == nil { offline[id] = Offline(channel: event.channel, since: event.draft.time) }
                } else {
                    offline[id] = nil
                    backOnline.withLock { $0[id] = event.draft.time }
                }
            }
        }
    }

    /// The thresholds an `offline` event stands for: every one its spell had passed by then.
    private func reportedThresholds(by event: StoredEvent, since: Int64) -> [Int64] {
        thresholds.filter { event.draft.time - since >= $0 }
    }

    /// The `offline` events due at `time`: one per device and threshold passed, once a spell.
    public func check(at time: Int64) -> [EventDraft] {
        offline.withLock { offline in
            var drafts: [EventDraft] = []
            for (id, spell) in offline {
                let due = thresholds.filter { time - spell.since >= $0 && !spell.reported.contains($0) }
                guard !due.isEmpty else { continue }
                offline[id]?.reported.formUnion(due)
                lastDue.withLock { $0[id] = due }
                drafts.append(EventDraft(channel: spell.channel, type: "offline", key: id, time: time, data: """
                    {"availability":"offline","offline_seconds":\(jsonNumber(Double((time - spell.since) / 100) / 10)),"since":\(jsonTime(spell.since))}
                    """))
            }
            return drafts.sorted { ($0.key ?? "") < ($1.key ?? "") }
        }
    }

    /// `check`'s drafts were not stored: their thresholds are due again at the next check.
    func retract(_ drafts: [EventDraft]) {
        let due = lastDue.withLock { $0 }
        offline.withLock { offline in
            for draft in drafts {
                guard let id = draft.key, let thresholds = due[id] else { continue }
                offline[id]?.reported.subtract(thresholds)
            }
        }
    }

    /// Starts from the store: devices offline now, since when, and the thresholds their latest
    /// `offline` event of this spell reported (after a restart, or a takeover on PostgreSQL). A
    /// spell already known (observed since this process started) keeps what it has.
    func seed(from store: any HeraldStore) async throws {
        let devices = try await store.deviceStates()
        let known = offline.withLock { Set($0.keys) }
        var spells: [String: Offline] = [:]
        for device in devices where device.availability == .offline && !known.contains(device.description.id) {
            let id = device.description.id
            var spell = Offline(channel: device.description.channel, since: device.availabilitySince ?? now())
            let recent = try await store.recentEvents(matching: EventFilter(selectors: SelectorSet([try Selector(spell.channel)]), key: id),
                                                      count: Self.eventsReadPerDevice).events
            if let last = recent.last(where: { $0.type == "offline" }), last.draft.time >= spell.since {
                spell.reported.formUnion(reportedThresholds(by: last, since: spell.since))
            }
            spells[id] = spell
        }
        offline.withLock { offline in
            for (id, spell) in spells where offline[id] == nil { offline[id] = spell }
        }
    }

    /// The latest events of a device read at start to find its last `offline` event.
    static let eventsReadPerDevice = 20

    /// The service: checks every second.
    struct Runner: Service {
        let watcher: OfflineWatcher
        let store: any HeraldStore
        let logger: Logger

        func run() async throws {
            guard watcher.isEnabled else { return try await gracefulShutdown() }
            try await watcher.seed(from: store)
            await WatcherAppends.everySecond(to: store, logger: logger, what: "offline", retract: watcher.retract) {
                watcher.check(at: watcher.now())
            }
        }
    }
}
