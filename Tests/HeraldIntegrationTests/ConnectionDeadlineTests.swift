import AsyncHTTPClient
import Foundation
import HeraldCore
import NIOCore
import NIOHTTP2
import NIOSSL
import Testing

/// Clients that send slowly, not at all, or nonsense: each is answered in JSON or cut off, and
/// none holds a place for ever (the audit's denial-of-service findings).
@Suite struct ConnectionDeadlineTests {
    @Test func anUnfinishedBodyIsCutOffAndAnOversizeOneRefusedUnread() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir, config: "server: { body_timeout_seconds: 1, max_body_bytes: 2048 }")
        let slow = try RawClient(port: herald.port, request: "POST /api/session HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                 + "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
        #expect(await slow.readsToEnd(within: 30), "a body that never finishes is cut off after body_timeout_seconds")

        let huge = try RawClient(port: herald.port, request: "POST /api/channels/a/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                 + "Content-Type: application/json\r\nContent-Length: 2000000000\r\n\r\n")
        let answer = try #require(await huge.response(within: 30), "a declared 2 GB body is answered at once and the connection closed")
        #expect(answer.hasPrefix("HTTP/1.1 413"), "\(answer)")
        #expect(answer.contains("over the limit of 2048"))

        let metrics = try await herald.get("/metrics").body
        #expect(metrics.contains(#"herald_http_refused_total{reason="slow_body"} 1"#), "\(metrics)")
        #expect(metrics.contains(#"herald_http_refused_total{reason="body_size"} 1"#))
    }

    /// An answer written before its body is in (a 401) leaves the body's deadline and then the
    /// idle one running: a client that sends the body and goes silent is still closed.
    @Test func anEarlyAnswerDoesNotSwitchTheDeadlinesOff() async throws {
        let dir = try TempDir()
        let token = "early-answer-token-0123456789"
        let herald = try await HeraldInstance(dir: dir, config: """
            server: { idle_timeout_seconds: 1, body_timeout_seconds: 60 }
            tokens: [{ name: t, sha256: "\(TokenAuthority.sha256Hex(token))" }]
            """)
        let client = try RawClient(port: herald.port, request: "POST /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\n\r\n")
        let answer = await client.received(until: "}", within: 30)
        #expect(answer?.hasPrefix("HTTP/1.1 401") == true, "\(answer ?? "no answer")")
        client.send("[")
        #expect(await client.readsToEnd(within: 30), "the connection stayed open after its body and answer")
    }

    /// 64 unfinished bodies from one address once locked out everything else from it.
    @Test func unfinishedBodiesDoNotLockOutOtherRequests() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir, config: "server: { body_timeout_seconds: 60 }")
        let slow = try (0..<80).map { _ in
            try RawClient(port: herald.port, request: "POST /api/session HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n{")
        }
        try await eventually("/healthz to answer while 80 bodies are pending", seconds: 30) {
            try await herald.get("/healthz").status == 200
        }
        #expect(try await herald.post("/api/channels/a/events", #"{"data":1}"#).status == 200)
        _ = slow
    }

    @Test func malformedFramingIsABadRequestInJSON() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir)
        let body = "5\r\nhello\r\n0\r\n\r\n"
        for coding in ["xchunked", "gzip", "identity"] {
            let client = try RawClient(port: herald.port, request: "POST /api/channels/a/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                       + "Content-Type: application/json\r\nTransfer-Encoding: \(coding)\r\n\r\n\(body)")
            let answer = try #require(await client.response(within: 30), "Transfer-Encoding: \(coding) got no answer")
            #expect(answer.hasPrefix("HTTP/1.1 501") || answer.hasPrefix("HTTP/1.1 400"), "\(coding): \(answer)")
            #expect(answer.contains("\"error\""), "\(coding): \(answer)")
        }
        for size in ["ZZ", "FFFFFFFFFFFFFFFFFFFF"] {
            let client = try RawClient(port: herald.port, request: "POST /api/channels/a/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                       + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\(size)\r\nabc\r\n0\r\n\r\n")
            let answer = try #require(await client.response(within: 30), "chunk size \(size) got no answer")
            #expect(answer.hasPrefix("HTTP/1.1 400"), "\(size): \(answer)")
            #expect(answer.contains("\"error\":\"bad request\""), "\(size): \(answer)")
        }
        let head = try RawClient(port: herald.port, request: "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n")
        let answer = try #require(await head.response(within: 30))
        #expect(answer.hasPrefix("HTTP/1.1 400") && answer.contains("\"error\":\"bad request\""), "a header-level 400 has a JSON body: \(answer)")
        let log = try String(contentsOfFile: herald.process.logPath, encoding: .utf8)
        #expect(!log.contains("error") || !log.contains("request failed"), "bad input is no server error: \(log)")
        #expect(log.components(separatedBy: "bad request").count - 1 <= 1, "logged at most once a minute per client")
        #expect(!(try await herald.get("/metrics").body.contains("internal error")))
    }

    @Test func headWorksWhereGetDoesAndThePageCarriesSecurityHeaders() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir)
        for path in ["/healthz", "/", "/api/channels"] {
            var request = HTTPClientRequest(url: herald.baseURL + path)
            request.method = .HEAD
            let response = try await executeRetryingClosedConnection(request)
            #expect(response.status == .ok, "HEAD \(path) → \(response.status)")
            #expect(try await response.body.collect(upTo: 1024).readableBytes == 0)
        }
        var page = HTTPClientRequest(url: herald.baseURL + "/")
        page.method = .GET
        let response = try await executeRetryingClosedConnection(page)
        _ = try await response.body.collect(upTo: 1 << 20)
        #expect(response.headers.first(name: "X-Content-Type-Options") == "nosniff")
        #expect(response.headers.first(name: "X-Frame-Options") == "DENY")
        let policy = try #require(response.headers.first(name: "Content-Security-Policy"))
        #expect(policy.contains("default-src 'self'") && policy.contains("frame-ancestors 'none'"))
    }

    @Test func theDatabaseIsCreatedForItsOwnerOnly() async throws {
        let dir = try TempDir()
        let previous = umask(0o022)
        defer { umask(previous) }
        let herald = try await HeraldInstance(dir: dir)
        _ = try await herald.publish("a", #"{"data":1}"#)
        for file in [herald.database, herald.database + "-wal"] {
            let mode = try #require(try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int)
            #expect(mode == 0o600, "\(file) has mode \(String(mode, radix: 8))")
        }
    }

    @Test func tlsConnectionsThatNeverHandshakeOrGoIdleAreClosed() async throws {
        let dir = try TempDir()
        let (child, port) = try startTLSHerald(dir, settings: "handshake_timeout_seconds: 1, idle_timeout_seconds: 1, max_handshakes: 20, max_body_bytes: 100")
        defer { child.signal(SIGKILL) }
        let client = insecureTLSClient()
        do {
            try await eventually("https to answer", seconds: 30) {
                let response = try await client.execute(HTTPClientRequest(url: "https://127.0.0.1:\(port)/healthz"), timeout: .seconds(5))
                _ = try await response.body.collect(upTo: 1024)
                return response.status == .ok
            }
        } catch {
            try await client.shutdown()
            throw error
        }
        try await client.shutdown()
        try await Task.sleep(for: .seconds(2))
        let baseline = try #require(ProcProbe.fdCount(child.pid))

        // More raw connects than may handshake at once, none of which ever sends a byte.
        let silent = (0..<60).compactMap { _ in connectLoopback(port: port) }
        defer { for fd in silent { close(fd) } }
        #expect(silent.count == 60)
        try await eventually("the silent connections to be closed, the descriptors back to \(baseline)", seconds: 30) {
            (ProcProbe.fdCount(child.pid) ?? .max) <= baseline
        }
        let fresh = insecureTLSClient()
        do {
            let response = try await executeRetryingRefusedStream(fresh, HTTPClientRequest(url: "https://127.0.0.1:\(port)/healthz"))
            #expect(response.status == .ok, "a normal client is served after the flood")
            #expect(response.version == .http2)
            _ = try await response.body.collect(upTo: 1024)
            var large = HTTPClientRequest(url: "https://127.0.0.1:\(port)/api/channels/a/events")
            large.method = .POST
            large.headers.add(name: "Content-Type", value: "application/json")
            large.body = .bytes(ByteBuffer(string: #"{"data":"\#(String(repeating: "x", count: 200))"}"#))
            let refused = try await executeRetryingRefusedStream(fresh, large)
            #expect(refused.status.code == 413, "an HTTP/2 stream gets the 413 too, without a Connection header")
            _ = try await refused.body.collect(upTo: 4096)
            // The client keeps its connection open; Herald closes it once idle.
            try await eventually("the idle TLS connection to be closed, the descriptors back to \(baseline)", seconds: 30) {
                (ProcProbe.fdCount(child.pid) ?? .max) <= baseline
            }
        } catch {
            try await fresh.shutdown()
            throw error
        }
        try await fresh.shutdown()
    }
}

/// With `idle_timeout_seconds: 1` Herald's GOAWAY can cross a request a loaded machine sends just
/// over a second after the last one; the stream is then refused, which means it was not processed,
/// and a client sends it again (RFC 9113 §8.7), as this does once.
func executeRetryingRefusedStream(_ client: HTTPClient, _ request: HTTPClientRequest) async throws -> HTTPClientResponse {
    do {
        return try await client.execute(request, timeout: .seconds(30))
    } catch let error as NIOHTTP2Errors.StreamClosed where error.errorCode == .refusedStream {
        return try await client.execute(request, timeout: .seconds(30))
    }
}

/// Herald serving HTTPS on a free loopback port with a fresh self-signed certificate, and
/// `settings` added to its `server:` section.
func startTLSHerald(_ dir: TempDir, settings: String = "") throws -> (ChildProcess, Int) {
    try makeCertificate(in: dir)
    let port = try freePort()
    let extra = settings.isEmpty ? "" : ", " + settings
    try "server: { tls: { cert: \(dir.file("cert.pem")), key: \(dir.file("key.pem")) }\(extra) }"
        .write(toFile: dir.file("tls.yaml"), atomically: true, encoding: .utf8)
    let child = try ChildProcess(executable: heraldBinary,
                                 arguments: ["serve", "--listen", "127.0.0.1:\(port)", "--db", dir.file("h.sqlite"), "--mqtt", "none",
                                             "--config", dir.file("tls.yaml")], logPath: dir.file("log"))
    return (child, port)
}

/// A client for the self-signed certificate above; the caller shuts it down.
func insecureTLSClient() -> HTTPClient {
    var tls = TLSConfiguration.makeClientConfiguration()
    tls.certificateVerification = .none
    return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: .init(tlsConfiguration: tls))
}

func makeCertificate(in dir: TempDir) throws {
    let openssl = Process()
    openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    openssl.arguments = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                         "-keyout", dir.file("key.pem"), "-out", dir.file("cert.pem")]
    openssl.standardError = FileHandle.nullDevice
    try openssl.run()
    openssl.waitUntilExit()
}
