import Foundation
import HeraldCore
import Testing

@Suite struct SlowSubscriberTests {
    @Test func aClientThatStopsReadingIsCutOffWhileOthersGetEverything() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir, config: "server: { subscriber_queue: 16 }")
        let stalled = try RawClient(port: herald.port, request: "GET /sse?channel=bulk&replay=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        try await Task.sleep(for: .milliseconds(200))

        let batches = 40, perBatch = 50
        let reader = Task {
            try await herald.stream("/sse?channel=bulk&replay=0") { $0.count >= batches * perBatch }
        }
        try await Task.sleep(for: .milliseconds(200))
        let filler = String(repeating: "x", count: 4000)
        for batch in 0..<batches {
            let events = (0..<perBatch).map { "{\"channel\":\"bulk\",\"data\":{\"n\":\(batch * perBatch + $0),\"fill\":\"\(filler)\"}}" }
            let answer = try await herald.post("/api/events", "[" + events.joined(separator: ",") + "]")
            #expect(answer.status == 200)
        }
        let received = try await reader.value
        #expect(received.count == batches * perBatch)
        #expect(received.map(\.id) == received.map(\.id).sorted { Int($0)! < Int($1)! })

        #expect(stalled.readsToEnd(within: 15), "the stalled client should have been disconnected")
        let metrics = try await herald.get("/metrics").body
        #expect(metrics.contains("herald_subscribers_dropped_total 1"), "\(metrics)")
    }
}
