import AsyncHTTPClient
import Foundation
import HeraldCore
import NIOCore
import NIOHTTP1
import NIOSSL
import Testing

/// Tokens, scopes, sessions, CORS, limits and bad paths against a real Herald (DESIGN §8).
@Suite struct SecurityTests {
    static let reader = "reader-token-0123456789", writer = "writer-token-0123456789", admin = "admin-token-0123456789"
    static let config = """
        server: { cors_origins: ["https://dash.example"], max_body_bytes: 2048 }
        tokens:
          - { name: reader, sha256: "\(TokenAuthority.sha256Hex(reader))", subscribe: ["sensors"], publish: [] }
          - { name: writer, sha256: "\(TokenAuthority.sha256Hex(writer))", subscribe: ["#"], publish: ["sensors", "other"] }
          - { name: admin, sha256: "\(TokenAuthority.sha256Hex(admin))", admin: true }
        """

    func request(_ herald: HeraldInstance, _ method: HTTPMethod = .GET, _ path: String, token: String? = nil,
                 headers: [(String, String)] = [], body: String? = nil) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: herald.baseURL + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer " + token) }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        return try await executeRetryingClosedConnection(request)
    }

    func status(_ herald: HeraldInstance, _ method: HTTPMethod = .GET, _ path: String, token: String? = nil,
                headers: [(String, String)] = [], body: String? = nil) async throws -> Int {
        let response = try await request(herald, method, path, token: token, headers: headers, body: body)
        _ = try await response.body.collect(upTo: 1 << 20)
        return Int(response.status.code)
    }

    @Test func tokensAndScopesDecideWhatEachCallerSees() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir, config: Self.config)
        #expect(try await status(herald, .GET, "/api/events") == 401)
        #expect(try await status(herald, .GET, "/sse") == 401)
        #expect(try await status(herald, .GET, "/api/events", token: "wrong") == 401)
        #expect(try await status(herald, .GET, "/healthz") == 200)
        #expect(try await status(herald, .GET, "/") == 200, "the dashboard's files need no token")

        #expect(try await status(herald, .POST, "/api/channels/sensors/events", token: Self.reader, body: #"{"data":1}"#) == 403)
        #expect(try await status(herald, .POST, "/api/channels/secret/events", token: Self.writer, body: #"{"data":1}"#) == 403)
        #expect(try await status(herald, .POST, "/api/channels/sensors/events", token: Self.writer, body: #"{"data":1}"#) == 200)
        #expect(try await status(herald, .POST, "/api/channels/other/events", token: Self.writer, body: #"{"data":2}"#) == 200)
        #expect(try await status(herald, .POST, "/api/events", token: Self.writer,
                                 body: #"[{"channel":"sensors","data":3},{"channel":"secret","data":4}]"#) == 403)

        // The reader asks for everything and gets only what it may read: in replay, snapshot and history.
        let events = try await herald.stream("/sse?channel=%23&access_token=x", lastEventId: "0", headers: [("Authorization", "Bearer \(Self.reader)")]) { $0.count >= 1 }
        #expect(events.map(\.type) == ["sensors"])
        let history = try await request(herald, .GET, "/api/events?channel=%23", token: Self.reader)
        let body = String(buffer: try await history.body.collect(upTo: 1 << 20))
        #expect(body.contains("\"sensors\"") && !body.contains("\"other\""), "\(body)")
        let snapshot = String(buffer: try await request(herald, .GET, "/api/snapshot", token: Self.reader).body.collect(upTo: 1 << 20))
        #expect(!snapshot.contains("\"other\""))
        #expect(try await status(herald, .GET, "/channels/other/sse", token: Self.reader) == 403)
        #expect(try await status(herald, .GET, "/metrics", token: Self.reader) == 403)
        #expect(try await status(herald, .GET, "/metrics", token: Self.admin) == 200)
        #expect(try await status(herald, .POST, "/api/alerts/x/ack", token: Self.reader) == 403)
        // Query-string tokens are off unless allowed.
        #expect(try await status(herald, .GET, "/api/events?access_token=\(Self.reader)") == 401)
    }

    @Test func aSessionCookieStandsInForTheToken() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir, config: Self.config)
        #expect(try await status(herald, .POST, "/api/session", body: #"{"token":"nope"}"#) == 401)
        let login = try await request(herald, .POST, "/api/session", body: #"{"token":"\#(Self.reader)"}"#)
        #expect(login.status == .ok)
        let setCookie = try #require(login.headers.first(name: "Set-Cookie"))
        #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict") && !setCookie.contains("Secure"))
        let cookie = String(setCookie.split(separator: ";")[0])
        #expect(try await status(herald, .GET, "/api/channels", headers: [("Cookie", cookie)]) == 200)
        try await herald.restart()
        #expect(try await status(herald, .GET, "/api/channels", headers: [("Cookie", cookie)]) == 200, "sessions survive a restart")
        #expect(try await status(herald, .DELETE, "/api/session", headers: [("Cookie", cookie)]) == 200)
        #expect(try await status(herald, .GET, "/api/channels", headers: [("Cookie", cookie)]) == 401)
    }

    @Test func corsAndBodySize() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir, config: Self.config)
        let allowed = try await request(herald, .GET, "/api/channels", token: Self.admin, headers: [("Origin", "https://dash.example")])
        #expect(allowed.headers.first(name: "Access-Control-Allow-Origin") == "https://dash.example")
        #expect(allowed.headers.first(name: "Access-Control-Allow-Credentials") == "true")
        #expect(allowed.headers.first(name: "Vary") == "Origin")
        let other = try await request(herald, .GET, "/api/channels", token: Self.admin, headers: [("Origin", "https://evil.example")])
        #expect(other.headers.first(name: "Access-Control-Allow-Origin") == nil)
        let preflight = try await request(herald, .OPTIONS, "/api/channels/sensors/events",
                                          headers: [("Origin", "https://dash.example"), ("Access-Control-Request-Method", "POST")])
        #expect(preflight.status == .noContent)
        #expect(preflight.headers.first(name: "Access-Control-Allow-Headers")?.contains("Authorization") == true)

        #expect(try await status(herald, .POST, "/api/channels/sensors/events", token: Self.admin,
                                 body: #"{"data":"\#(String(repeating: "x", count: 4000))"}"#) == 413)

    }

    @Test func staticFilesNeverLeaveTheWebRoot() async throws {
        let dir = try TempDir()
        let web = dir.file("web")
        try FileManager.default.createDirectory(atPath: web, withIntermediateDirectories: true)
        try "<h1>ok</h1>".write(toFile: web + "/index.html", atomically: true, encoding: .utf8)
        try "secret".write(toFile: dir.file("secret.txt"), atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: web + "/escape.txt", withDestinationPath: dir.file("secret.txt"))
        let herald = try await HeraldInstance(dir: dir, config: "server: { web_root: \(web) }")
        #expect(try await herald.get("/").body.contains("ok"))
        for path in ["/../secret.txt", "/%2e%2e/secret.txt", "/%252e%252e/secret.txt", "/..%2fsecret.txt",
                     "/%2e%2e%2fsecret.txt", "/escape.txt", "/..\\secret.txt", "/%00index.html"] {
            let answer = try await herald.get(path)
            #expect(answer.status == 404 || answer.status == 400, "\(path) → \(answer.status)")
            #expect(!answer.body.contains("secret"), "\(path) leaked the file")
        }
        let unknown = try await herald.get("/api/nothing")
        #expect(unknown.status == 404 && unknown.body.contains("\"error\""))
    }

    /// Channel names in paths are percent-decoded once, segment by segment: `%2F` stays inside a
    /// name, `%0A` becomes the newline that validation refuses, and `%25` a `%` that names refuse
    /// (decoding twice would have turned `a%252Fc` into `a/c`).
    @Test func percentEncodedChannelPathsAreDecodedOnce() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir)
        #expect(try await herald.post("/api/channels/plain/events", #"{"data":1}"#).status == 200)
        #expect(try await herald.post("/api/channels/a%2Fb/events", #"{"data":2}"#).status == 200)
        #expect(try await herald.post("/api/channels/a%252Fc/events", #"{"data":3}"#).status == 400, "decoded once: '%2F' is not a name")
        #expect(try await herald.post("/api/channels/a%0Ab/events", #"{"data":4}"#).status == 400)
        #expect(try await herald.post("/api/channels/a%25/events", #"{"data":5}"#).status == 400)
        let channels = try await herald.get("/api/channels").body
        #expect(channels.contains("\"plain\"") && channels.contains("\"a/b\""))
    }

    @Test func protectedModeRefusesToStartOnTheNetworkWithoutTokens() async throws {
        let dir = try TempDir()
        let child = try ChildProcess(executable: heraldBinary,
                                     arguments: ["serve", "--listen", "0.0.0.0:\(try freePort())", "--db", dir.file("h.sqlite"), "--mqtt", "none"],
                                     logPath: dir.file("log"))
        try await eventually("herald to refuse") { !child.isRunning }
        #expect(child.process.terminationStatus == 2)
        #expect(child.log.contains("herald token new"))
    }

    @Test func tlsServesHTTP2() async throws {
        let dir = try TempDir()
        let (child, port) = try startTLSHerald(dir)
        defer { child.signal(SIGKILL) }
        let client = insecureTLSClient()
        try await eventually("https to answer") {
            try await client.execute(HTTPClientRequest(url: "https://127.0.0.1:\(port)/healthz"), timeout: .seconds(2)).status == .ok
        }
        let response = try await client.execute(HTTPClientRequest(url: "https://127.0.0.1:\(port)/healthz"), timeout: .seconds(5))
        #expect(response.version == .http2)
        _ = try await response.body.collect(upTo: 1024)
        try await client.shutdown()
    }

    @Test func slowAndOversizeRequestHeadsAreCutOff() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir, config: "server: { header_timeout_seconds: 0.5, keepalive_seconds: 0.2, max_header_bytes: 4096 }")
        let slow = try RawClient(port: herald.port, request: "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1")
        #expect(await slow.readsToEnd(within: 30), "a client that never finishes its head is disconnected")
        let huge = try RawClient(port: herald.port,
                                 request: "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: \(String(repeating: "a", count: 8000))\r\n\r\n")
        #expect(await huge.readsToEnd(within: 30))
        // A stream outlives the head deadline: only the head is timed.
        let keepalives = try await streamComments(herald, seconds: 3)
        #expect(keepalives >= 3, "the stream stayed open past the head deadline")
    }

    /// Counts `:keepalive` comments on a stream for a while.
    func streamComments(_ herald: HeraldInstance, seconds: Double) async throws -> Int {
        let client = try RawClient(port: herald.port, request: "GET /sse?channel=none&replay=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                                   receiveBuffer: 65536)
        return await client.count(of: ":keepalive", within: seconds)
    }
}
