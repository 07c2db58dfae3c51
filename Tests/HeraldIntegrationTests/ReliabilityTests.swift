import AsyncHTTPClient
import Foundation
import HeraldCore
import NIOCore
import Testing

/// Faults: kills, a frozen broker, power loss, bad database files, connection churn (issue 9, DESIGN §5, §7).
@Suite(.serialized) struct ReliabilityTests {
    static func startWithBroker(_ dir: TempDir) async throws -> (MosquittoBroker, HeraldInstance) {
        let broker = try await MosquittoBroker(dir: dir)
        let herald = try await HeraldInstance(dir: dir, config: "mqtt: { client_id: herald-reliability, keepalive_seconds: 5 }\n",
                                              mqttPort: broker.port)
        try await eventually("herald to connect to the broker") { try await herald.get("/readyz").status == 200 }
        return (broker, herald)
    }

    /// One POST, never sent twice (`publishOnce(to:)`), with a short deadline for the crash loop.
    static func publishOnce(_ herald: HeraldInstance, _ channel: String, _ json: String) async throws -> Int64 {
        try await HeraldIntegrationTests.publishOnce(to: herald.baseURL, channel, json, timeout: .seconds(2))
    }

    // MARK: Crash loop

    /// HTTP publishes, QoS 1 MQTT messages and a resuming subscriber, while Herald is SIGKILLed three
    /// times at random moments.
    @Test func threeKillsLoseAndDoubleNothing() async throws {
        let dir = try TempDir()
        let (broker, herald) = try await Self.startWithBroker(dir)
        let stopSubscriber = Flag()
        let acknowledged = Answered()            // id -> data of every answered HTTP publish
        let mqttBatches = 25, perBatch = 20

        // The subscriber resumes by Last-Event-ID through every kill.
        let subscriber = Task { () -> (ids: [Int64], resets: [(after: String?, data: String)]) in
            var client = SSEClient(url: herald.baseURL + "/sse?channel=loop&channel=sensors&replay=0", httpClient: testHTTPClient)
            client.lastEventId = "0"
            var ids: [Int64] = []
            var resets: [(after: String?, data: String)] = []
            let deadline = Date().addingTimeInterval(60)
            struct Stop: Error {}
            while !stopSubscriber.isSet && Date() < deadline {
                let resumedFrom = client.lastEventId
                do {
                    _ = try await client.connectOnce(timeout: .seconds(30)) { event in
                        if event.type == "$reset" { resets.append((resumedFrom, event.data)) }
                        else if event.type == "loop" || event.type == "sensors" { ids.append(try Envelope(json: event.data).id) }
                        if stopSubscriber.isSet { throw Stop() }
                    }
                } catch {}
                try? await Task.sleep(for: .milliseconds(50))
            }
            return (ids, resets)
        }

        let http = Task {
            for n in 0..<100_000 {
                if stopSubscriber.isSet { return }
                let data = "{\"n\":\(n)}"
                if let id = try? await Self.publishOnce(herald, "loop", "{\"data\":\(data)}") { acknowledged.add(id, data) }
                else { try? await Task.sleep(for: .milliseconds(20)) }
            }
        }
        let mqtt = Task { () throws in
            for batch in 0..<mqttBatches {
                try await broker.publish("sensors/loop/m", lines: (0..<perBatch).map { "{\"m\":\(batch * perBatch + $0)}" })
                try await Task.sleep(for: .milliseconds(Int.random(in: 20...120)))
            }
        }

        for kill in 0..<3 {
            try await Task.sleep(for: .milliseconds(Int.random(in: 300...1500)))
            let before = acknowledged.count
            await herald.process.stop(SIGKILL)
            try await herald.restart()
            try await eventually("publishes answered again after kill \(kill)") { acknowledged.count > before }
        }
        try await mqtt.value
        let total = mqttBatches * perBatch
        try await eventually("every MQTT message stored", seconds: 30) {
            try await herald.allEvents(channel: "sensors").count >= total
        }
        stopSubscriber.set()
        await http.value
        try await Task.sleep(for: .milliseconds(500))

        let loop = try await herald.allEvents(channel: "loop")
        let sensors = try await herald.allEvents(channel: "sensors")
        let stored = Dictionary(loop.map { ($0.id, $0.data) }, uniquingKeysWith: { a, _ in a })
        for (id, data) in acknowledged.all {
            #expect(stored[id] == data, "acknowledged id \(id) must hold \(data), holds \(stored[id] ?? "nothing")")
        }
        let answers = acknowledged.all
        var doubled: [String] = []
        for (data, copies) in Dictionary(grouping: loop, by: \.data) where copies.count > 1 {
            let answeredId: Int64? = answers.first(where: { $0.value == data })?.key
            doubled.append("\(data) at ids \(copies.map(\.id)), answered id \(answeredId.map(String.init) ?? "none")")
        }
        #expect(doubled.isEmpty, "HTTP publishes stored twice: \(doubled)")
        let mqttData = sensors.map(\.data)
        let expected = (0..<total).map { "{\"m\":\($0)}" }
        #expect(Set(mqttData) == Set(expected), "missing MQTT: \(Set(expected).subtracting(mqttData).count)")
        #expect(mqttData.count == total, "MQTT stored \(mqttData.count) times for \(total) messages")
        let allIds = (loop + sensors).map(\.id).sorted()
        #expect(Set(allIds).count == allIds.count, "ids are unique")

        // The subscriber has had its moment to drain (above); stop it. It notices the flag only on
        // an event, and when the last publish came before the flag no event comes again (the
        // keepalives hold the read timeout off): cancelling ends its wait.
        subscriber.cancel()
        let result = await subscriber.value
        #expect(result.ids == result.ids.sorted() && Set(result.ids).count == result.ids.count,
                "the subscriber saw ids out of order or twice")
        // Events after a `lost` reset's resume point must all arrive; without a reset, all of them.
        let resumePoint = result.resets.compactMap { $0.after.flatMap(Int64.init) }.max() ?? 0
        for reset in result.resets { #expect(reset.data.contains("\"lost\""), "unexpected reset \(reset.data)") }
        let missing = Set(allIds.filter { $0 > resumePoint }).subtracting(result.ids)
        let lastReceived = result.ids.last ?? 0
        #expect(missing.filter { $0 <= lastReceived }.isEmpty, "the subscriber skipped \(missing.filter { $0 <= lastReceived }.sorted().prefix(20))")
        #expect(missing.count < 50, "the subscriber fell far behind: \(missing.count) missing at the end")
    }

    // MARK: Frozen broker

    /// A broker that stops answering (SIGSTOP) is noticed through the MQTT keepalive.
    @Test func aFrozenBrokerIsNoticedWithinTheKeepaliveAndCaughtUpAfter() async throws {
        let dir = try TempDir()
        let (broker, herald) = try await Self.startWithBroker(dir)
        try await broker.publish("sensors/frozen/x", lines: (0..<5).map { "{\"n\":\($0)}" })
        try await eventually("first 5") { try await herald.allEvents(channel: "sensors").count == 5 }

        let brokerPid = broker.process.pid
        kill(brokerPid, SIGSTOP)
        let frozenAt = Date()
        var thawed = false
        defer { if !thawed { kill(brokerPid, SIGCONT) } }
        try await eventually("readyz 503 with the broker frozen", seconds: 30) { try await herald.get("/readyz").status == 503 }
        let noticed = Date().timeIntervalSince(frozenAt)
        print("frozen broker noticed after \(String(format: "%.1f", noticed)) s")
        #expect(noticed <= 7.5, "noticed after \(String(format: "%.1f", noticed)) s; keepalive 5 s, limit 1.5x")
        try await eventually("$status disconnected") {
            try await herald.allEvents(channel: "%24status").map(\.type).last == "disconnected"
        }
        // HTTP keeps working: a publish is answered and reaches a stream.
        let id = try await herald.publish("manual", "{\"data\":\"while frozen\"}")
        let events = try await herald.stream("/sse?channel=manual", lastEventId: "\(id - 1)") { $0.count >= 1 }
        #expect(events.first?.id == "\(id)")

        kill(brokerPid, SIGCONT)
        thawed = true
        let thawedAt = Date()
        try await eventually("readyz 200 after SIGCONT", seconds: 30) { try await herald.get("/readyz").status == 200 }
        let recovered = Date().timeIntervalSince(thawedAt)
        try await broker.publish("sensors/frozen/x", lines: (5..<25).map { "{\"n\":\($0)}" })
        try await eventually("all 25") { try await herald.allEvents(channel: "sensors").count >= 25 }
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await herald.allEvents(channel: "sensors").map(\.data) == (0..<25).map { "{\"n\":\($0)}" })
        let status = try await herald.allEvents(channel: "%24status").map(\.type)
        #expect(status.suffix(2) == ["disconnected", "connected"], "\(status)")
        #expect(recovered < 15, "reconnected \(recovered) s after SIGCONT")
    }

    // MARK: Connection churn

    /// 2,000 SSE connects and disconnects leave memory and descriptors where they were.
    @Test func twoThousandStreamConnectsLeaveNoLeak() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir)
        let pid = herald.process.pid
        let port = herald.port
        let request = "GET /sse?channel=churn&replay=0 HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
        let churn = { (count: Int) async -> Int in
            await withTaskGroup(of: Int.self) { group in
                for worker in 0..<4 {
                    // Each worker's blocking sockets on a thread of its own, off the cooperative pool.
                    group.addTask {
                        await offThePool {
                            var ok = 0
                            for n in 0..<(count / 4) {
                                // Every third client leaves before the answer, the rest after the first bytes.
                                if touchAndClose(port: port, request: request, marker: (n + worker) % 3 == 0 ? "" : "retry:") { ok += 1 }
                            }
                            return ok
                        }
                    }
                }
                return await group.reduce(0, +)
            }
        }
        _ = try await herald.publish("churn", "{\"data\":0}")
        _ = await churn(200)  // warm-up: pools and caches reach their size
        try await Task.sleep(for: .milliseconds(500))
        let baseRSS = try #require(ProcProbe.rssKB(pid)), baseFDs = try #require(ProcProbe.fdCount(pid))

        let ok = await churn(2_000)
        #expect(ok == 2_000, "every connect got its answer (\(ok))")
        #expect(herald.process.isRunning)

        var rss = 0, fds = 0
        do {
            try await eventually("descriptors and memory back near the baseline", seconds: 30) {
                rss = ProcProbe.rssKB(pid) ?? .max
                fds = ProcProbe.fdCount(pid) ?? .max
                return abs(fds - baseFDs) <= 4 && rss <= baseRSS + max(8_192, baseRSS / 4)
            }
        } catch {}
        print("churn: RSS \(baseRSS) -> \(rss) kB, fds \(baseFDs) -> \(fds)")
        #expect(abs(fds - baseFDs) <= 4, "fds \(baseFDs) before, \(fds) after")
        #expect(rss <= baseRSS + max(8_192, baseRSS / 4), "RSS \(baseRSS) kB before, \(rss) kB after")
        // Still serving streams.
        let id = try await herald.publish("churn", "{\"data\":1}")
        let events = try await herald.stream("/sse?channel=churn", lastEventId: "\(id - 1)") { $0.count >= 1 }
        #expect(events.first?.id == "\(id)")
    }

    // MARK: Full disk

    /// The database on a tiny tmpfs that fills up: publishes fail with an error, Herald stays up and
    /// keeps every answered event, and works again once there is space. Needs root for `mount`.
    @Test(.enabled(if: getuid() == 0, "mount needs root"))
    func aFullDiskFailsPublishesCleanlyAndRecovers() async throws {
        let dir = try TempDir()
        let mounted = try await runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", dir.path])
        guard mounted.status == 0 else {
            print("skipping the full-disk test: mount failed: \(mounted.output)")
            return
        }
        let herald = try await HeraldInstance(dir: dir)
        defer {
            if herald.process.isRunning { kill(herald.process.pid, SIGKILL); herald.process.process.waitUntilExit() }
            let umount = Process()
            umount.executableURL = URL(fileURLWithPath: "/bin/umount")
            umount.arguments = ["-l", dir.path]
            try? umount.run()
            umount.waitUntilExit()
        }
        let acknowledged = Answered()
        for n in 0..<5 { acknowledged.add(try await herald.publish("disk", "{\"data\":\"early\(n)\"}"), "\"early\(n)\"") }
        let free = try #require(try FileManager.default.attributesOfFileSystem(forPath: dir.path)[.systemFreeSize] as? Int)
        try Data(count: max(0, free - 256 * 1024)).write(to: URL(fileURLWithPath: dir.file("filler")))

        let blob = String(repeating: "x", count: 4096)
        var failure: (status: Int, body: String)?
        for n in 0..<500 {
            let answer = try await herald.post("/api/channels/disk/events", "{\"data\":\"\(n)-\(blob)\"}")
            if answer.status == 200, let id = Envelope.int(answer.body, "id") { acknowledged.add(id, "\"\(n)-\(blob)\"") }
            else { failure = answer; break }
        }
        let full = try #require(failure, "the disk never filled up")
        #expect((500...599).contains(full.status), "a full disk is a server error, got \(full.status): \(full.body)")
        #expect(herald.process.isRunning, "Herald survives a full disk; log:\n\(herald.process.log)")
        #expect(try await herald.get("/healthz").status == 200)
        let readyz = try await herald.get("/readyz")
        print("full disk: publish answered \(full.status) \(full.body.prefix(200)); readyz \(readyz.status) \(readyz.body.prefix(200))")
        #expect(try await herald.allEvents(channel: "disk").count == acknowledged.count, "reads still work")

        try FileManager.default.removeItem(atPath: dir.file("filler"))
        try await eventually("publishing works again once there is space", seconds: 30) {
            let answer = try await herald.post("/api/channels/disk/events", "{\"data\":\"after\"}")
            if answer.status == 200, let id = Envelope.int(answer.body, "id") { acknowledged.add(id, "\"after\""); return true }
            return false
        }
        try await eventually("readyz 200 again") { try await herald.get("/readyz").status == 200 }
        #expect(await herald.process.stop(SIGTERM) == 0, "a clean stop after the disk was full")
        try await herald.restart()
        let stored = Dictionary(uniqueKeysWithValues: try await herald.allEvents(channel: "disk").map { ($0.id, $0.data) })
        for (id, data) in acknowledged.all {
            #expect(stored[id] == data, "answered id \(id) must survive the full disk and a restart")
        }
        #expect(stored.count == acknowledged.count, "nothing unanswered was stored (\(stored.count) vs \(acknowledged.count))")
    }

    // MARK: Power loss

    /// A power loss under `synchronous=NORMAL` can roll back commits whose ids reached clients; without
    /// the clean-shutdown mark the next start moves ids to a new epoch (DESIGN §7).
    @Test func afterARolledBackDatabaseNoIdIsReusedAndResumingFromALostIdIsReported() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir)
        var seen: [Int64] = []
        for n in 0..<10 { seen.append(try await herald.publish("power", "{\"data\":\(n)}")) }
        #expect(await herald.process.stop(SIGTERM) == 0)
        try copyDatabaseFiles(from: herald.database, to: dir.file("snapshot.sqlite"))

        try await herald.restart()
        var rolledBack: [Int64] = []
        for n in 10..<20 { rolledBack.append(try await herald.publish("power", "{\"data\":\(n)}")) }
        seen += rolledBack
        await herald.process.stop(SIGKILL)

        // The disk comes back as it was at the snapshot, but the process was running: no clean mark.
        try copyDatabaseFiles(from: dir.file("snapshot.sqlite"), to: herald.database)
        #expect(try await sqlite3(herald.database, "SELECT value FROM meta WHERE name = 'state'") == "clean\n")
        _ = try await sqlite3(herald.database, "UPDATE meta SET value = 'running' WHERE name = 'state'")
        try await herald.restart()

        let stored = try await herald.allEvents(channel: "power")
        #expect(stored.map(\.data) == (0..<10).map { "\($0)" }, "the snapshot's events survive")
        for lost in [rolledBack.first!, rolledBack.last!] {
            let events = try await herald.stream("/sse?channel=power", lastEventId: "\(lost)") { $0.count >= 1 }
            #expect(events.first?.type == "$reset", "resuming from rolled-back id \(lost)")
            #expect(events.first?.data.contains("\"reason\":\"lost\"") == true, "\(events.first?.data ?? "no event")")
        }
        var fresh: [Int64] = []
        for n in 0..<5 { fresh.append(try await herald.publish("power", "{\"data\":\"new\(n)\"}")) }
        let maxSeen = seen.max()!
        #expect(fresh.allSatisfy { $0 > maxSeen }, "new ids \(fresh) must be above every id handed out before (\(maxSeen))")
        #expect(fresh == fresh.sorted() && Set(fresh).count == fresh.count)
        // Still lost after new events arrived; the last id before the loss resumes exactly.
        let after = try await herald.stream("/sse?channel=power", lastEventId: "\(rolledBack[3])") { $0.count >= 1 }
        #expect(after.first?.type == "$reset" && after.first?.data.contains("\"lost\"") == true, "\(after.first?.data ?? "")")
        let exact = try await herald.stream("/sse?channel=power", lastEventId: "\(seen[9])") { $0.count >= 5 }
        #expect(exact.map(\.id) == fresh.map { "\($0)" }, "resume from the last surviving id is exact")
        // A second clean restart does not start yet another epoch.
        try await herald.restart()
        let next = try await herald.publish("power", "{\"data\":\"later\"}")
        #expect(next == fresh.last! + 1, "a clean restart continues the sequence (got \(next) after \(fresh.last!))")
    }

    // MARK: Bad database files

    enum BadFile: String, CaseIterable, Sendable { case readOnly, corrupt, futureSchema }

    /// Herald refuses to start on a database it cannot use, says why in one line, exits (no crash
    /// loop), and leaves the file byte for byte as it was.
    @Test(arguments: BadFile.allCases)
    func aDatabaseHeraldCannotUseStopsItWithAClearErrorAndIsLeftUntouched(kind: BadFile) async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir)
        for n in 0..<3 { _ = try await herald.publish("keep", "{\"data\":\(n)}") }
        #expect(await herald.process.stop(SIGTERM) == 0)
        let db = herald.database
        let manager = FileManager.default
        var executable = heraldBinary
        var arguments = herald.arguments
        let expectedError: String
        switch kind {
        case .readOnly:
            // Herald makes its files 0600; an operator who makes them read-only makes them 0444.
            for file in [db, db + "-wal", db + "-shm"] where manager.fileExists(atPath: file) {
                try manager.setAttributes([.posixPermissions: 0o444], ofItemAtPath: file)
            }
            try manager.setAttributes([.posixPermissions: 0o555], ofItemAtPath: dir.path)
            expectedError = "readonly"
            // Root ignores file modes; run Herald as nobody so 0444 means what it says.
            if getuid() == 0 {
                executable = "/usr/bin/setpriv"
                arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", heraldBinary] + arguments
            }
        case .corrupt:
            for suffix in ["-wal", "-shm"] { try? manager.removeItem(atPath: db + suffix) }
            try Data((0..<65536).map { _ in UInt8.random(in: 0...255) }).write(to: URL(fileURLWithPath: db))
            expectedError = "not a database"
        case .futureSchema:
            _ = try await sqlite3(db, "INSERT INTO grdb_migrations VALUES ('v99-future')")
            expectedError = "v99-future"
        }
        defer {
            try? manager.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.path)
            try? manager.setAttributes([.posixPermissions: 0o644], ofItemAtPath: db)
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: db))
        let files = { try manager.contentsOfDirectory(atPath: dir.path).filter { $0 != "herald-bad.log" }.sorted() }
        let filesBefore = try files()

        let process = try ChildProcess(executable: executable, arguments: arguments, logPath: dir.file("herald-bad.log"))
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        let exited = !process.isRunning
        if !exited { await process.stop(SIGTERM) }
        let log = process.log
        #expect(exited, "Herald must refuse to start on a \(kind) database; it kept running. Log:\n\(log)")
        if exited {
            #expect(process.terminationReason == .exit, "it exits, it does not crash")
            #expect(process.process.terminationStatus != 0, "exit status")
        }
        let errorLines = log.split(separator: "\n").filter { $0.localizedCaseInsensitiveContains("error") }
        #expect(errorLines.contains { $0.localizedCaseInsensitiveContains(expectedError) },
                "an error line naming the problem (\(expectedError)); log:\n\(log)")
        #expect(!log.contains("Fatal error") && !log.contains("Stack dump"), "no crash trace:\n\(log)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: db)) == before, "the database file must be unchanged")
        #expect(try files() == filesBefore, "no files created next to it")
    }
}
