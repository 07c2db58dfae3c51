import HummingbirdCore
import Logging
import Metrics
import NIOCore
import Synchronization

/// Hummingbird's HTTP/1.1 connection with a `StreamConnection` at the front of its pipeline from
/// the start, and a per-connection loop that does not run a request the client pipelined behind
/// a stream that took the connection: its answer could never be sent, and a client that retries
/// it on another connection must not find it done twice.
///
/// Counts the connections a task is serving (`herald_http_connection_tasks`): a stream handed
/// over to its connection's loop ends its task (see `StreamConnection.takeOver`), so this stays
/// near the number of open non-stream connections however many streams are open.
struct HeraldHTTP1Channel: ServerChildChannel {
    struct Value: ServerChildChannelValue {
        let http: HTTP1Channel.Value
        let taken: TakenMark
        var channel: any Channel { http.channel }
    }

    let responder: HTTPChannelHandler.Responder
    let configuration: HTTP1Channel.Configuration
    /// SO_SNDBUF for every connection (`server.send_buffer_bytes`); nil leaves the kernel's.
    let sendBuffer: Int?
    let tasks: TaskGauge

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let taken = TakenMark()
        do {
            if let sendBuffer {
                try channel.syncOptions?.setOption(.socketOption(.so_sndbuf), value: SocketOptionValue(sendBuffer))
            }
            try channel.pipeline.syncOperations.addHandler(StreamConnection(taken: taken, logger: logger), position: .first)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return HTTP1Channel(responder: responder, configuration: configuration).setup(channel: channel, logger: logger)
            .flatMapThrowing { http in
                try HTTP10Replies.install(on: channel)
                return Value(http: http, taken: taken)
            }
    }

    func handle(value: Value, logger: Logger) async {
        tasks.count(+1)
        defer { tasks.count(-1) }
        let responder = self.responder
        let taken = value.taken
        let connection = HTTP1Channel(responder: { request, writer, channel in
            guard !taken.isSet else { return }  // behind a stream: see the type's comment
            try await responder(request, writer, channel)
        }, configuration: configuration)
        await connection.handleHTTP(asyncChannel: value.http, logger: logger)
    }
}

/// A gauge of things counted up and down from many tasks; recorded under the lock, so the
/// last value recorded is the current one.
final class TaskGauge: Sendable {
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
