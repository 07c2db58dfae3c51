import AsyncHTTPClient
import Foundation
import Synchronization
import HeraldCore
import NIOCore
import Testing

/// Streams and short requests draw on separate budgets, counted per client behind trusted
/// proxies, with defaults under which a gateway's own thousand dashboards all get in.
@Suite struct BudgetTests {
    func streamRequest(_ channel: String, forwardedFor: String? = nil) -> String {
        "GET /sse?channel=\(channel)&replay=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + (forwardedFor.map { "X-Forwarded-For: \($0)\r\n" } ?? "") + "\r\n"
    }

    func get(_ herald: HeraldInstance, _ path: String, forwardedFor: String) async throws -> Int {
        try await herald.get(path, headers: [("X-Forwarded-For", forwardedFor)]).status
    }

    /// With the default configuration, 1,000 streams from loopback all open, and publishing and
    /// health checks from the same address go on being served; every stream gets the event. The
    /// thousand sockets live in a Python process of their own: descriptors numbered past 1,024 in
    /// the test process broke Foundation's `Process.run` in tests running alongside.
    @Test func aThousandLoopbackStreamsAndPublishesAreAllServed() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir)
        try Self.thousandStreams.write(toFile: dir.file("streams.py"), atomically: true, encoding: .utf8)
        let (status, output) = try await runCommand("/usr/bin/python3", [dir.file("streams.py"), "\(herald.port)", "1000"], seconds: 120)
        #expect(status == 0, "\(output)")
        #expect(output.contains("started 1000, healthz 200, published, served 1000, healthz 200"), "\(output)")
    }

    static let thousandStreams = """
        import json, resource, selectors, socket, sys, time, urllib.request
        port, count = int(sys.argv[1]), int(sys.argv[2])
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 4096), hard), hard))
        base = f"http://127.0.0.1:{port}"
        socks = []
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            s.sendall(b"GET /sse?channel=load&replay=0 HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n\\r\\n")
            socks.append(s)
        def arrived(marker, seconds=60):
            selector = selectors.DefaultSelector()
            seen = {s: b"" for s in socks}
            for s in socks:
                s.setblocking(False)
                selector.register(s, selectors.EVENT_READ)
            done, deadline = set(), time.time() + seconds
            while len(done) < len(socks) and time.time() < deadline:
                for key, _ in selector.select(timeout=1):
                    s = key.fileobj
                    data = s.recv(65536)
                    if not data:
                        selector.unregister(s); done.add(s); continue
                    seen[s] += data
                    if marker in seen[s]:
                        selector.unregister(s); done.add(s)
            selector.close()
            return sum(1 for s in socks if marker in seen[s])
        def healthz():
            return urllib.request.urlopen(base + "/healthz", timeout=30).status
        started = arrived(b"herald stream")
        first = healthz()
        request = urllib.request.Request(base + "/api/channels/load/events", data=b'{"data":"to all"}',
                                         headers={"Content-Type": "application/json"})
        event = json.loads(urllib.request.urlopen(request, timeout=30).read())["id"]
        served = arrived(b"id: %d\\n" % event)
        print(f"started {started}, healthz {first}, published, served {served}, healthz {healthz()}")
        """

    @Test func aClientBehindATrustedProxyHasItsOwnBudgets() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir, config: """
            server: { max_streams_per_client: 3, max_requests_per_client: 2, body_timeout_seconds: 60 }
            """)
        let client = "203.0.113.7"
        let streams = try (0..<3).map { _ in try RawClient(port: herald.port, request: streamRequest("a", forwardedFor: client)) }
        for stream in streams { #expect(await stream.waitFor("herald stream", within: 30)) }
        // Spelled as the router still takes it, a stream is counted as one.
        let fourth = try RawClient(port: herald.port, request: "GET //sse/?channel=a HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                   + "X-Forwarded-For: \(client)\r\n\r\n")
        let refused = try #require(await fourth.received(until: "}", within: 30), "the fourth stream got no answer")
        #expect(refused.hasPrefix("HTTP/1.1 429") && refused.contains("203.0.113.7"), "\(refused)")
        let neighbour = try RawClient(port: herald.port, request: streamRequest("a", forwardedFor: "203.0.113.8"))
        #expect(await neighbour.waitFor("herald stream", within: 30), "another client behind the proxy has its own budget")
        #expect(try await get(herald, "/healthz", forwardedFor: client) == 200, "streams never use the request budget")

        // Two bodies that do not arrive hold the client's two request places.
        let pending = try (0..<2).map { _ in
            try RawClient(port: herald.port, request: "POST /api/channels/a/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          + "X-Forwarded-For: \(client)\r\nContent-Length: 100\r\n\r\n{")
        }
        // What the probes answered, for the failure message.
        let answers = Mutex<[String]>([])
        do {
            try await eventually("the client's request budget to be full", seconds: 60) {
                do {
                    let status = try await get(herald, "/healthz", forwardedFor: client)
                    answers.withLock { $0.append("\(status)") }
                    return status == 429
                } catch {
                    answers.withLock { $0.append("\(error)") }
                    throw error
                }
            }
        } catch {
            let seen = answers.withLock { Array($0.suffix(5)) }
            throw TestFailure("\(error); the last answers: \(seen); log:\n\(herald.process.log.suffix(3000))")
        }
        #expect(try await herald.get("/healthz").status == 200, "the gateway itself is not that client")
        #expect(try await get(herald, "/healthz", forwardedFor: "203.0.113.8") == 200)
        _ = pending
        let metrics = try await herald.get("/metrics").body
        #expect(metrics.contains(#"herald_http_refused_total{reason="streams"} 1"#), "\(metrics)")
    }
}
