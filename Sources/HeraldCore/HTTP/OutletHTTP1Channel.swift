import HummingbirdCore
import Logging
import Metrics
import NIOCore
import Synchronization

/// Hummingbird's HTTP/1.1 connection with a `SocketOutlet` at the front of its pipeline from the
/// start, not only from a stream's hand-over: the outlet must have seen the whole connection to
/// know whether the client already left or half-closed when a stream wants to take it.
///
/// Counts the connections a task is serving (`herald_http_connection_tasks`): a stream handed
/// over to its connection's loop ends its task (see `SocketOutlet`), so this stays near the
/// number of open non-stream connections however many streams are open.
struct OutletHTTP1Channel: ServerChildChannel {
    let base: HTTP1Channel
    /// SO_SNDBUF for every connection (`server.send_buffer_bytes`); nil leaves the kernel's.
    let sendBuffer: Int?

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<HTTP1Channel.Value> {
        do {
            if let sendBuffer {
                try channel.syncOptions?.setOption(.socketOption(.so_sndbuf), value: SocketOptionValue(sendBuffer))
            }
            try channel.pipeline.syncOperations.addHandler(SocketOutlet(), position: .first)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return base.setup(channel: channel, logger: logger)
    }

    func handle(value: HTTP1Channel.Value, logger: Logger) async {
        Self.tasks.count(+1)
        defer { Self.tasks.count(-1) }
        await base.handle(value: value, logger: logger)
    }

    private static let tasks = TaskGauge(label: "herald_http_connection_tasks")
}

/// A gauge of things counted up and down from many tasks; recorded under the lock, so the
/// last value recorded is the current one.
private final class TaskGauge: Sendable {
    private let value = Mutex(0)
    private let gauge: Gauge

    init(label: String) {
        gauge = Gauge(label: label)
    }

    func count(_ change: Int) {
        value.withLock {
            $0 += change
            gauge.record($0)
        }
    }
}
