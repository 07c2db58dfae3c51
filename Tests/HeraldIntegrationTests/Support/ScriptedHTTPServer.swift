import Foundation

/// A stand-in HTTP server on loopback for what Herald itself never answers — a proxy's 502, a
/// stream that ends on cue, a webhook receiver that refuses and recovers. Each connection's
/// request (head and `Content-Length` body) goes to `answer` with its index; the bytes it
/// returns are sent, then the connection is closed unless the answer holds it open. An answer
/// that takes its time (sleeps) delays every connection after it: one at a time, as scripted.
/// Blocking sockets on a thread of its own, so no cooperative thread waits in `accept`.
final class ScriptedHTTPServer: @unchecked Sendable {  // `heads`, `held` and `stopped` are guarded by `lock`
    struct Answer: Sendable {
        var bytes: String
        var holdOpen = false
    }

    let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var heads: [String] = []
    private var held: [Int32] = []
    private var stopped = false

    init(_ answer: @escaping @Sendable (_ index: Int, _ head: String) -> Answer) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard listening else { close(fd); throw TestFailure("cannot listen on a loopback port") }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread { self.serve(answer) }.start()
    }

    /// The requests (head and body) received so far, in order.
    var requests: [String] { lock.withLock { heads } }

    /// Ends the accept loop, which closes the listener and every held connection.
    func stop() { lock.withLock { stopped = true } }

    private func serve(_ answer: @Sendable (Int, String) -> Answer) {
        while !lock.withLock({ stopped }) {
            // A short poll, so `stop` is seen without closing a descriptor another thread waits on.
            var ready = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 100) > 0 else { continue }
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { continue }
            let head = readHead(fd)
            let index = lock.withLock { heads.append(head); return heads.count - 1 }
            let reply = answer(index, head)
            let bytes = Array(reply.bytes.utf8)
            _ = send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL))
            if reply.holdOpen { lock.withLock { held.append(fd) } } else { close(fd) }
        }
        close(listener)
        for fd in lock.withLock({ held }) { close(fd) }
    }

    /// Reads a request head up to its blank line, then as many body bytes as `Content-Length` says.
    private func readHead(_ fd: Int32) -> String {
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        func complete() -> Bool {
            let text = String(decoding: received, as: UTF8.self)
            guard let end = text.range(of: "\r\n\r\n") else { return false }
            let length = text[..<end.lowerBound].split(separator: "\r\n").lazy
                .compactMap { line -> Int? in
                    let parts = line.split(separator: ":", maxSplits: 1)
                    guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
                    return Int(parts[1].trimmingCharacters(in: .whitespaces))
                }.first ?? 0
            return text[end.upperBound...].utf8.count >= length
        }
        while !complete() {
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0 else { break }
            received += buffer[..<n]
        }
        return String(decoding: received, as: UTF8.self)
    }
}
