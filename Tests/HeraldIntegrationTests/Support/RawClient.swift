import Foundation

/// A TCP client on loopback that sends a request and then reads only when told to: the
/// "stopped reading" client of the slow-subscriber tests. Its reads block, so each runs on a
/// thread of its own (`offThePool`): on two cores a blocked cooperative thread is half the pool,
/// and other tests' waits would time out behind it.
final class RawClient: Sendable {
    let fd: Int32

    init(port: Int, request: String, receiveBuffer: Int32 = 4096) throws {
        guard let fd = connectLoopback(port: port, receiveBuffer: receiveBuffer) else {
            throw TestFailure("cannot connect to 127.0.0.1:\(port)")
        }
        self.fd = fd
        let bytes = Array(request.utf8)
        guard Glibc.send(fd, bytes, bytes.count, 0) == bytes.count else { throw TestFailure("short send") }
    }

    /// Reads until the server closes the connection; false if it is still open after `seconds`.
    func readsToEnd(within seconds: Double) async -> Bool {
        await offThePool { self.blockingReadsToEnd(within: seconds) }
    }

    private func blockingReadsToEnd(within seconds: Double) -> Bool {
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let deadline = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while Date() < deadline {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { return true }
            if n < 0 && errno != EAGAIN && errno != EWOULDBLOCK { return true }
        }
        return false
    }

    /// What the server sends until it closes the connection, or nil if it is still open after `seconds`.
    func response(within seconds: Double) async -> String? {
        await offThePool { self.blockingResponse(within: seconds) }
    }

    private func blockingResponse(within seconds: Double) -> String? {
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let deadline = Date().addingTimeInterval(seconds)
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while Date() < deadline {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 { received += buffer[..<n]; continue }
            if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) { return String(decoding: received, as: UTF8.self) }
        }
        return nil
    }

    /// Reads until `text` has arrived; false if it has not after `seconds` (or the server closed).
    func waitFor(_ text: String, within seconds: Double) async -> Bool {
        await received(until: text, within: seconds) != nil
    }

    /// What arrived up to and including `text`, or nil if it has not after `seconds`.
    func received(until text: String, within seconds: Double) async -> String? {
        await offThePool { self.blockingReceived(until: text, within: seconds) }
    }

    private func blockingReceived(until text: String, within seconds: Double) -> String? {
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let deadline = Date().addingTimeInterval(seconds)
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while Date() < deadline {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { return nil }
            if n > 0 {
                received += buffer[..<n]
                let sofar = String(decoding: received, as: UTF8.self)
                if sofar.contains(text) { return sofar }
            }
        }
        return nil
    }

    /// Sends more bytes on the connection.
    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = Glibc.send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL))
    }

    /// Reads for `seconds` and counts how often `text` appears.
    func count(of text: String, within seconds: Double) async -> Int {
        await offThePool { self.blockingCount(of: text, within: seconds) }
    }

    private func blockingCount(of text: String, within seconds: Double) -> Int {
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let deadline = Date().addingTimeInterval(seconds)
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while Date() < deadline {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { break }
            if n > 0 { received += buffer[..<n] }
        }
        return String(decoding: received, as: UTF8.self).components(separatedBy: text).count - 1
    }

    deinit { close(fd) }
}

/// Runs blocking work on a thread of its own and waits for it without holding a cooperative thread.
func offThePool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: work()) }.start()
    }
}
