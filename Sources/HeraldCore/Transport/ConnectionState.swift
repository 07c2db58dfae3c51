/// The life of one plain HTTP/1.1 connection, as `StreamConnection` sees it from the front of
/// the pipeline. Every change goes through `apply`, which refuses a move the connection cannot
/// make (`IllegalMove`), so a new way in or out has to be added here, where all of them are seen.
///
///     serving ──handOver──▶ streaming(lane) ──streamEnded──▶ finishing ──closed──▶ closed
///        │                      │   ▲
///        │ sideClosed           │   └─ bytesHeldByNIO / nioDrained / socketFailed: lane changes
///        ▼                      └─ sideClosed / closed: the stream ends (`streamEnded` follows)
///     halfClosed ──closed──▶ closed
enum ConnectionState: Equatable, Sendable {
    /// Hummingbird's task reads requests and writes their answers.
    case serving
    /// The client closed its sending side, or Hummingbird closed ours: answers may still go out,
    /// but no stream may take the connection.
    case halfClosed
    /// A live stream owns the connection until it ends; nothing else reaches the socket.
    case streaming(Lane)
    /// The stream ended: its last bytes go out, then the connection closes.
    case finishing
    case closed

    /// How a stream's bytes reach the socket.
    enum Lane: Equatable, Sendable {
        /// `send` on the socket, from the event loop (`SocketSend`).
        case direct
        /// Through SwiftNIO's channel, while it holds bytes of the connection that must go out
        /// first; `flush` numbers the latest flush through it, whose completion returns the lane
        /// to `direct`.
        case throughNIO(flush: Int)
        /// Through SwiftNIO for good: the socket cannot be had, or a send on it failed.
        case nioOnly
    }

    enum Event: Equatable, Sendable {
        /// A stream takes the connection; `direct` when its socket can be written straight.
        case handOver(direct: Bool)
        /// A side of the connection closed (`inputClosed`, `outputClosed`).
        case sideClosed
        /// SwiftNIO holds stream bytes now (a full socket, or the response's start at hand-over).
        case bytesHeldByNIO
        /// The flush numbered `flush` through SwiftNIO completed.
        case nioDrained(flush: Int)
        /// A `send` failed: SwiftNIO meets the same error on its next write and closes.
        case socketFailed
        /// The stream ended; its last bytes (if any) go out, then the connection closes.
        case streamEnded
        /// SwiftNIO closed the connection.
        case closed
    }

    struct IllegalMove: Error, Equatable, CustomStringConvertible {
        let from: ConnectionState
        let event: Event
        var description: String { "a connection cannot go from \(from) on \(event)" }
    }

    /// The state after `event`, or `IllegalMove` (the state is then unchanged).
    mutating func apply(_ event: Event) throws(IllegalMove) {
        self = try next(on: event)
    }

    func next(on event: Event) throws(IllegalMove) -> ConnectionState {
        switch (self, event) {
        case (_, .closed):
            return .closed
        case (.serving, .handOver(let direct)):
            return .streaming(direct ? .throughNIO(flush: 1) : .nioOnly)
        case (.serving, .sideClosed), (.halfClosed, .sideClosed):
            return .halfClosed
        case (.streaming, .sideClosed):
            return self  // the stream ends on its own, through `streamEnded`
        case (.streaming(.direct), .bytesHeldByNIO):
            return .streaming(.throughNIO(flush: 1))
        case (.streaming(.throughNIO(let flush)), .bytesHeldByNIO):
            return .streaming(.throughNIO(flush: flush + 1))
        case (.streaming(.nioOnly), .bytesHeldByNIO):
            return self
        case (.streaming(.throughNIO(let latest)), .nioDrained(let flush)):
            return flush == latest ? .streaming(.direct) : self
        case (.streaming, .nioDrained), (.finishing, .nioDrained), (.closed, .nioDrained):
            return self  // an earlier flush, or one that completed as the stream ended
        case (.streaming, .socketFailed):
            return .streaming(.nioOnly)
        case (.streaming, .streamEnded):
            return .finishing
        case (.closed, .streamEnded), (.closed, .sideClosed):
            return .closed
        case (.finishing, .sideClosed):
            return .finishing
        default:
            throw IllegalMove(from: self, event: event)
        }
    }

    /// A stream owns, or owned, the connection: client bytes are dropped, and only the stream's
    /// own writes and close reach the socket.
    var isTaken: Bool {
        switch self {
        case .streaming, .finishing: true
        case .serving, .halfClosed, .closed: false
        }
    }

    /// The stream's chunks go straight to the socket now.
    var sendsDirect: Bool { self == .streaming(.direct) }
}
