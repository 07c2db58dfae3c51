import Foundation
import Testing

/// Live events on plain HTTP/1.1 skip Hummingbird's writer and go to the socket pre-framed
/// (`LiveStream`). Read as raw bytes here, so that any framing slip fails: the response must be
/// valid chunked transfer coding from its first chunk to its last, with history, keepalives and
/// live events in the right order, and a job's stream must end with the terminating chunk.
@Suite struct DirectLaneTests {
    @Test func liveEventsAndKeepalivesAreWellFramedChunksAfterTheHistory() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir, config: "server: { keepalive_seconds: 0.2 }\n")
        let first = try await herald.publish("lane", #"{"data":{"n":0}}"#)
        let socket = try RawHTTP(port: herald.port, path: "/sse?channel=lane&replay=10")
        try await Task.sleep(for: .milliseconds(500))  // a keepalive or two before the live events
        var ids = [first]
        for n in 1...3 { ids.append(try await herald.publish("lane", #"{"data":{"n":\#(n)}}"#)) }
        let body = try await socket.readChunkedBody(through: ids.last!, seconds: 30)
        #expect(body.hasPrefix("retry: 3000\n"))
        let order = body.components(separatedBy: "\n").filter { $0.hasPrefix("id: ") || $0 == ":keepalive" }
        #expect(order.filter { $0.hasPrefix("id: ") } == ids.map { "id: \($0)" })
        #expect(order.firstIndex(of: ":keepalive").map { $0 > 0 } == true, "a keepalive between history and live: \(order)")
    }

    @Test func aJobStreamEndsWithTheTerminatingChunkAfterItsLastEvent() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir)
        _ = try await herald.publish("jobs", #"{"key":"j1","data":{"state":"running","progress":10}}"#)
        let socket = try RawHTTP(port: herald.port, path: "/sse?channel=jobs&key=j1")
        try await Task.sleep(for: .milliseconds(300))
        let last = try await herald.publish("jobs", #"{"key":"j1","data":{"state":"succeeded","progress":100}}"#)
        let body = try await socket.readChunkedBody(through: nil, seconds: 30)  // to the final chunk
        #expect(body.contains("id: \(last)\n"))
    }

    /// The stream is handed over to the connection's loop and Hummingbird's task for the
    /// connection ends. Requests pipelined behind the stream (a publish, a second stream; the task
    /// may already have read them) must not run,
    /// nor get an answer written into the middle of the stream's chunks, nor let the request head
    /// deadline (restarted by that answer) cut the stream off.
    @Test func requestsPipelinedBehindAStreamNeitherRunNorBreakIt() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir, config: "server: { header_timeout_seconds: 0.5 }\n")
        let publish = #"{"data":1}"#
        let pipelined = "POST /api/channels/sneak/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(publish.utf8.count)\r\n\r\n\(publish)"
            + "GET /sse?channel=sneak HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        let socket = try RawHTTP(port: herald.port, path: "/sse?channel=lane", pipelined: pipelined)
        try await eventually("the stream to be counted") { try await herald.get("/metrics").body.contains("herald_sse_clients 1") }
        try await Task.sleep(for: .milliseconds(1_200))  // past the head deadline
        var ids: [Int64] = []
        for n in 1...3 { ids.append(try await herald.publish("lane", #"{"data":{"n":\#(n)}}"#)) }
        #expect(try await herald.get("/metrics").body.contains("herald_sse_clients 1"), "one stream, not two")
        #expect(!(try await herald.get("/api/channels").body.contains("sneak")), "the pipelined publish did not run")
        let body = try await socket.readChunkedBody(through: ids.last!, seconds: 30)
        socket.disconnect()
        #expect(body.components(separatedBy: "\n").filter { $0.hasPrefix("id: ") } == ids.map { "id: \($0)" })
        #expect(!body.contains("HTTP/1.1"))
        try await eventually("the stream to end with its connection", seconds: 30) {
            try await herald.get("/metrics").body.contains("herald_sse_clients 0")
        }
    }

    /// An SSE client that closes its sending side is leaving: the stream ends, with its
    /// terminating chunk, and the connection's place is given back. Either before the stream was
    /// handed over to its loop (the request's task ends it) or after (the loop ends it).
    @Test(arguments: [false, true]) func aClientThatClosesItsSendingSideGetsTheEndOfTheStream(afterHandOver: Bool) async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir)
        let socket = try RawHTTP(port: herald.port, path: "/sse?channel=lane")
        if afterHandOver { try await waitForHandOver(herald) }
        socket.closeSendingSide()
        let body = try await socket.readChunkedBody(through: nil, seconds: 30)  // to the final chunk
        #expect(body.hasPrefix("retry: 3000\n"))
        try await eventually("the stream to end", seconds: 30) { try await herald.get("/metrics").body.contains("herald_sse_clients 0") }
    }

    /// Hummingbird half-closes a `Connection: close` connection once the handler returns, so such
    /// a stream is not handed over; it must still get its live events, well framed.
    @Test func aStreamAskedWithConnectionCloseStillGetsItsLiveEvents() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir)
        let socket = try RawHTTP(port: herald.port, path: "/sse?channel=lane", headers: "Connection: close\r\n")
        try await eventually("the stream to be counted") { try await herald.get("/metrics").body.contains("herald_sse_clients 1") }
        let id = try await herald.publish("lane", #"{"data":1}"#)
        let body = try await socket.readChunkedBody(through: id, seconds: 30)
        #expect(body.hasPrefix("retry: 3000\n"))
    }

    /// A handed-over stream holds no task: Hummingbird's task for its connection ends (a Swift task
    /// keeps its deepest stack until it ends, which was most of an idle stream's memory). The
    /// streams still get their events, and a stop still ends each with its terminating chunk.
    @Test func handedOverStreamsHoldNoTaskAndStillEndCleanly() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir)
        let sockets = try (0..<30).map { _ in try RawHTTP(port: herald.port, path: "/sse?channel=lane") }
        // Streams are counted when they subscribe, before the hand-over; their tasks end after it.
        var seen = "nothing yet"
        do {
            try await eventually("30 streams, at most 2 connection tasks (this test's own requests)") {
                let metrics = try await herald.get("/metrics").body
                let (streams, tasks) = (gauge("herald_sse_clients", in: metrics), gauge("herald_http_connection_tasks", in: metrics))
                seen = "\(streams.map { "\($0)" } ?? "no") streams, \(tasks.map { "\($0)" } ?? "no") connection tasks"
                return streams == 30 && (tasks ?? 99) <= 2
            }
        } catch {
            Issue.record("last seen: \(seen)")  // which of the two did not come
            throw error
        }
        let id = try await herald.publish("lane", #"{"data":1}"#)
        herald.process.signal(SIGTERM)
        for socket in sockets {
            let body = try await socket.readChunkedBody(through: nil, seconds: 30)  // to the final chunk
            #expect(body.contains("id: \(id)\n"))
        }
        #expect(await herald.process.stop(SIGTERM) == 0)
    }

    /// A client that sends a second request behind its stream and goes away is not noticed by
    /// Hummingbird's inbound-close watch; the socket's own close must end the stream at once.
    @Test func aStreamEndsWhenItsClientGoesAwayWithARequestPipelinedBehindIt() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir)
        let fd = try #require(connectLoopback(port: herald.port))
        let requests = "GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        _ = requests.withCString { send(fd, $0, strlen($0), 0) }
        try await eventually("the stream to be counted") { try await herald.get("/metrics").body.contains("herald_sse_clients 1") }
        close(fd)
        _ = try await herald.publish("lane", #"{"data":1}"#)  // something to write to the gone client
        try await eventually("the stream to end", seconds: 30) { try await herald.get("/metrics").body.contains("herald_sse_clients 0") }
    }

    /// Live events go straight to the socket (`DirectSocket`) while SwiftNIO holds none of the
    /// connection's bytes. A client that reads slower than events come fills its socket (a small
    /// one here, `send_buffer_bytes`): what the socket did not take goes through SwiftNIO, and so
    /// does every later event until SwiftNIO has written it all, even when the socket has room
    /// again before that; then the socket is written straight again. Nothing may be lost,
    /// reordered or split at either switch.
    @Test func aStreamWhoseSocketFillsGoesOnInOrderThroughSwiftNIOAndBack() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir, config: """
            server: { send_buffer_bytes: 8192, subscriber_queue: 100000, keepalive_seconds: 3600 }
            """)
        let socket = try RawHTTP(port: herald.port, path: "/sse?channel=fill&replay=0", receiveBuffer: 4_096)
        try await waitForHandOver(herald)
        // The hand-over may send the stream's start itself, on the socket: count from here.
        let atHandOver = writes("socket", in: try await herald.get("/metrics").body) ?? 0
        let first = try await herald.publish("fill", #"{"data":"first"}"#)
        _ = try await socket.readChunkedBody(through: first, seconds: 30)
        #expect(writes("socket", in: try await herald.get("/metrics").body) == atHandOver + 1, "the first event went straight to the socket")

        // Events of 30 KB, faster than this client reads them (`slowly`): most writes fill the socket.
        let filler = String(repeating: "x", count: 30_000)
        let count: Int64 = 60
        // A child task: cancelled and awaited however this test leaves, so that Herald is never
        // left running when the test process exits.
        async let published: Void = {
            for _ in 0..<count {
                _ = try await herald.publish("fill", #"{"data":"\#(filler)"}"#)
                try await Task.sleep(for: .milliseconds(2))
            }
        }()
        let last = first + count
        let body = try await socket.readChunkedBody(through: last, seconds: 60, slowly: true)
        try await published
        let seen = body.split(separator: "\n").filter { $0.hasPrefix("id: ") }.compactMap { Int64($0.dropFirst(4)) }
        #expect(seen == Array(first...last), "every event once, in order")
        #expect((writes("channel", in: try await herald.get("/metrics").body) ?? 0) >= 1, "some went through SwiftNIO")

        // SwiftNIO has written it all (the client read it): the next event goes straight again.
        let before = try await herald.get("/metrics").body
        let next = try await herald.publish("fill", #"{"data":"next"}"#)
        _ = try await socket.readChunkedBody(through: next, seconds: 30)
        let after = try await herald.get("/metrics").body
        #expect(writes("socket", in: after) == (writes("socket", in: before) ?? 0) + 1)
        #expect(writes("channel", in: after) == writes("channel", in: before))
    }
}

/// Until the one stream is on its loop: counted, and its connection's task ended (the one task
/// left serves this test's own requests).
private func waitForHandOver(_ herald: HeraldInstance) async throws {
    try await eventually("the stream to be handed over") {
        let metrics = try await herald.get("/metrics").body
        return metrics.contains("herald_sse_clients 1") && gauge("herald_http_connection_tasks", in: metrics) == 1
    }
}

/// `herald_stream_writes_total` for one path in `/metrics` text.
private func writes(_ path: String, in metrics: String) -> Double? {
    gauge("herald_stream_writes_total{path=\"\(path)\"}", in: metrics)
}

/// A gauge's value in `/metrics` text.
private func gauge(_ name: String, in metrics: String) -> Double? {
    metrics.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) }
}

/// A bare HTTP/1.1 client on a socket: sends one GET and decodes the chunked body strictly,
/// across as many reads as asked for.
private final class RawHTTP: @unchecked Sendable {  // one reader at a time, by construction
    let fd: Int32
    private var raw: [UInt8] = []
    private var headersEnd: Int?
    private var body: [UInt8] = []
    private var offset = 0
    private var ended = false
    private var disconnected = false

    /// `pipelined`: more requests, sent in the same write right behind the GET. `receiveBuffer`:
    /// SO_RCVBUF, set before connecting (a small one fills quickly).
    init(port: Int, path: String, headers: String = "", pipelined: String = "", receiveBuffer: Int32? = nil) throws {
        guard let fd = connectLoopback(port: port, receiveBuffer: receiveBuffer) else {
            throw TestFailure("cannot connect to \(port)")
        }
        self.fd = fd
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\(headers)\r\n" + pipelined
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
    }

    deinit { disconnect() }

    func disconnect() {
        guard !disconnected else { return }
        disconnected = true
        close(fd)
    }

    func closeSendingSide() {
        shutdown(fd, Int32(SHUT_WR))
    }

    /// The body's bytes so far, de-chunked, once the event with id `id` came (nil: once the
    /// final zero-size chunk came). Throws on anything that is not a well-formed chunk, and after
    /// `seconds`. The socket is read on a thread of its own: the reads block, and Swift's
    /// cooperative pool (two threads here) is shared with every other test running.
    /// `slowly`: at most 1 KiB a millisecond, a client that falls behind a fast stream and makes
    /// room in its socket a little at a time.
    func readChunkedBody(through id: Int64?, seconds: Double, slowly: Bool = false) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { try self.read(through: id, seconds: seconds, slowly: slowly) })
            }.start()
        }
    }

    private func read(through id: Int64?, seconds: Double, slowly: Bool) throws -> String {
        let needle = id.map { "id: \($0)\n" }
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            guard !ended else { return String(decoding: body, as: UTF8.self) }
            var pollFD = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pollFD, 1, 100) > 0 else { continue }
            if slowly { usleep(1_000) }
            var buffer = [UInt8](repeating: 0, count: slowly ? 1_024 : 65_536)
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { throw TestFailure("connection closed before the body ended: \(String(decoding: body, as: UTF8.self))") }
            raw += buffer[..<count]
            if headersEnd == nil, let end = raw.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound {
                let head = String(decoding: raw[..<end], as: UTF8.self).lowercased()
                guard head.hasPrefix("http/1.1 200"), head.contains("transfer-encoding: chunked") else {
                    throw TestFailure("not a chunked 200 response: \(head)")
                }
                headersEnd = end
                offset = end
            }
            guard headersEnd != nil else { continue }
            let seen = body.count
            try takeChunks()
            // Chunks are whole frames, so the id line is within what this read added.
            if ended || (needle.map { String(decoding: body[seen...], as: UTF8.self).contains($0) } ?? false) {
                return String(decoding: body, as: UTF8.self)
            }
        }
        throw TestFailure("timed out; body so far: \(String(decoding: body, as: UTF8.self).suffix(2_000))")
    }

    /// Every complete chunk: <hex size>\r\n<size bytes>\r\n.
    private func takeChunks() throws {
        while !ended, let lineEnd = raw[offset...].firstRange(of: Array("\r\n".utf8))?.lowerBound {
            guard let size = Int(String(decoding: raw[offset..<lineEnd], as: UTF8.self), radix: 16) else {
                throw TestFailure("bad chunk size line at byte \(offset): \(String(decoding: raw[offset..<lineEnd], as: UTF8.self))")
            }
            let dataStart = lineEnd + 2
            guard raw.count >= dataStart + size + 2 else { break }
            guard raw[dataStart + size] == 13, raw[dataStart + size + 1] == 10 else {
                throw TestFailure("chunk of \(size) bytes at \(offset) not followed by CRLF")
            }
            body += raw[dataStart..<dataStart + size]
            offset = dataStart + size + 2
            ended = size == 0
        }
    }
}
