import Logging
import ServiceLifecycle
import Synchronization

/// Stale sensors: when a key of a channel whose route sets `stale_after` stays silent that long,
/// Herald emits a `stale` event for it, and `fresh` when it speaks again.
///
/// `observe` runs on the writer thread after each commit and only records; the events it causes
/// are appended by `run`, so the writer never waits on itself. The clock is injected for tests.
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
    private let freshEvents: AsyncStream<EventDraft>
    private let freshContinuation: AsyncStream<EventDraft>.Continuation

    public init(routes: [RouteConfig], now: @escaping @Sendable () -> Int64 = Clock.nowMilliseconds) {
        var limits: [String: Int64] = [:]
        for route in routes {
            if let seconds = route.staleAfter { limits[route.channel] = min(limits[route.channel] ?? .max, Int64(seconds * 1000)) }
        }
        self.limits = limits
        self.now = now
        (freshEvents, freshContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingOldest(10_000))
    }

    public var isEnabled: Bool { !limits.isEmpty }

    /// Records activity from committed events; a key that was stale gets its `fresh` event queued.
    public func observe(_ events: [StoredEvent]) {
        guard isEnabled else { return }
        var fresh: [EventDraft] = []
        seen.withLock { seen in
            for event in events {
                guard limits[event.channel] != nil, let key = event.key else { continue }
                let id = Key(channel: event.channel, key: key)
                if event.type == "stale" || event.type == "fresh" { continue }
                if let previous = seen[id], previous.stale {
                    let silent = Double(event.draft.time - previous.lastSeen) / 1000
                    fresh.append(EventDraft(channel: event.channel, type: "fresh", key: key, time: event.draft.time,
                                            data: "{\"silent_seconds\":\(jsonNumber((silent * 10).rounded() / 10))}"))
                }
                seen[id] = Seen(lastSeen: event.draft.time, stale: false)
            }
        }
        for draft in fresh { freshContinuation.yield(draft) }
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

    /// Starts from the log: the latest event of every key of the watched channels.
    func seed(from log: EventLog) async throws {
        let selectors = try limits.keys.map { try Selector($0) }
        let latest = try await log.snapshot(matching: EventFilter(selectors: SelectorSet(selectors))).events
        seen.withLock { seen in
            for event in latest {
                guard let key = event.key else { continue }
                seen[Key(channel: event.channel, key: key)] = Seen(lastSeen: event.draft.time, stale: event.type == "stale")
            }
        }
    }

    /// The service: appends `fresh` events as they are observed and checks for silence every second.
    struct Runner: Service {
        let watcher: StaleWatcher
        let log: EventLog
        let logger: Logger

        func run() async throws {
            // A service that returns early would stop the whole group, so an idle one waits for shutdown.
            guard watcher.isEnabled else { return try await gracefulShutdown() }
            try await watcher.seed(from: log)
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await draft in watcher.freshEvents.cancelOnGracefulShutdown() {
                        await WatcherAppends.append([draft], to: log, logger: logger, what: "fresh")
                    }
                }
                group.addTask {
                    await WatcherAppends.everySecond(to: log, logger: logger, what: "stale") { watcher.check(at: watcher.now()) }
                }
            }
        }
    }
}
