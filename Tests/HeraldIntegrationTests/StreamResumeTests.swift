import Foundation
import HeraldCore
import Testing

/// Streams against a real Herald process over real HTTP (DESIGN §3).
@Suite(.serialized) struct StreamResumeTests {
    @Test func concurrentPublishersAndAResumingSubscriberSeeEverythingOnceInOrder() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir)
        let perPublisher = 300
        let total = 4 * perPublisher

        // The subscriber drops the connection after a random number of events and resumes by id.
        let subscriber = Task { () throws -> [Int64] in
            var client = SSEClient(url: herald.baseURL + "/sse?channel=load&replay=0", httpClient: testHTTPClient)
            var ids: [Int64] = []
            struct Drop: Error {}
            struct Done: Error {}
            var drops = 0
            let deadline = Date().addingTimeInterval(60)
            while ids.count < total && Date() < deadline {
                let dropAfter = Int.random(in: 1...150)
                var seen = 0
                do {
                    _ = try await client.connectOnce { event in
                        guard event.type == "load" else { return }
                        ids.append(try Envelope(json: event.data).id)
                        seen += 1
                        if ids.count >= total { throw Done() }
                        if seen >= dropAfter { throw Drop() }
                    }
                } catch is Drop {
                    drops += 1
                } catch is Done {
                    break
                } catch {
                    // A read timeout: reconnect and resume like any client would.
                }
                if client.lastEventId == nil { client.lastEventId = "0" }
            }
            #expect(drops > 3, "the subscriber should have reconnected several times")
            return ids
        }
        try await Task.sleep(for: .milliseconds(300))

        let published = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for publisher in 0..<4 {
                group.addTask {
                    var ids: [Int64] = []
                    for n in 0..<perPublisher {
                        ids.append(try await herald.publish("load", "{\"data\":{\"publisher\":\(publisher),\"n\":\(n)}}"))
                    }
                    return ids
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let received = try await subscriber.value
        #expect(Set(published).count == total)
        let missing = Set(published).subtracting(received).sorted()
        #expect(missing.isEmpty, "never delivered: \(missing)")
        #expect(received.count == Set(received).count, "duplicates: \(received.count - Set(received).count)")
        #expect(received == received.sorted(), "delivered out of id order")
    }

    @Test func hostilePayloadsComeBackByteExactAsOneEventEach() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir)
        let payloads = ["a\r\nb", "line\nbreak", "\n\ndata: x", "id: 9", "nul\u{0}here", "ünïcödé ✓ 🚀", "\r", "tab\t", "\u{2028}"]
        var ids: [Int64] = []
        for payload in payloads {
            ids.append(try await herald.publish("weird", "{\"data\":\(JSONText.quoted(payload))}"))
        }
        let events = try await herald.stream("/sse?channel=weird", lastEventId: "0") { $0.count >= payloads.count }
        #expect(events.count == payloads.count)
        for (event, (id, payload)) in zip(events, zip(ids, payloads)) {
            let envelope = try Envelope(json: event.data)
            #expect(event.id == String(id))
            #expect(event.type == "weird")
            let data = try JSONText(validating: Array(envelope.data.utf8)).stringValue
            #expect(data == payload, "payload \(String(reflecting: payload)) came back as \(String(reflecting: data))")
        }
    }

    @Test func unusableLastEventIdsStartWithResetAndNeverFail() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir, config: """
            store:
              retention: { max_events: 5, interval_seconds: 0.2 }
            """)
        var last: Int64 = 0
        for n in 0..<20 { last = try await herald.publish("pruned", "{\"data\":\(n)}") }
        try await eventually("retention to prune") { try await herald.allEvents(channel: "pruned").count == 5 }

        for (header, reason) in [("abc", "invalid"), ("-1", "invalid"), ("", "invalid"),
                                 (String(repeating: "9", count: 30), "invalid"), ("\(last + 1000)", "future"), ("1", "evicted")] {
            let events = try await herald.stream("/sse?channel=pruned", lastEventId: header) { $0.count >= 2 }
            let first = try #require(events.first, "no events for Last-Event-ID \(String(reflecting: header))")
            #expect(first.type == "$reset", "for \(String(reflecting: header))")
            #expect(first.data.contains("\"reason\":\"\(reason)\""), "for \(String(reflecting: header)): \(first.data)")
            #expect(events.dropFirst().allSatisfy { $0.type == "pruned" })
            // Ids on the wire only grow: a `$reset` that moves the client's id moves it to where
            // the stream continues after, so a client that drops ids at or below its last keeps all.
            let ids = events.compactMap { Int64($0.id) }
            #expect(ids == ids.sorted() && Set(ids).count == ids.count, "for \(String(reflecting: header)): \(ids)")
            if reason != "evicted" { #expect(!first.id.isEmpty, "a \(reason) reset moves the client's id") }
        }
        // The query parameter is the fallback for the header.
        let viaQuery = try await herald.stream("/sse?channel=pruned&lastEventId=abc") { $0.count >= 1 }
        #expect(viaQuery.first?.type == "$reset")
        // An exact resume has no reset and continues right after the id.
        let exact = try await herald.stream("/sse?channel=pruned", lastEventId: "\(last - 2)") { $0.count >= 2 }
        #expect(exact.map(\.id) == ["\(last - 1)", "\(last)"])
    }

    @Test func killedDuringABurstKeepsEveryAnsweredPublish() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir)
        let answered = Answered()
        let burst = Task {
            await withTaskGroup(of: Void.self) { group in
                for publisher in 0..<4 {
                    group.addTask {
                        for n in 0..<100_000 {
                            let body = "{\"data\":\"p\(publisher)-\(n)\"}"
                            guard let id = try? await herald.publish("burst", body) else { return }
                            answered.add(id, "\"p\(publisher)-\(n)\"")
                        }
                    }
                }
            }
        }
        try await eventually("some publishes answered") { answered.count > 200 }
        await herald.process.stop(SIGKILL)
        await burst.value
        let before = answered.all

        try await herald.restart()
        let stored = Dictionary(uniqueKeysWithValues: try await herald.allEvents(channel: "burst").map { ($0.id, $0.data) })
        for (id, data) in before {
            #expect(stored[id] == data, "answered id \(id) must be stored with its data")
        }
        let newID = try await herald.publish("burst", "{\"data\":\"after\"}")
        #expect(newID > (stored.keys.max() ?? 0))
        // Ids between the last durable one and the new epoch may have been handed out: resuming there is `lost`.
        let lost = try await herald.stream("/sse?channel=burst", lastEventId: "\(newID - 1)") { $0.count >= 1 }
        #expect(lost.first?.type == "$reset")
        #expect(lost.first?.data.contains("\"lost\"") == true)
    }
}

final class Answered: @unchecked Sendable {  // guarded by `lock`
    private let lock = NSLock()
    private var items: [Int64: String] = [:]
    func add(_ id: Int64, _ data: String) { lock.withLock { items[id] = data } }
    var count: Int { lock.withLock { items.count } }
    var all: [Int64: String] { lock.withLock { items } }
}
