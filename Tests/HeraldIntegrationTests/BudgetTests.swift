import AsyncHTTPClient
import Foundation
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
    /// health checks from the same address go on being served; every stream gets the event.
    @Test func aThousandLoopbackStreamsAndPublishesAreAllServed() async throws {
        raiseOpenFileLimit()
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir)
        var streams: [RawClient] = []
        for _ in 0..<1_000 { streams.append(try RawClient(port: herald.port, request: streamRequest("load"))) }
        for (index, stream) in streams.enumerated() {
            #expect(await stream.waitFor("herald stream", within: 30), "stream \(index) did not start")
        }
        #expect(try await herald.get("/healthz").status == 200)
        let id = try await herald.publish("load", #"{"data":"to all"}"#)
        var missing = 0
        for stream in streams {
            if await !stream.waitFor("id: \(id)\n", within: 30) { missing += 1 }
        }
        #expect(missing == 0, "\(missing) of 1000 streams did not get the event")
        #expect(try await herald.get("/healthz").status == 200)
    }

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
        try await eventually("the client's request budget to be full", seconds: 30) {
            try await get(herald, "/healthz", forwardedFor: client) == 429
        }
        #expect(try await herald.get("/healthz").status == 200, "the gateway itself is not that client")
        #expect(try await get(herald, "/healthz", forwardedFor: "203.0.113.8") == 200)
        _ = pending
        let metrics = try await herald.get("/metrics").body
        #expect(metrics.contains(#"herald_http_refused_total{reason="streams"} 1"#), "\(metrics)")
    }
}

/// A thousand sockets need more than the usual soft limit of 1,024 descriptors.
func raiseOpenFileLimit() {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
    limit.rlim_cur = limit.rlim_max
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}
