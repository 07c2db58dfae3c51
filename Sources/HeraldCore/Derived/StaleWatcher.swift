import Logging
import ServiceLifecycle
import Synchronization

/// Stale sensors: when a key of a channel whose route sets `stale_after` stays silent that long,
/// Herald emits a `stale` event for it, and `fresh` when it speaks again.
///
/// `observe` runs on the writer thread after each commit and only records; the events it causes
/// are appended by `Runner`, so the writer never waits on itself. On PostgreSQL every node
/// observes every commit, and only the node holding the duties lease runs a `Runner`
/// (`LeasedDuties`), one term at a time. The clock is injected for tests.
public final class StaleWatcher: Sendable {
    struct Key: Hashable, Sendable {
        var channel: String
        var key: String
    }

    struct Seen: Sendable {
        var lastSeen: Int64
        var stale: Bool
    }

    /// Silence allowed per channel, in milliseconds.
    let limits: [String: Int64]
    let now: @Sendable () -> Int64
    private let seen = Mutex<[Key: Seen]>([:])
    /// `fresh` events observed and not yet appended; the oldest are kept if the runner falls behind.
    private let pendingFresh = Mutex<[EventDraft]>([])
    private let freshWake = NotifyWake()
    static let pendingLimit = 10_000

    public init(routes: [RouteConfig], now: @escaping @Sendable () -> Int64 = Clock.nowMilliseconds) {
        var limits: [String: Int64] = [:]
        for route in routes {
            if let seconds = route.staleAfter { limits[route.channel] = min(limits[route.channel] ?? .max, Int64(seconds * 1000)) }
        }
        self.limits = limits
        self.now = now
    }

    public var isEnabled: Bool { !limits.isEmpty }

    /// Records activity from committed events; a key that was stale gets its `fresh` event queued.
    /// The `stale` and `fresh` events themselves are followed too, whoever appended them: on
    /// PostgreSQL a standby knows from them what the holder found, and drops a `fresh` it queued
    /// once it sees the holder's, so it can take over without repeating or missing one.
    public func observe(_ events: [StoredEvent]) {
        guard isEnabled else { return }
        var fresh: [EventDraft] = []
        var appended: [(Key, Int64)] = []
        seen.withLock { seen in
            for event in events {
                guard limits[event.channel] != nil, let key = event.key else { continue }
                let id = Key(channel: event.channel, key: key)
                if event.type == "stale" {
                    // A key this node had not seen yet was last seen when the event says.
                    let lastSeen = (try? JSONText(validating: Array(event.draft.data.utf8)))?.value(at: "last_seen")?.stringValue
                        .flatMap(Clock.milliseconds(iso8601:)) ?? event.draft.time
                    seen[id, default: Seen(lastSeen: lastSeen, stale: true)].stale = true
                    continue
                }
                if event.type == "fresh" {
                    seen[id]?.stale = false
                    appended.append((id, event.draft.time))
                    continue
                }
                if let previous = seen[id], previous.stale {
                    let silent = Double(event.draft.time - previous.lastSeen) / 1000
                    fresh.append(EventDraft(channel: event.channel, type: "fresh", key: key, time: event.draft.time,
                                            data: "{\"silent_seconds\":\(jsonNumber((silent * 10).rounded() / 10))}"))
                }
                seen[id] = Seen(lastSeen: event.draft.time, stale: false)
            }
        }
        guard !fresh.isEmpty || !appended.isEmpty else { return }
        pendingFresh.withLock { pending in
            for (id, time) in appended {
                pending.removeAll { $0.channel == id.channel && $0.key == id.key && $0.time <= time }
            }
            pending += fresh.prefix(Self.pendingLimit - pending.count)
        }
        if !fresh.isEmpty { freshWake.signal() }
    }

    func putBack(_ fresh: [EventDraft]) {
        pendingFresh.withLock { pending in pending = Array((fresh + pending).prefix(Self.pendingLimit)) }
    }

    func takeFresh() -> [EventDraft] {
        pendingFresh.withLock { pending in
            defer { pending = [] }
            return pending
        }
    }

    /// Marks keys silent for longer than their limit as stale and returns their `stale` events.
    public func check(at time: Int64) -> [EventDraft] {
        seen.withLock { seen in
            var drafts: [EventDraft] = []
            for (id, state) in seen where !state.stale {
                guard let limit = limits[id.channel], time - state.lastSeen >= limit else { continue }
                seen[id]?.stale = true
                drafts.append(EventDraft(channel: id.channel, type: "stale", key: id.key, time: time, data: """
                    {"last_seen":\(jsonTime(state.lastSeen)),"stale_after_seconds":\(jsonNumber(Double(limit) / 1000))}
                    """))
            }
            return drafts.sorted { ($0.channel, $0.key ?? "") < ($1.channel, $1.key ?? "") }
        }
    }

    /// `check`'s `stale` drafts were not stored: those keys are due again at the next check.
    func retract(_ drafts: [EventDraft]) {
        seen.withLock { seen in
            for draft in drafts {
                guard let key = draft.key else { continue }
                seen[Key(channel: draft.channel, key: key)]?.stale = false
            }
        }
    }

    /// Starts from the store: the latest event of every key of the watched channels, for the
    /// keys not observed since this process started (what was observed is newer, and complete).
    func seed(from store: any HeraldStore) async throws {
        let selectors = try limits.keys.map { try Selector($0) }
        let latest = try await store.snapshot(matching: EventFilter(selectors: SelectorSet(selectors))).events
        seen.withLock { seen in
            for event in latest {
                guard let key = event.key else { continue }
                let id = Key(channel: event.channel, key: key)
                guard seen[id] == nil else { continue }
                seen[id] = Seen(lastSeen: event.draft.time, stale: event.type == "stale")
            }
        }
    }

    /// The service: appends `fresh` events as they are observed and checks for silence every
    /// second, until shutdown or (on PostgreSQL) until its task is cancelled at the end of a term.
    struct Runner: Service {
        let watcher: StaleWatcher
        let store: any HeraldStore
        let logger: Logger

        func run() async throws {
            // A service that returns early would stop the whole group, so an idle one waits for shutdown.
            guard watcher.isEnabled else { return try await gracefulShutdown() }
            try await watcher.seed(from: store)
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    await withGracefulShutdownHandler {
                        while !Task.isShuttingDownGracefully && !Task.isCancelled {
                            let fresh = watcher.takeFresh()
                            // Not stored: kept, in front of what came since, for the next try.
                            if !(await WatcherAppends.append(fresh, to: store, logger: logger, what: "fresh")) { watcher.putBack(fresh) }
                            await watcher.freshWake.wait(upTo: .seconds(1))
                        }
                    } onGracefulShutdown: {
                        watcher.freshWake.signal()
                    }
                }
                group.addTask {
                    await WatcherAppends.everySecond(to: store, logger: logger, what: "stale", retract: watcher.retract) {
                        watcher.check(at: watcher.now())
                    }
                }
            }
        }
    }
}
