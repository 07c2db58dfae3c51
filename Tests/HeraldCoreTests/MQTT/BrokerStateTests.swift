import Synchronization
import Testing
@testable import HeraldCore

/// The broker state's transitions and what each announces: readiness, the gauge, `$status`.
@Suite struct BrokerStateTests {
    /// Every signal heard, in order.
    final class Recorder: Sendable {
        enum Signal: Equatable {
            case readiness(Bool)
            case gauge(Int)
            case status(BrokerReport)
        }

        private let heard = Mutex<[Signal]>([])

        var signals: BrokerSignals {
            BrokerSignals(readiness: { ready in self.heard.withLock { $0.append(.readiness(ready)) } },
                          gauge: { value in self.heard.withLock { $0.append(.gauge(value)) } },
                          status: { report in self.heard.withLock { $0.append(.status(report)) } })
        }

        /// What was heard since the last call.
        func take() -> [Signal] {
            heard.withLock { heard in defer { heard = [] }; return heard }
        }
    }

    /// Moves `state` by `event`, expecting the move to be taken and to announce exactly `expected`.
    func expectMove(_ state: inout BrokerState, _ event: BrokerEvent, to next: BrokerState,
                    announcing expected: [Recorder.Signal], _ recorder: Recorder,
                    sourceLocation: SourceLocation = #_sourceLocation) {
        let previous = state
        let taken = state.handle(event, signals: recorder.signals)
        #expect(taken, "\(event) from \(previous)", sourceLocation: sourceLocation)
        #expect(state == next, sourceLocation: sourceLocation)
        #expect(recorder.take() == expected, "\(event)", sourceLocation: sourceLocation)
    }

    @Test func aConnectionsLifeAnnouncesEachChangeOnce() {
        let recorder = Recorder()
        var state = BrokerState.idle
        expectMove(&state, .started, to: .connecting, announcing: [.readiness(false)], recorder)
        expectMove(&state, .accepted(sessionPresent: false), to: .subscribing(sessionPresent: false),
                   announcing: [.status(.connected(sessionPresent: false))], recorder)
        expectMove(&state, .subscribed, to: .connected, announcing: [.readiness(true), .gauge(1)], recorder)
        expectMove(&state, .dropped(reason: "connection lost"), to: .disconnected(reason: "connection lost"),
                   announcing: [.readiness(false), .gauge(0), .status(.disconnected(reason: "connection lost"))], recorder)
        expectMove(&state, .accepted(sessionPresent: true), to: .subscribing(sessionPresent: true),
                   announcing: [.status(.connected(sessionPresent: true))], recorder)
        expectMove(&state, .subscribed, to: .connected, announcing: [.readiness(true), .gauge(1)], recorder)
        expectMove(&state, .dropped(reason: "disconnected by Herald"), to: .disconnected(reason: "disconnected by Herald"),
                   announcing: [.readiness(false), .gauge(0), .status(.disconnected(reason: "disconnected by Herald"))], recorder)
        expectMove(&state, .stopped, to: .stopped, announcing: [], recorder)
    }

    /// A frozen broker: reported once when it goes silent, once when it answers again; a drop while
    /// silent is the same outage and says nothing more.
    @Test func aSilentBrokerIsReportedOnceAndItsDropNotAgain() {
        let recorder = Recorder()
        var state = BrokerState.connected
        expectMove(&state, .silent(reason: "the broker has not answered for 31 s"), to: .unresponsive(reason: "the broker has not answered for 31 s"),
                   announcing: [.readiness(false), .gauge(0), .status(.disconnected(reason: "the broker has not answered for 31 s"))], recorder)
        let silentAgain = state.handle(.silent(reason: "the broker has not answered for 32 s"), signals: recorder.signals)
        #expect(!silentAgain)
        expectMove(&state, .answered, to: .connected, announcing: [.readiness(true), .gauge(1), .status(.answersAgain)], recorder)
        expectMove(&state, .silent(reason: "quiet"), to: .unresponsive(reason: "quiet"),
                   announcing: [.readiness(false), .gauge(0), .status(.disconnected(reason: "quiet"))], recorder)
        expectMove(&state, .dropped(reason: "keepalive"), to: .disconnected(reason: "keepalive"), announcing: [], recorder)
    }

    /// A connection dropped before its SUBACKs was never ready: `$status` hears of it, readiness
    /// and the gauge stay as they were.
    @Test func aDropWhileSubscribingChangesOnlyTheStatus() {
        let recorder = Recorder()
        var state = BrokerState.subscribing(sessionPresent: false)
        expectMove(&state, .dropped(reason: "refused"), to: .disconnected(reason: "refused"),
                   announcing: [.status(.disconnected(reason: "refused"))], recorder)
    }

    @Test(arguments: [
        (BrokerState.idle, BrokerEvent.accepted(sessionPresent: false)),
        (.idle, .subscribed),
        (.connecting, .subscribed),
        (.connecting, .answered),
        (.connecting, .dropped(reason: "x")),
        (.connecting, .started),
        (.connected, .answered),
        (.connected, .subscribed),
        (.disconnected(reason: "x"), .silent(reason: "y")),
        (.disconnected(reason: "x"), .answered),
        (.disconnected(reason: "x"), .dropped(reason: "y")),
        (.unresponsive(reason: "x"), .subscribed),
        (.stopped, .started),
        (.stopped, .accepted(sessionPresent: true)),
    ])
    func anImpossibleEventIsRefusedAndAnnouncesNothing(state: BrokerState, event: BrokerEvent) {
        let recorder = Recorder()
        var moved = state
        let taken = moved.handle(event, signals: recorder.signals)
        #expect(!taken)
        #expect(moved == state)
        #expect(recorder.take().isEmpty)
    }

    @Test func readinessIsUnknownBeforeTheStartAndTrueOnlyWhileConnected() {
        #expect(BrokerState.idle.isReady == nil)
        #expect(BrokerState.connected.isReady == true)
        for state in [BrokerState.connecting, .subscribing(sessionPresent: true), .unresponsive(reason: "x"), .disconnected(reason: "x"), .stopped] {
            #expect(state.isReady == false, "\(state)")
        }
    }

    /// Transitions from two threads are announced in the order they were made.
    @Test func theSharedStateAnnouncesUnderItsLock() async {
        let recorder = Recorder()
        let shared = SharedBrokerState(signals: recorder.signals)
        #expect(shared.handle(.started))
        #expect(shared.handle(.accepted(sessionPresent: false)))
        #expect(shared.handle(.subscribed))
        _ = recorder.take()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<200 {
                group.addTask { shared.handle(.silent(reason: "quiet")) }
                group.addTask { shared.handle(.answered) }
            }
        }
        let readiness = recorder.take().compactMap { signal -> Bool? in
            if case .readiness(let ready) = signal { return ready }
            return nil
        }
        // Strictly alternating, ending where the state is.
        #expect(zip(readiness, readiness.dropFirst()).allSatisfy { $0 != $1 })
        #expect(readiness.last ?? true == (shared.current == .connected))
    }
}
