import Synchronization

/// What the broker's state says on `$status` (DESIGN §5).
enum BrokerReport: Equatable, Sendable {
    case connected(sessionPresent: Bool)
    /// The heartbeat came back after the broker had been reported silent.
    case answersAgain
    case disconnected(reason: String)
}

/// Where a transition is announced. The bridge's go to the runtime, the gauge and the `$status`
/// writer (`BrokerSignals.live`); a test's record what they hear.
struct BrokerSignals: Sendable {
    var readiness: @Sendable (Bool) -> Void
    var gauge: @Sendable (Int) -> Void
    var status: @Sendable (BrokerReport) -> Void
}

extension BrokerState {
    /// The one way the state changes. Refuses an event that cannot happen in this state (false,
    /// nothing announced); otherwise moves and announces what changed, each signal at most once.
    mutating func handle(_ event: BrokerEvent, signals: BrokerSignals) -> Bool {
        guard let next = next(after: event) else { return false }
        let previous = self
        self = next
        if let ready = next.isReady, ready != previous.isReady {
            signals.readiness(ready)
            // The gauge appears with the first connection: at start it has nothing to say yet.
            if previous.isReady != nil { signals.gauge(ready ? 1 : 0) }
        }
        if let report = Self.report(from: previous, to: next) { signals.status(report) }
        return true
    }

    /// What `$status` hears of a move, if anything.
    private static func report(from previous: BrokerState, to next: BrokerState) -> BrokerReport? {
        switch (previous, next) {
        case (_, .subscribing(let present)): .connected(sessionPresent: present)
        case (.unresponsive, .connected): .answersAgain
        // Said when the broker went silent; the drop that follows is the same outage.
        case (.unresponsive, .disconnected): nil
        case (_, .unresponsive(let reason)), (_, .disconnected(let reason)): .disconnected(reason: reason)
        default: nil
        }
    }
}

/// The broker's state, shared by the network thread and the heartbeat task.
final class SharedBrokerState: Sendable {
    private let state = Mutex(BrokerState.idle)
    private let signals: BrokerSignals

    init(signals: BrokerSignals) {
        self.signals = signals
    }

    /// Announces under the lock, so that two threads' transitions are announced in the order they
    /// happened; the signals only set a value or queue a report, none waits.
    @discardableResult
    func handle(_ event: BrokerEvent) -> Bool {
        state.withLock { $0.handle(event, signals: signals) }
    }

    var current: BrokerState { state.withLock { $0 } }
}
