import Foundation

/// A TCP client on loopback that sends a request and then reads only when told to: the
/// "stopped reading" client of the slow-subscriber tests.
final class RawClient: Sendable {
    let fd: Int32

    init(port: Int, request: String, receiveBuffer: Int32 = 4096) throws {
        guard let fd = connectLoopback(port: port, receiveBuffer: receiveBuffer) else {
            throw TestFailure("cannot connect to 127.0.0.1:\(port)")
        }
        self.fd = fd
        let bytes = Array(request.utf8)
        guard send(fd, bytes, bytes.count, 0) == bytes.count else { throw TestFailure("short send") }
    }

    /// Reads until the server closes the connection; false if it is still open after `seconds`.
    func readsToEnd(within seconds: Double) -> Bool {
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

    /// Reads for `seconds` and counts how often `text` appears.
    func count(of text: String, within seconds: Double) -> Int {
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
