import Foundation
import Testing

/// An HTTP/1.0 client gets HTTP/1.0 answers: no chunked coding (RFC 9112 §7.1 is HTTP/1.1's),
/// a body delimited by the close that follows it (unless it asked for keep-alive and the answer
/// has a length).
@Suite struct HTTP10Tests {
    @Test func aShortAnswerIsHTTP10AndTheConnectionClosesAfterIt() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir)
        let answer = try await exchange(port: herald.port, "GET /healthz HTTP/1.0\r\n\r\n", until: .closed)
        #expect(answer.hasPrefix("HTTP/1.0 200"), "\(answer)")
        #expect(answer.lowercased().contains("connection: close"))
        #expect(answer.contains("\r\n\r\n{\"status\":\"ok\"}"), "the body, then the close")
    }

    @Test func aKeepAliveRequestWithALengthKeepsTheConnection() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir)
        let twice = "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + "GET /healthz HTTP/1.0\r\n\r\n"
        let answers = try await exchange(port: herald.port, twice, until: .closed)
        #expect(answers.components(separatedBy: "HTTP/1.0 200").count == 3, "two answers on one connection: \(answers)")
        #expect(answers.lowercased().contains("connection: keep-alive"))
    }

    @Test func aStreamToAnHTTP10ClientIsPlainBytesWithItsLiveEvents() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir)
        let first = try await herald.publish("old", #"{"data":1}"#)
        let client = Task {
            try await exchange(port: herald.port, "GET /sse?channel=old&replay=5 HTTP/1.0\r\n\r\n", until: .text("\"data\":2"))
        }
        try await eventually("the stream to be counted") { try await herald.get("/metrics").body.contains("herald_sse_clients 1") }
        let second = try await herald.publish("old", #"{"data":2}"#)
        let answer = try await client.value
        let head = answer.components(separatedBy: "\r\n\r\n")[0].lowercased()
        #expect(head.hasPrefix("http/1.0 200") && !head.contains("transfer-encoding"), "\(head)")
        #expect(head.contains("connection: close"))
        let body = answer.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
        #expect(body.hasPrefix("retry: 3000\n"), "no chunk sizes in the body: \(body.prefix(80))")
        #expect(body.contains("id: \(first)\n") && body.contains("id: \(second)\n"))
    }
}

private enum Until { case closed, text(String) }

/// Sends `request` on a new loopback connection and reads until the server closes it or `until`
/// shows up, for at most 30 s. Blocking reads, on a thread of their own.
private func exchange(port: Int, _ request: String, until: Until) async throws -> String {
    try await withCheckedThrowingContinuation { continuation in
        Thread {
            continuation.resume(with: Result {
                guard let fd = connectLoopback(port: port) else { throw TestFailure("cannot connect to \(port)") }
                defer { close(fd) }
                _ = request.withCString { send(fd, $0, strlen($0), 0) }
                var received: [UInt8] = []
                let deadline = Date().addingTimeInterval(30)
                while Date() < deadline {
                    var pollFD = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    guard poll(&pollFD, 1, 100) > 0 else { continue }
                    var buffer = [UInt8](repeating: 0, count: 65_536)
                    let count = recv(fd, &buffer, buffer.count, 0)
                    if count <= 0 {
                        guard case .closed = until else { throw TestFailure("closed early: \(String(decoding: received, as: UTF8.self))") }
                        return String(decoding: received, as: UTF8.self)
                    }
                    received += buffer[..<count]
                    if case .text(let text) = until, String(decoding: received, as: UTF8.self).contains(text) {
                        return String(decoding: received, as: UTF8.self)
                    }
                }
                throw TestFailure("waited 30 s for \(until); got \(String(decoding: received, as: UTF8.self))")
            })
        }.start()
    }
}
