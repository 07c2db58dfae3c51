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
            for event in events where event.type == "offline" {
                guard let id = event.key, let spell = offline[id] else { continue }
                offline[id]?.reported.formUnion(thresholds.filter { event.draft.time - spell.since >= $0 })
            }
            for event in events where event.type == "availability" {
                guard let id = event.key else { continue }
                let state = (try? JSONText(validating: Array(event.draft.data.utf8)))?.value(at: "availability")?.stringValue
                if state == "offline" {
                    if offline[id] == nil { offline[id] = Offline(channel: event.channel, since: event.draft.time) }
                } else {
                    offline[id] = nil
                }
            }
        }
    }

    /// The `offline` events due at `time`: one per device and threshold passed, once a spell.
    public func check(at time: Int64) -> [EventDraft] {
        offline.withLock { offline in
            var drafts: [EventDraft] = []
            for (id, spell) in offline {
                let due = thresholds.filter { time - spell.since >= $0 && !spell.reported.contains($0) }
                guard !due.isEmpty else { continue }
                offline[id]?.reported.formUnion(due)
                drafts.append(EventDraft(channel: spell.channel, type: "offline", key: id, time: time, data: """
                    {"availability":"offline","offline_seconds":\(jsonNumber(Double((time - spell.since) / 100) / 10)),"since":\(jsonTime(spell.since))}
                    """))
            }
            return drafts.sorted { ($0.key ?? "") < ($1.key ?? "") }
        }
    }

    /// Starts from the store: devices offline now, since when. A spell already known (observed,
    /// or from an earlier term on PostgreSQL) keeps what it reported.
    func seed(from store: any HeraldStore) async throws {
        let devices = try await store.deviceStates()
        offline.withLock { offline in
            for device in devices where device.availability == .offline && offline[device.description.id] == nil {
                offline[device.description.id] = Offline(channel: device.description.channel, since: device.availabilitySince ?? now())
            }
        }
    }

    /// The service: checks every second.
    struct Runner: Service {
        let watcher: OfflineWatcher
        let store: any HeraldStore
        let logger: Logger

        func run() async throws {
            guard watcher.isEnabled else { return try await gracefulShutdown() }
            try await watcher.seed(from: store)
            await WatcherAppends.everySecond(to: store, logger: logger, what: "offline") { watcher.check(at: watcher.now()) }
        }
    }
}
