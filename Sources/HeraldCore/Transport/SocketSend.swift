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
/// The descriptor is taken from SwiftNIO's supported accessor for the transport at each send, so
/// it is the channel's own socket and still open: the accessor refuses a closed one. Going under
/// the channel's write path is said here once: `StreamConnection` sends this way only while
/// SwiftNIO holds none of the connection's bytes (so the order holds), and hands SwiftNIO what
/// the socket does not take (so SwiftNIO's writability still tells a full socket).
enum SocketSend {
    /// Whether the channel lends its socket (a socket channel, open, on Linux). On its loop.
    static func isAvailable(on pipeline: ChannelPipeline.SynchronousOperations) -> Bool {
        #if os(Linux)
        return (try? pipeline.withUnsafeTransportIfAvailable(of: NIOBSDSocket.Handle.self) { _ in true }) == true
        #else
        return false
        #endif
    }

    /// One `send` of `buffer` on the pipeline's socket, or nil when its channel has no socket to
    /// lend (not a socket channel, or closed). Call on the channel's event loop.
    static func send(_ buffer: ByteBuffer, on pipeline: ChannelPipeline.SynchronousOperations) -> Sent? {
        #if os(Linux)
        let sent = try? pipeline.withUnsafeTransportIfAvailable(of: NIOBSDSocket.Handle.self) { descriptor in
            send(buffer, descriptor)
        }
        return sent ?? nil
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
