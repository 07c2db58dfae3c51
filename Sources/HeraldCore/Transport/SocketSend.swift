import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A send on the socket under a connection a live stream owns, on the connection's event loop,
/// instead of through SwiftNIO's channel: a delivery is then one system call and no reference
/// counting, where SwiftNIO's write path (the channel's open check, the pipeline, its pending
/// writes and flush) cost about as much CPU as the kernel's work for the write.
///
/// The descriptor comes from SwiftNIO's transport accessor at each send
/// (`NIOTransportAccessibleChannelCore.withUnsafeTransport`), which refuses a closed socket, so
/// it is the channel's own and still open. Going under the channel is said here, once:
/// - `StreamConnection` sends this way only while SwiftNIO holds none of the connection's bytes
///   (so the order holds), and hands SwiftNIO what the socket does not take (so SwiftNIO's
///   writability still tells a full socket);
/// - the channel's core is cast to the accessor's protocol once, at the hand-over, through
///   `Channel._channelCore`: `ChannelPipeline.SynchronousOperations.withUnsafeTransportIfAvailable`
///   does the same cast on every call, and that cast (to a protocol with a primary associated
///   type) was a fifth of the server's CPU at 1,000 streams and 20 events/s.
struct SocketSend {
    #if os(Linux)
    private let core: any NIOTransportAccessibleChannelCore<NIOBSDSocket.Handle>
    #endif

    /// The socket of `channel` when it lends one (a socket channel, on Linux). On its loop.
    static func of(_ channel: any Channel) -> SocketSend? {
        #if os(Linux)
        guard channel.isActive,
              let core = channel._channelCore as? any NIOTransportAccessibleChannelCore<NIOBSDSocket.Handle> else { return nil }
        return SocketSend(core: core)
        #else
        return nil
        #endif
    }

    /// One `send` of `buffer`, or nil when the socket is closed. On the channel's loop.
    func send(_ buffer: ByteBuffer) -> Sent? {
        #if os(Linux)
        return try? core.withUnsafeTransport { descriptor in Self.send(buffer, descriptor) }
        #else
        return nil
        #endif
    }

    enum Sent {
        /// The kernel took this many bytes from the front (maybe none: the socket is full).
        case bytes(Int)
        /// The connection failed (reset, closed): SwiftNIO meets the same error on its next write
        /// or read and closes the channel the usual way.
        case failed(CInt)
    }

    /// One `send` of `buffer`'s readable bytes, without blocking or raising SIGPIPE.
    private static func send(_ buffer: ByteBuffer, _ descriptor: CInt) -> Sent {
        buffer.withUnsafeReadableBytes { bytes in
            while true {
                let result = systemSend(descriptor, bytes.baseAddress, bytes.count, Self.flags)
                if result >= 0 { return .bytes(result) }
                switch errno {
                case EINTR: continue
                case EAGAIN, EWOULDBLOCK: return .bytes(0)
                case let error: return .failed(error)
                }
            }
        }
    }

    #if os(Linux)
    private static let flags = CInt(MSG_NOSIGNAL) | CInt(MSG_DONTWAIT)
    #else
    private static let flags = CInt(MSG_DONTWAIT)
    #endif
}

/// The C library's `send` (inside `SocketSend` the name is its own method's).
private func systemSend(_ descriptor: CInt, _ bytes: UnsafeRawPointer?, _ count: Int, _ flags: CInt) -> Int {
    #if canImport(Glibc)
    Glibc.send(descriptor, bytes, count, flags)
    #elseif canImport(Musl)
    Musl.send(descriptor, bytes, count, flags)
    #else
    Darwin.send(descriptor, bytes, count, flags)
    #endif
}
