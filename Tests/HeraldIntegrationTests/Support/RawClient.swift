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

    /// How a read ended: the server closed (or reset) the connection, `done` said so, or time ran out.
    enum ReadEnd { case closed, done, timedOut }

    /// Reads for at most `seconds`, until the server closes or `done` holds for what arrived so
    /// far; `keep: false` reads without keeping the bytes.
    private func read(within seconds: Double, keep: Bool = true,
                      done: @escaping @Sendable ([UInt8]) -> Bool = { _ in false }) async -> (ReadEnd, [UInt8]) {
        await offThePool {
            var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
            setsockopt(self.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let deadline = Date().addingTimeInterval(seconds)
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while Date() < deadline {
                let n = recv(self.fd, &buffer, buffer.count, 0)
                if n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) { return (.closed, received) }
                guard n > 0 else { continue }
                if keep { received += buffer[..<n] }
                if done(received) { return (.done, received) }
            }
            return (.timedOut, received)
        }
    }

    /// Reads until the server closes the connection; false if it is still open after `seconds`.
    func readsToEnd(within seconds: Double) async -> Bool {
        await read(within: seconds, keep: false).0 == .closed
    }

    /// What the server sends until it closes the connection, or nil if it is still open after `seconds`.
    func response(within seconds: Double) async -> String? {
        let (end, bytes) = await read(within: seconds)
        return end == .closed ? String(decoding: bytes, as: UTF8.self) : nil
    }

    /// Reads until `text` has arrived; false if it has not after `seconds` (or the server closed).
    func waitFor(_ text: String, within seconds: Double) async -> Bool {
        await received(until: text, within: seconds) != nil
    }

    /// What arrived up to and including `text`, or nil if it has not after `seconds`.
    func received(until text: String, within seconds: Double) async -> String? {
        let (end, bytes) = await read(within: seconds) { String(decoding: $0, as: UTF8.self).contains(text) }
        return end == .done ? String(decoding: bytes, as: UTF8.self) : nil
    }

    /// Reads for `seconds` and counts how often `text` appears.
    func count(of text: String, within seconds: Double) async -> Int {
        let (_, bytes) = await read(within: seconds)
        return String(decoding: bytes, as: UTF8.self).components(separatedBy: text).count - 1
    }

    /// Sends more bytes on the connection.
    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = Glibc.send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL))
    }

    deinit { close(fd) }
}

/// Runs blocking work on a thread of its own and waits for it without holding a cooperative thread.
func offThePool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: work()) }.start()
    }
}
