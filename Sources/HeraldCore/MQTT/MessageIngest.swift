import Foundation
import Logging
import Synchronization

/// Stores what the network thread reads, and says when a burst's QoS 1 PUBACKs may go: only once
/// every message of it is committed, so a crash before that makes the broker deliver them again
/// (DESIGN §5). The thread hands slices over without waiting (`submit`), so the writer commits while
/// it reads on; `settle` waits for them all at the end of the burst.
final class MessageIngest: Sendable {
    private let log: any MQTTStore
    private let logger: Logger
    private let crashHooks: CrashHooks
    /// Set when Herald begins to stop: a message the store refuses is then left unacknowledged.
    private let stopping = Atomic<Bool>(false)
    /// How many of the next messages may still be redeliveries (see `MQTTDedupe.mayBeRedelivery`).
    private let possibleRedeliveries = Atomic<Int>(MQTTDedupe.window)

    /// A slice of a read burst, handed to the writer and not yet settled.
    private struct InFlight {
        var messages: [MQTTMessage]
        var requests: [AppendItem]
        var appends: PendingAppends
    }

    /// Only the network thread touches it; the Mutex is for the compiler, never contended.
    private let inFlight = Mutex<[InFlight]>([])

    init(log: any MQTTStore, logger: Logger, crashHooks: CrashHooks) {
        self.log = log
        self.logger = logger
        self.crashHooks = crashHooks
    }

    /// A connection was accepted. Without a session the broker has nothing to deliver again, so
    /// neither the receipts nor the redelivery window are needed.
    func sessionStarted(present: Bool) {
        if !present { try? log.forgetMQTTReceipts() }
        possibleRedeliveries.store(present ? MQTTDedupe.window : 0, ordering: .relaxed)
    }

    func beginStopping() {
        stopping.store(true, ordering: .sequentiallyConsistent)
    }

    /// Runs on the network thread with a slice of a read burst: `draft` says what each message
    /// becomes (nil: nothing to store), and the requests go to the writer without waiting.
    func submit(_ messages: [MQTTMessage], drafting draft: (MQTTMessage) -> AppendItem?) {
        var requests: [AppendItem] = []
        var stored: [MQTTMessage] = []
        requests.reserveCapacity(messages.count)
        stored.reserveCapacity(messages.count)
        for message in messages {
            guard var item = draft(message) else { continue }
            crashHooks.crashBeforeCommit(of: message.topic)
            var dedupe = MQTTDedupe(message: message)
            dedupe.mayBeRedelivery = possibleRedeliveries.load(ordering: .relaxed) > 0
            if dedupe.mayBeRedelivery { possibleRedeliveries.subtract(1, ordering: .relaxed) }
            item.dedupe = dedupe
            requests.append(item)
            stored.append(message)
        }
        let slice = InFlight(messages: stored, requests: requests, appends: log.submit(requests))
        inFlight.withLock { $0.append(slice) }
    }

    /// The burst is read: returns once every slice is stored, which lets the PUBACKs go; false
    /// when something could not be stored before Herald began to stop (nothing is acknowledged).
    func settle() -> Bool {
        var allStored = true
        for slice in inFlight.withLock({ inFlight in defer { inFlight = [] }; return inFlight }) {
            for (index, outcome) in slice.appends.wait().enumerated() {
                switch outcome {
                case .success(.stored): BridgeMetrics.messages.increment()
                case .success(.duplicate): BridgeMetrics.duplicates.increment()
                case .failure(let error):
                    if allStored { allStored = retry(slice.messages[index], request: slice.requests[index], after: error) }
                }
            }
            for message in slice.messages { crashHooks.crashAfterCommit(of: message.topic) }
        }
        return allStored
    }

    /// The store refused a message (disk full, say): try again until it takes it, keeping the
    /// message unacknowledged meanwhile so the broker keeps it for us. Messages after it in the
    /// same burst may already be stored, so after a failure ids can differ from arrival order.
    /// Gives up only when Herald is stopping (false): the message then stays unacknowledged.
    private func retry(_ message: MQTTMessage, request: AppendItem, after error: any Error) -> Bool {
        var error = error
        var delay: UInt32 = 50_000
        while true {
            logger.error("mqtt message not stored; retrying", metadata: ["topic": "\(message.topic)", "error": "\(error)"])
            BridgeMetrics.storeFailures.increment()
            if stopping.load(ordering: .sequentiallyConsistent) { return false }
            usleep(delay)
            delay = min(delay * 2, 5_000_000)
            switch log.submit([request]).wait()[0] {
            case .success(.stored):
                BridgeMetrics.messages.increment()
                return true
            case .success(.duplicate):
                BridgeMetrics.duplicates.increment()
                return true
            case .failure(let next): error = next
            }
        }
    }
}
