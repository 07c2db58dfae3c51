import Foundation
import HeraldCore
import Testing

@Suite struct SlowSubscriberTests {
    @Test func aClientThatStopsReadingIsCutOffWhileOthersGetEverything() async throws {
        let dir = try TempDir()
        // A queue of 256 events: a reader that keeps up never overflows; one that stops does.
        let herald = try await HeraldInstance(dir: dir, config: "server: { subscriber_queue: 256 }")
        let stalled = try RawClient(port: herald.port, request: "GET /sse?channel=bulk&replay=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        try await Task.sleep(for: .milliseconds(200))

        let batches = 40, perBatch = 50, total = batches * perBatch
        // The healthy reader behaves like EventSource: if it is ever cut off (a loaded machine can
        // make it fall behind too), it resumes by id; what matters is that it gets everything once.
        let reader = Task { () throws -> [Int64] in
            var client = SSEClient(url: herald.baseURL + "/sse?channel=bulk&replay=0", httpClient: testHTTPClient)
            var ids: [Int64] = []
            struct Done: Error {}
            let deadline = Date().addingTimeInterval(60)
            while ids.count < total && Date() < deadline {
                do {
                    _ = try await client.connectOnce { event in
                        guard event.type == "bulk", let id = Int64(event.id) else { return }
                        ids.append(id)
                        if ids.count >= total { throw Done() }
                    }
                } catch is Done {
                    break
                } catch {
                    // Cut off or timed out: resume from the last id, like any client.
                }
                if client.lastEventId == nil { client.lastEventId = "0" }
            }
            return ids
        }
        try await Task.sleep(for: .milliseconds(200))
        let filler = String(repeating: "x", count: 4000)
        for batch in 0..<batches {
            let events = (0..<perBatch).map { "{\"channel\":\"bulk\",\"data\":{\"n\":\(batch * perBatch + $0),\"fill\":\"\(filler)\"}}" }
            let answer = try await herald.post("/api/events", "[" + events.joined(separator: ",") + "]")
            #expect(answer.status == 200)
        }
        let received = try await reader.value
        #expect(received.count == total)
        #expect(received == received.sorted() && Set(received).count == received.count, "once each, in order")

        #expect(await stalled.readsToEnd(within: 30), "the stalled client should have been disconnected")
        let metrics = try await herald.get("/metrics").body
        let dropped = metrics.split(separator: "\n").first { $0.hasPrefix("herald_subscribers_dropped_total ") }
            .flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
        #expect(dropped >= 1, "\(metrics)")
    }

    /// 64 streams asking for `replay=100000` that never read once held 19.5 MB each: replay is
    /// paged as the socket drains, and a stream whose client reads nothing is cut off.
    @Test func aReplayThatIsNotReadHoldsLittleMemoryAndIsCutOff() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir, config: "server: { stall_timeout_seconds: 2 }")
        let batch = "[" + (0..<10_000).map { #"{"channel":"history","data":{"n":\#($0),"pad":"0123456789abcdef0123456789abcdef"}}"# }
            .joined(separator: ",") + "]"
        for _ in 0..<10 { #expect(try await herald.post("/api/events", batch).status == 200) }
        let pid = herald.process.pid
        let rssBefore = try #require(ProcFile.statusKB("VmRSS:", process: "\(pid)"))

        let streams = try (0..<32).map { _ in
            try RawClient(port: herald.port, request: "GET /sse?channel=history&replay=100000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        }
        var peak = rssBefore
        try await eventually("the 32 streams that read nothing to be cut off (herald_subscribers_dropped_total 32)", seconds: 60) {
            peak = max(peak, ProcFile.statusKB("VmRSS:", process: "\(pid)") ?? 0)
            return try await herald.get("/metrics").body.contains("herald_subscribers_dropped_total 32")
        }
        // Each stream's history is about 9 MB; 32 held whole would be 290 MB over the start.
        #expect(peak - rssBefore < 64 * 1024, "peak RSS \(peak) kB against \(rssBefore) kB before the streams")
        _ = streams
    }
}
