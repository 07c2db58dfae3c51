import AsyncHTTPClient
import Foundation
import HeraldCore
import NIOCore
import Testing

/// Herald as a systemd service (DESIGN §9): sd_notify, the drain on SIGTERM, the unit file.
@Suite(.serialized) struct ApplianceTests {
    @Test func notifiesReadyAfterListeningThenWatchdogStatusAndStopping() async throws {
        let dir = try TempDir()
        let socket = try NotifySocket(path: dir.file("notify"))
        let port = try freePort()
        let herald = try ChildProcess(
            executable: heraldBinary,
            arguments: ["serve", "--listen", "127.0.0.1:\(port)", "--db", dir.file("herald.sqlite"), "--mqtt", "none"],
            logPath: dir.file("herald.log"),
            environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "400000"])
        defer { herald.signal(SIGKILL) }

        let first = try #require(socket.receive(seconds: 30), "no notification (log: \(herald.log))")
        // Connect at once: READY=1 must mean the port already answers.
        #expect(canConnect(port: port), "READY=1 came before the port listened")
        #expect(first.hasPrefix("READY=1\n"), "first notification: \(first)")
        #expect(first.contains("STATUS=0 clients, 0.0 events/s, MQTT disabled"), "\(first)")

        // A client and some events show up in STATUS; pings come every 200 ms (half WATCHDOG_USEC).
        let stream = try RawClient(port: port, request: "GET /sse HTTP/1.1\r\nHost: x\r\n\r\n")
        for n in 0..<5 { #expect(try await post(port: port, "/api/channels/notify/events", "{\"data\":\(n)}").status == 200) }
        var messages: [String] = []
        let pings = { messages.filter { $0.hasPrefix("WATCHDOG=1\nSTATUS=") } }
        let start = Date()
        while Date().timeIntervalSince(start) < 30, let message = socket.receive(seconds: 30) {
            messages.append(message)
            if pings().count >= 5 && messages.contains(where: { $0.contains("STATUS=1 client,") }) { break }
        }
        #expect(pings().count >= 5, "fewer than 5 pings in 30 s: \(messages)")
        #expect(messages.contains { $0.contains("STATUS=1 client,") }, "\(messages)")
        #expect(messages.contains { !$0.contains(" 0.0 events/s") }, "no event rate seen: \(messages)")
        withExtendedLifetime(stream) {}

        herald.signal(SIGTERM)
        var last = ""
        while let message = socket.receive(seconds: 30) {
            last = message
            if message.hasPrefix("STOPPING=1") { break }
        }
        #expect(last.hasPrefix("STOPPING=1"), "last notification: \(last)")
        let status = await herald.stop(SIGTERM, seconds: 30)
        #expect(status == 0 && herald.terminationReason == .exit, "exit \(status)")
    }

    @Test func watchdogForAnotherProcessIsNotPingedAndAbstractSocketsWork() throws {
        let other = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"])
        #expect(other != nil && other?.watchdogInterval == nil)
        let ours = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000",
                                                 "WATCHDOG_PID": "\(getpid())"])
        #expect(ours?.watchdogInterval == .seconds(15))
        #expect(SystemdNotifier(environment: [:]) == nil)

        let name = "herald-test-\(UUID().uuidString)"
        let socket = try NotifySocket(path: "@" + name)
        let notifier = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": "@" + name]))
        #expect(notifier.notify("READY=1"))
        #expect(socket.receive(seconds: 30) == "READY=1")
    }

    @Test func sigtermEndsStreamsCleanlyAndTheyResumeWithoutLossAfterRestart() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir)
        for n in 0..<20 { _ = try await herald.publish("drain", "{\"data\":\(n)}") }

        // A live stream, and a publisher that keeps going until Herald refuses.
        let received = Collected()
        let streamURL = herald.baseURL + "/sse?channel=drain"
        let stream = Task { () throws -> String? in
            var client = SSEClient(url: streamURL, lastEventId: "0", httpClient: testHTTPClient)
            _ = try await client.connectOnce { received.append($0) }
            return client.lastEventId  // reached only when the response ends cleanly
        }
        try await eventually("the stream to replay the first events") { received.events.count >= 20 }
        let answered = Task { () -> [Int64] in
            var ids: [Int64] = []
            // Until the first refusal: a 503 while draining, or a refused connect (5 s at most) after the exit.
            while let answer = try? await post(port: herald.port, "/api/channels/drain/events", "{\"data\":\"live\"}", seconds: 30),
                  answer.status == 200, let id = Envelope.int(answer.body, "id") {
                ids.append(id)
            }
            return ids
        }
        try await eventually("live events on the stream") { received.events.count >= 40 }

        // A clean stop is what is checked, not how long it takes (the unit gives it TimeoutStopSec=20):
        // the bound is generous, for a loaded machine.
        let status = await herald.process.stop(SIGTERM, seconds: 60)
        #expect(status == 0 && herald.process.terminationReason == .exit, "exit \(status): not stopped cleanly within 60 s")
        let lastEventId = try await stream.value
        #expect(herald.process.log.contains("event log closed cleanly"))
        let acknowledged = await answered.value

        try await herald.restart()
        #expect(!herald.process.log.contains("did not shut down cleanly"), "\(herald.process.log)")
        var after: [Int64] = []
        for n in 0..<5 { after.append(try await herald.publish("drain", "{\"data\":\"after \(n)\"}")) }
        let lastAfter = String(after.last!)
        let resumed = try await herald.stream("/sse?channel=drain", lastEventId: lastEventId) { $0.last?.id == lastAfter }
        #expect(!resumed.contains { $0.type == "$reset" }, "resume was not exact: \(resumed.map(\.data))")

        let all = (received.events + resumed).compactMap { Int64($0.id) }
        #expect(all == all.sorted() && Set(all).count == all.count, "duplicates or disorder across the restart")
        let missing = Set(acknowledged + after).subtracting(all)
        #expect(missing.isEmpty, "acknowledged but never delivered: \(missing.sorted())")
        let lastAcknowledged = try #require(acknowledged.max(), "no publish was answered before the stop")
        #expect(after.first! > lastAcknowledged && after.first! < 1 << 32, "a clean restart must not skip to a new epoch")
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze"),
                   "systemd-analyze is missing: apt-get install systemd"))
    func unitVerifiesAndIsSandboxed() async throws {
        let dir = try TempDir()
        // verify wants ExecStart's binary to exist: check a copy that runs the one just built.
        let unit = try String(contentsOfFile: repositoryRoot + "/Systemd/herald.service", encoding: .utf8)
        let copy = unit.replacingOccurrences(of: "ExecStart=/usr/bin/herald ", with: "ExecStart=\(heraldBinary) ")
        #expect(copy != unit)
        try copy.write(toFile: dir.file("herald.service"), atomically: true, encoding: .utf8)
        let verify = try await runTool("/usr/bin/systemd-analyze", ["verify", "--man=no", dir.file("herald.service")], in: dir)
        #expect(verify.status == 0 && verify.output.isEmpty, "\(verify.output)")

        let security = try await runTool("/usr/bin/systemd-analyze",
                                         ["security", "--offline=yes", repositoryRoot + "/Systemd/herald.service"], in: dir)
        // "→ Overall exposure level for herald.service: 1.1 OK 🙂"
        let line = security.output.split(separator: "\n").last { $0.contains("Overall exposure level") } ?? ""
        let score = line.split(separator: " ").compactMap { Double($0) }.first ?? 10
        #expect(score <= 1.5, "\(security.output)")

        let check = try await runTool(heraldBinary, ["check-config", repositoryRoot + "/Systemd/herald.yaml"], in: dir)
        #expect(check.status == 0, "\(check.output)")
    }
}

/// What systemd does for `Type=notify`: a datagram socket that Herald sends its state to.
final class NotifySocket: Sendable {
    let fd: Int32
    let path: String

    /// A file path, or `@name` for the abstract namespace.
    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 }
        }
        guard bound else { throw TestFailure("cannot bind \(path): errno \(errno)") }
    }

    /// The next datagram, or nil after `seconds` without one.
    func receive(seconds: Double) -> String? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(seconds * 1000)) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n > 0 ? String(decoding: buffer[..<n], as: UTF8.self) : nil
    }

    deinit { close(fd) }
}

private func canConnect(port: Int) -> Bool {
    guard let fd = connectLoopback(port: port) else { return false }
    close(fd)
    return true
}

private func post(port: Int, _ path: String, _ body: String, seconds: Int64 = 10) async throws -> (status: Int, body: String) {
    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
    request.method = .POST
    request.headers.add(name: "Content-Type", value: "application/json")
    request.body = .bytes(ByteBuffer(string: body))
    let response = try await testHTTPClient.execute(request, timeout: .seconds(seconds))
    return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 20)))
}

/// Runs a tool to its end; the output is stdout and stderr together.
private func runTool(_ executable: String, _ arguments: [String], in dir: TempDir) async throws -> (status: Int32, output: String) {
    let child = try ChildProcess(executable: executable, arguments: arguments, logPath: dir.file("tool-\(UUID().uuidString).out"))
    let deadline = Date().addingTimeInterval(60)
    while child.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
    return (await child.stop(), child.log)
}

/// `make install` (DESIGN §9): the layout under DESTDIR with PREFIX written into the unit and the
/// configuration, a binary that runs there, and a configuration that a second install keeps.
/// HERALD_BIN installs the binary just built, so the test does not wait for a release build.
@Suite struct InstallTests {
    @Test func makeInstallLaysOutTheFilesAndNeverOverwritesTheConfiguration() async throws {
        let dir = try TempDir()
        let stage = dir.file("stage")
        let install = ["-C", repositoryRoot, "--no-print-directory", "install",
                       "DESTDIR=\(stage)", "PREFIX=/opt/herald", "HERALD_BIN=\(heraldBinary)"]
        let first = try await runTool("/usr/bin/make", install, in: dir)
        #expect(first.status == 0, "\(first.output)")

        let unit = try String(contentsOfFile: stage + "/lib/systemd/system/herald.service", encoding: .utf8)
        #expect(unit.contains("ExecStart=/opt/herald/bin/herald serve"), "\(unit)")
        let config = try String(contentsOfFile: stage + "/etc/herald/herald.yaml", encoding: .utf8)
        #expect(config.contains("/opt/herald/share/herald/web"), "the web root keeps /usr: \(config)")
        #expect(FileManager.default.fileExists(atPath: stage + "/opt/herald/share/herald/web/index.html"))
        #expect(FileManager.default.isExecutableFile(atPath: stage + "/opt/herald/bin/herald"))
        let mode = try FileManager.default.attributesOfItem(atPath: stage + "/etc/herald/herald.yaml")[.posixPermissions] as? Int
        #expect(mode == 0o644)
        // The installed binary accepts the installed configuration (its web root is checked too,
        // so point that at the staged copy).
        let staged = config.replacingOccurrences(of: "/opt/herald/share", with: stage + "/opt/herald/share")
        try staged.write(toFile: dir.file("staged.yaml"), atomically: true, encoding: .utf8)
        let check = try await runTool(stage + "/opt/herald/bin/herald", ["check-config", dir.file("staged.yaml")], in: dir)
        #expect(check.status == 0, "\(check.output)")

        // A local edit survives the next install.
        try (config + "\n# edited on the gateway\n").write(toFile: stage + "/etc/herald/herald.yaml", atomically: true, encoding: .utf8)
        let second = try await runTool("/usr/bin/make", install, in: dir)
        #expect(second.status == 0 && second.output.contains("keeping the existing"), "\(second.output)")
        let kept = try String(contentsOfFile: stage + "/etc/herald/herald.yaml", encoding: .utf8)
        #expect(kept.hasSuffix("# edited on the gateway\n"))
    }
}
