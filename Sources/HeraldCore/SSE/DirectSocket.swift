import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The socket under a connection a live stream owns, written with `send` on the connection's
/// event loop instead of through SwiftNIO's channel: a delivery is then one system call and no
/// reference counting, where SwiftNIO's write path (the channel's open check, the pipeline, its
/// pending-writes queue and flush) cost about as much CPU as the kernel's work for the write.
///
/// `SocketOutlet` uses it only while SwiftNIO has none of the connection's bytes waiting (so the
/// order holds) and hands SwiftNIO whatever the socket does not take (so SwiftNIO's writability
/// still tells a full socket). The descriptor is valid while the channel is open: SwiftNIO closes
/// it on the event loop and tells the pipeline in the same call (`channelInactive`), where the
/// outlet forgets it. In between SwiftNIO only fails pending writes' promises and succeeds the
/// close's: the rule to keep is that no such callback sends (none reaches `SocketOutlet.flush`).
///
/// Linux only (the message flags); elsewhere `of` finds nothing and SwiftNIO writes everything.
struct DirectSocket {
    let descriptor: CInt

    /// The socket of `channel`, if it is a TCP connection whose descriptor can be found and shown
    /// to be this very connection (the same local and remote address); otherwise nil, and the
    /// connection is written through SwiftNIO as before.
    ///
    /// SwiftNIO does not hand out descriptors; its socket channels name theirs in their
    /// description ("fd=N"), and the address check makes a misread harmless.
    static func of(_ channel: any Channel) -> DirectSocket? {
        #if os(Linux)
        guard let local = channel.localAddress, let remote = channel.remoteAddress,
              let descriptor = descriptor(in: String(describing: channel)) else { return nil }
        guard address(of: descriptor, getsockname) == local, address(of: descriptor, getpeername) == remote else {
            return nil
        }
        return DirectSocket(descriptor: descriptor)
        #else
        return nil
        #endif
    }

    private static func descriptor(in description: String) -> CInt? {
        guard let start = description.firstRange(of: "fd=")?.upperBound else { return nil }
        return CInt(description[start...].prefix(while: \.isNumber))
    }

    private typealias AddressCall = (CInt, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> CInt

    private static func address(of descriptor: CInt, _ call: AddressCall) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call(descriptor, $0, &length) == 0 }
        }
        guard ok else { return nil }
        let family = CInt(storage.ss_family)
        return withUnsafeBytes(of: &storage) { raw -> SocketAddress? in
            switch family {
            case AF_INET: SocketAddress(raw.load(as: sockaddr_in.self))
            case AF_INET6: SocketAddress(raw.load(as: sockaddr_in6.self))
            default: nil
            }
        }
    }

    enum Sent {
        /// The kernel took this many bytes from the front (maybe none: the socket is full).
        case bytes(Int)
        /// The connection failed (reset, closed): SwiftNIO meets the same error on its next write
        /// or read and closes the channel the usual way.
        case failed(CInt)
    }

    /// One `send` of `buffer`'s readable bytes, without blocking or raising SIGPIPE.
    func send(_ buffer: ByteBuffer) -> Sent {
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

/// The C library's `send` (inside `DirectSocket` the name is its own method's).
private func systemSend(_ descriptor: CInt, _ bytes: UnsafeRawPointer?, _ count: Int, _ flags: CInt) -> Int {
    #if canImport(Glibc)
    Glibc.send(descriptor, bytes, count, flags)
    #elseif canImport(Musl)
    Musl.send(descriptor, bytes, count, flags)
    #else
    Darwin.send(descriptor, bytes, count, flags)
    #endif
}
