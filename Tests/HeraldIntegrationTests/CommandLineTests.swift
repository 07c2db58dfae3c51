import Foundation
import HeraldCore
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
}
