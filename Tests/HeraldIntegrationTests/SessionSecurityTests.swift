import AsyncHTTPClient
import Foundation
import HeraldCore
import NIOCore
import NIOHTTP1
import Testing

/// What a token and the session made from it may do, and when they stop: the audit's findings
/// on sessions, admin scopes and cross-site writes.
@Suite struct SessionSecurityTests {
    static let reader = "reader-token-0123456789", writer = "writer-token-0123456789"
    static let scopedAdmin = "scoped-admin-token-0123456789"

    static func config(readerToken: String = reader, extra: String = "") -> String {
        """
        server: { keepalive_seconds: 1, cors_origins: ["https://Dash.Example"] \(extra) }
        tokens:
          - { name: reader, sha256: "\(TokenAuthority.sha256Hex(readerToken))", subscribe: ["sensors"], publish: [] }
          - { name: writer, sha256: "\(TokenAuthority.sha256Hex(writer))", subscribe: ["#"], publish: ["sensors"] }
          - { name: ops, sha256: "\(TokenAuthority.sha256Hex(scopedAdmin))", subscribe: ["sensors/#"], publish: ["sensors/#"], admin: true }
        """
    }

    func call(_ herald: HeraldInstance, _ method: HTTPMethod, _ path: String, headers: [(String, String)] = [],
              body: String? = nil) async throws -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: herald.baseURL + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await executeRetryingClosedConnection(request)
        return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 20)))
    }

    func publishAsWriter(_ herald: HeraldInstance, _ body: String) async throws {
        let answer = try await call(herald, .POST, "/api/channels/sensors/events",
                                    headers: [("Authorization", "Bearer \(Self.writer)"), ("Content-Type", "application/json")], body: body)
        #expect(answer.status == 200, "publish: \(answer.body)")
    }

    func signIn(_ herald: HeraldInstance, _ token: String) async throws -> String {
        var request = HTTPClientRequest(url: herald.baseURL + "/api/session")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: #"{"token":"\#(token)"}"#))
        let response = try await executeRetryingClosedConnection(request)
        _ = try await response.body.collect(upTo: 1 << 16)
        let setCookie = try #require(response.headers.first(name: "Set-Cookie"), "no session cookie for the token")
        return String(setCookie.split(separator: ";")[0])
    }

    @Test func duplicateTokenNamesStopServeAndCheckConfig() async throws {
        let dir = try TempDir()
        let digest = { (token: String) in TokenAuthority.sha256Hex(token) }
        try """
            tokens:
              - { name: dashboard, sha256: "\(digest("one"))", subscribe: ["sensors"] }
              - { name: dashboard, sha256: "\(digest("two"))", admin: true }
            """.write(toFile: dir.file("dup.yaml"), atomically: true, encoding: .utf8)
        for arguments in [["check-config", dir.file("dup.yaml")],
                          ["serve", "--config", dir.file("dup.yaml"), "--listen", "127.0.0.1:\(try freePort())",
                           "--db", dir.file("h.sqlite"), "--mqtt", "none"]] {
            let child = try ChildProcess(executable: heraldBinary, arguments: arguments, logPath: dir.file("\(arguments[0]).log"))
            try await eventually("herald \(arguments[0]) to refuse the configuration", seconds: 30) { !child.isRunning }
            #expect(child.process.terminationStatus != 0)
            #expect(child.log.contains("3: token name \"dashboard\" is also used on line 2"), "\(child.log)")
        }
    }

    /// A session carries its own token's rights, never another token's.
    @Test func aSessionHasTheRightsOfItsOwnTokenOnly() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir, config: Self.config())
        let readerCookie = try await signIn(herald, Self.reader)
        #expect(try await call(herald, .GET, "/metrics", headers: [("Cookie", readerCookie)]).status == 403)
        let adminCookie = try await signIn(herald, Self.scopedAdmin)
        #expect(try await call(herald, .GET, "/metrics", headers: [("Cookie", adminCookie)]).status == 200)
    }

    /// `admin` acknowledges alerts and reads /metrics; its scopes still bound what it reads and writes.
    @Test func adminDoesNotWidenScopes() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir, config: Self.config())
        let bearer = [("Authorization", "Bearer \(Self.scopedAdmin)"), ("Content-Type", "application/json")]
        #expect(try await call(herald, .POST, "/api/channels/secret/events", headers: bearer, body: #"{"data":1}"#).status == 403)
        #expect(try await call(herald, .POST, "/api/channels/sensors/a/events", headers: bearer, body: #"{"data":2}"#).status == 200)
        #expect(try await call(herald, .GET, "/channels/secret/sse", headers: bearer).status == 403)
        #expect(try await call(herald, .GET, "/api/events?channel=secret", headers: bearer).body.contains("\"events\":[]"))
        #expect(try await call(herald, .GET, "/metrics", headers: bearer).status == 200)
    }

    /// `/sse?channel=secret` for a reader of `sensors` is a 403 naming the channel, like
    /// `/channels/secret/sse`; a wildcard narrows instead.
    @Test func aStreamOfOnlyForbiddenChannelsIsRefused() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir, config: Self.config())
        let bearer = [("Authorization", "Bearer \(Self.reader)")]
        let refused = try await call(herald, .GET, "/sse?channel=secret&channel=other", headers: bearer)
        #expect(refused.status == 403)
        #expect(refused.body.contains(#"\"secret\", \"other\""#), "\(refused.body)")
        try await publishAsWriter(herald, #"{"data":1}"#)
        let narrowed = try await herald.stream("/sse?channel=%23", headers: bearer) { $0.count >= 1 }
        #expect(narrowed.map(\.type) == ["sensors"])
        let mixed = try await herald.stream("/sse?channel=secret&channel=sensors", headers: bearer) { $0.count >= 1 }
        #expect(mixed.map(\.type) == ["sensors"])
    }

    /// Signing out ends the session and the streams it has open; a token changed in the
    /// configuration ends its sessions at the restart.
    @Test func signOutAndAChangedTokenEndTheSessionAndItsStreams() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir, config: Self.config())
        let cookie = try await signIn(herald, Self.reader)
        let opened = Flag()
        let stream = Task {
            try await herald.stream("/sse?channel=sensors", headers: [("Cookie", cookie)]) { events in
                if events.contains(where: { $0.type == "sensors" }) { opened.set() }
                return false
            }
        }
        try await publishAsWriter(herald, #"{"data":"before"}"#)
        try await eventually("the cookie's stream to deliver an event", seconds: 30) { opened.isSet }
        #expect(try await call(herald, .DELETE, "/api/session", headers: [("Cookie", cookie)]).status == 200)
        // The server ends the stream (its keepalive every second keeps the client's own read
        // timeout away, which would also end it).
        let ended = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                if case .failure(let error as HTTPClientError) = await stream.result, error == .readTimeout { return false }
                return true
            }
            group.addTask { try await Task.sleep(for: .seconds(30)); return false }
            let first = try await group.next()!
            stream.cancel()
            group.cancelAll()
            return first
        }
        #expect(ended, "the signed-out session's stream was still open after 30 s")
        #expect(try await call(herald, .GET, "/api/channels", headers: [("Cookie", cookie)]).status == 401)

        let kept = try await signIn(herald, Self.reader)
        #expect(try await call(herald, .GET, "/api/channels", headers: [("Cookie", kept)]).status == 200)
        try Self.config(readerToken: "a-new-reader-token-9876").write(toFile: dir.file("herald.yaml"), atomically: true, encoding: .utf8)
        try await herald.restart()
        #expect(try await call(herald, .GET, "/api/channels", headers: [("Cookie", kept)]).status == 401,
                "a session outlived the token it came from")
        #expect(try await sqlite3(herald.database, "SELECT count(*) FROM sessions").trimmingCharacters(in: .whitespacesAndNewlines) == "0",
                "the start-up removes the sessions of tokens no longer configured")
        #expect(try await call(herald, .GET, "/api/channels", headers: [("Authorization", "Bearer \(Self.reader)")]).status == 401)
    }

    /// A write made with the cookie must come from Herald's own origin (or `cors_origins`) and
    /// send JSON; Bearer requests are unaffected.
    @Test func cookieWritesRefuseOtherOriginsAndFormBodies() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir, config: Self.config())
        let cookie = try await signIn(herald, Self.writer)
        let own = herald.baseURL
        let path = "/api/channels/sensors/events", json = ("Content-Type", "application/json")
        #expect(try await call(herald, .POST, path, headers: [("Cookie", cookie), ("Origin", "http://evil.example"), json],
                               body: #"{"data":1}"#).status == 403)
        #expect(try await call(herald, .POST, path, headers: [("Cookie", cookie), ("Origin", own), ("Content-Type", "text/plain")],
                               body: #"{"data":1}"#).status == 415)
        #expect(try await call(herald, .POST, path, headers: [("Cookie", cookie), ("Content-Type", "application/x-www-form-urlencoded")],
                               body: "data=1").status == 403, "no Origin and no Referer")
        #expect(try await call(herald, .POST, "/api/alerts/x/ack", headers: [("Cookie", cookie), ("Origin", "http://127.0.0.1:1")]).status == 403,
                "another port of the same host is another origin")
        #expect(try await call(herald, .POST, path, headers: [("Cookie", cookie), ("Origin", own.replacingOccurrences(of: "http:", with: "https:")), json],
                               body: #"{"data":0}"#).status == 403, "another scheme is another origin")
        #expect(try await call(herald, .POST, path, headers: [("Cookie", cookie), ("Origin", own), json], body: #"{"data":2}"#).status == 200)
        #expect(try await call(herald, .POST, path, headers: [("Cookie", cookie), ("Referer", own + "/index.html"), json],
                               body: #"{"data":3}"#).status == 200)
        #expect(try await call(herald, .POST, path, headers: [("Cookie", cookie), ("Origin", "https://dash.example"), json],
                               body: #"{"data":4}"#).status == 200, "an origin in cors_origins, whatever its case there")
        #expect(try await call(herald, .POST, path, headers: [("Authorization", "Bearer \(Self.writer)"),
                                                               ("Origin", "http://evil.example"), json], body: #"{"data":5}"#).status == 200)
        let metrics = try await call(herald, .GET, "/metrics", headers: [("Authorization", "Bearer \(Self.scopedAdmin)")]).body
        #expect(metrics.contains(#"herald_http_refused_total{reason="csrf"} 5"#), "\(metrics)")
        #expect(try await call(herald, .POST, "/api/session", headers: [("Origin", "http://evil.example"), json],
                               body: #"{"token":"\#(Self.writer)"}"#).status == 403, "no signing in from another site")
    }

    /// With no tokens nobody signs in, yet a page on another site must not publish through the
    /// visitor's browser; tools that send no Origin (curl, `herald publish`) are not browsers.
    @Test func withoutTokensABrowserOnAnotherSiteStillCannotWrite() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir)
        let path = "/api/channels/sensors/events"
        #expect(try await call(herald, .POST, path, headers: [("Origin", "http://evil.example"), ("Content-Type", "text/plain")],
                               body: #"{"data":1}"#).status == 403)
        #expect(try await call(herald, .POST, path, headers: [("Origin", herald.baseURL), ("Content-Type", "text/plain")],
                               body: #"{"data":2}"#).status == 415)
        #expect(try await call(herald, .POST, path, headers: [("Origin", herald.baseURL), ("Content-Type", "application/json")],
                               body: #"{"data":3}"#).status == 200)
        #expect(try await call(herald, .POST, path, headers: [("Content-Type", "text/plain")], body: #"{"data":4}"#).status == 200)
    }
}
