import NIOCore
import Synchronization

/// Deliveries waiting for one event loop. The hub adds to it from its fan-out thread; the loop
/// takes everything at once in one task, writes each to its stream's socket and flushes each
/// socket once. So one event to a thousand streams on a loop costs one task, not a thousand.
final class LoopOutbox: Sendable {
    private struct Pending {
        var items: [(LiveStream, Delivery)] = []
        var scheduled = false
    }

    let loop: any EventLoop
    private let pending = Mutex(Pending())

    private init(loop: any EventLoop) {
        self.loop = loop
    }

    func add(_ stream: LiveStream, _ delivery: Delivery) {
        let schedule = pending.withLock { pending in
            pending.items.append((stream, delivery))
            defer { pending.scheduled = true }
            return !pending.scheduled
        }
        if schedule { loop.execute { self.drain() } }
    }

    private func drain() {
        let items = pending.withLock { pending in
            pending.scheduled = false
            defer { pending.items = [] }
            return pending.items
        }
        var touched: [LiveStream] = []
        for (stream, delivery) in items where stream.write(delivery) {
            touched.append(stream)
        }
        for stream in touched { stream.flush() }
    }

    /// One outbox per event loop, for the process's life (loops are few and live as long).
    static func of(_ loop: any EventLoop) -> LoopOutbox {
        all.withLock { all in
            if let outbox = all[ObjectIdentifier(loop)] { return outbox }
            let outbox = LoopOutbox(loop: loop)
            all[ObjectIdentifier(loop)] = outbox
            return outbox
        }
    }

    private static let all = Mutex<[ObjectIdentifier: LoopOutbox]>([:])
}
