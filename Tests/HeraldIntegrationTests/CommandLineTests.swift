import AsyncHTTPClient
import Foundation
import HeraldCore
import NIOCore
import Testing

/// The `herald` client commands against a real server.
@Suite struct CommandLineTests {
    func run(_ arguments: [String], in dir: TempDir) async throws -> (status: Int32, output: String) {
        let log = dir.file("cli-\(UUID().uuidString).out")
        let child = try ChildProcess(executable: heraldBinary, arguments: arguments, logPath: log)
        let deadline = Date().addingTimeInterval(20)
        while child.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        let status = await child.stop()
        return (status, child.log)
    }

    @Test func publishChannelsAndATailThatResumesAcrossARestart() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir)
        let published = try await run(["publish", "greenhouse", "{\"value\": 21.5}", "--type", "reading", "--key", "temp",
                                       "--url", herald.baseURL], in: dir)
        #expect(published.status == 0)
        #expect(published.output.contains("{\"id\":1}"))

        let tail = try ChildProcess(executable: heraldBinary, arguments: ["tail", "greenhouse", "--json", "--url", herald.baseURL],
                                    logPath: dir.file("tail.out"))
        defer { tail.signal(SIGKILL) }
        try await eventually("tail to show the first event") { tail.log.contains("\"id\":1,") }
        _ = try await herald.publish("greenhouse", "{\"data\":2}")
        try await herald.restart()
        _ = try await herald.publish("greenhouse", "{\"data\":3}")
        try await eventually("tail to resume after the restart", seconds: 30) { tail.log.contains("\"data\":3") }
        let ids = tail.log.split(separator: "\n").compactMap { try? Envelope(json: String($0)) }.map(\.id)
        #expect(ids.count == 3 && ids == ids.sorted() && Set(ids).count == 3, "\(tail.log)")

        let channels = try await run(["channels", "--url", herald.baseURL], in: dir)
        #expect(channels.output.contains("greenhouse"))
    }

    @Test func checkConfigNamesTheLineOfEachError() async throws {
        let dir = try TempDir()
        try "server:\n  listen: nowhere\nmqtt:\n  qos: 7\n".write(toFile: dir.file("bad.yaml"), atomically: true, encoding: .utf8)
        let result = try await run(["check-config", dir.file("bad.yaml")], in: dir)
        #expect(result.status == 1)
        #expect(result.output.contains("bad.yaml:2: listen must be HOST:PORT"))
        #expect(result.output.contains("bad.yaml:4: qos must be a whole number in 0...2"))
    }

    /// The lines of a log that mention `text`.
    func lines(_ log: String, with text: String) -> [String] { log.split(separator: "\n").filter { $0.contains(text) }.map(String.init) }

    @Test func tailReconnectsAfterADropWithTheLastIdAndTheNewRetry() async throws {
        let dir = try TempDir()
        // The first stream sets `retry:` and ends; the next, asked from id 1, stays open.
        let server = try ScriptedHTTPServer { index, _ in
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
            return index == 0 ? .init(bytes: head + "retry: 250\nid: 1\ndata: one\n\n")
                              : .init(bytes: head + "id: 2\ndata: two\n\n", holdOpen: true)
        }
        defer { server.stop() }
        let tail = try ChildProcess(executable: heraldBinary, arguments: ["tail", "--url", "http://127.0.0.1:\(server.port)"],
                                    logPath: dir.file("tail.out"))
        defer { tail.signal(SIGKILL) }
        try await eventually("tail to reconnect and print the second stream's event", seconds: 30) { tail.log.contains("message two") }
        #expect(tail.log.contains("message one"))
        #expect(server.requests.count == 2 && server.requests[1].contains("Last-Event-ID: 1\r\n"), "\(server.requests)")
        #expect(tail.log.contains("herald tail: stream ended; reconnecting from id 1 in 0.25 s"), "\(tail.log)")
    }

    @Test func anHTTPErrorIsOneLineWithoutTheProxysPage() async throws {
        let dir = try TempDir()
        let page = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n"
            + "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        let proxy = try ScriptedHTTPServer { _, _ in
            .init(bytes: "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: \(page.utf8.count)\r\n"
                  + "Connection: close\r\n\r\n" + page)
        }
        defer { proxy.stop() }
        let url = "http://127.0.0.1:\(proxy.port)"
        let tail = try ChildProcess(executable: heraldBinary, arguments: ["tail", "--url", url], logPath: dir.file("tail.out"))
        defer { tail.signal(SIGKILL) }
        try await eventually("tail to report the 502", seconds: 30) { tail.log.contains("502 Bad Gateway from") }
        await tail.stop(SIGKILL)
        #expect(lines(tail.log, with: "502").first == "herald tail: 502 Bad Gateway from \(url)/sse; retrying in 3 s", "\(tail.log)")
        #expect(!tail.log.contains("<"), "no markup on the terminal: \(tail.log)")

        let channels = try await run(["channels", "--url", url], in: dir)
        #expect(channels.status == 1)
        #expect(channels.output == "herald channels: 502 Bad Gateway from \(url)/api/channels\n", "\(channels.output)")
    }

    @Test func heraldsJSONErrorIsShownAsItsMessage() async throws {
        let dir = try TempDir()
        let body = "{\"error\":\"unavailable\",\"detail\":\"too many\\nsubscribers\"}"
        let server = try ScriptedHTTPServer { _, _ in
            .init(bytes: "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
                  + "Connection: close\r\n\r\n" + body)
        }
        defer { server.stop() }
        let url = "http://127.0.0.1:\(server.port)"
        let channels = try await run(["channels", "--url", url], in: dir)
        #expect(channels.status == 1)
        #expect(channels.output == "herald channels: 503 Service Unavailable from \(url)/api/channels: unavailable: too many subscribers\n",
                "\(channels.output)")
    }

    @Test func aRefusedConnectIsOneLineAndTailRetries() async throws {
        let dir = try TempDir()
        let url = "http://127.0.0.1:\(try freePort())"  // bound a moment ago, nothing listens there now
        let channels = try await run(["channels", "--url", url, "--connect-timeout", "2"], in: dir)
        #expect(channels.status == 1)
        #expect(channels.output == "herald channels: cannot connect to \(url)/api/channels: connection refused\n", "\(channels.output)")

        let tail = try ChildProcess(executable: heraldBinary, arguments: ["tail", "--url", url], logPath: dir.file("tail.out"))
        defer { tail.signal(SIGKILL) }
        try await eventually("tail to report the refused connect", seconds: 30) { tail.log.contains("retrying") }
        #expect(tail.isRunning)
        #expect(tail.log.hasPrefix("herald tail: cannot connect to \(url)/sse: connection refused; retrying in 3 s\n"), "\(tail.log)")
    }

    @Test func cacertTrustsASelfSignedServerAndInsecureSkipsTheCheck() async throws {
        let dir = try TempDir()
        let (herald, port) = try await startLoopbackTLSHerald(dir)
        defer { herald.signal(SIGKILL) }
        let url = "https://127.0.0.1:\(port)"

        let trusted = try await run(["channels", "--url", url, "--cacert", dir.file("cert.pem")], in: dir)
        #expect(trusted.status == 0 && trusted.output.hasPrefix("CHANNEL"), "\(trusted.output)")

        let untrusted = try await run(["channels", "--url", url], in: dir)
        #expect(untrusted.status == 1)
        #expect(untrusted.output.hasPrefix("herald channels: TLS with \(url)/api/channels failed: the server's certificate is not signed by a trusted CA"),
                "\(untrusted.output)")
        #expect(untrusted.output.split(separator: "\n").count == 1, "\(untrusted.output)")

        let insecure = try await run(["channels", "--url", url, "--insecure"], in: dir)
        #expect(insecure.status == 0 && insecure.output.contains("CHANNEL"), "\(insecure.output)")
        #expect(insecure.output.contains("herald channels: warning: --insecure"), "\(insecure.output)")

        let tail = try ChildProcess(executable: heraldBinary, arguments: ["tail", "--json", "--url", url, "--cacert", dir.file("cert.pem")],
                                    logPath: dir.file("tail.out"))
        defer { tail.signal(SIGKILL) }
        var request = HTTPClientRequest(url: url + "/api/channels/tls/events")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: "{\"data\":\"over tls\"}"))
        let published = try await withInsecureClient { try await $0.execute(request, timeout: .seconds(30)).status }
        #expect(published == .ok)
        try await eventually("tail --cacert to print the event", seconds: 30) { tail.log.contains("over tls") }
    }

    /// Herald over HTTPS with a self-signed certificate naming 127.0.0.1, as a client checking
    /// the name needs (a common name is never matched against an IP address).
    func startLoopbackTLSHerald(_ dir: TempDir) async throws -> (ChildProcess, Int) {
        let made = try await runCommand("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=herald test",
            "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", dir.file("key.pem"), "-out", dir.file("cert.pem")])
        guard made.status == 0 else { throw TestFailure("openssl: \(made.output)") }
        let port = try freePort()
        try "server: { tls: { cert: \(dir.file("cert.pem")), key: \(dir.file("key.pem")) } }"
            .write(toFile: dir.file("tls.yaml"), atomically: true, encoding: .utf8)
        let herald = try ChildProcess(executable: heraldBinary, arguments: [
            "serve", "--listen", "127.0.0.1:\(port)", "--db", dir.file("h.sqlite"), "--mqtt", "none", "--config", dir.file("tls.yaml"),
        ], logPath: dir.file("herald.log"))
        try await withInsecureClient { client in
            try await eventually("herald over TLS to answer /healthz", seconds: 60) {
                try await client.execute(HTTPClientRequest(url: "https://127.0.0.1:\(port)/healthz"), timeout: .seconds(5)).status == .ok
            }
        }
        return (herald, port)
    }

    /// Runs `body` with a client that accepts any certificate, shut down on every path (a client
    /// left running stops a debug build at its deinit).
    func withInsecureClient<T>(_ body: (HTTPClient) async throws -> T) async throws -> T {
        let client = insecureTLSClient()
        do {
            let result = try await body(client)
            try await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}
