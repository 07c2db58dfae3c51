import Synchronization
import Testing
@testable import HeraldCore

/// The broker's reports reach `$status` in the order they were made, through the async append.
@Suite struct BrokerStatusWriterTests {
    @Test func reportsAreStoredInOrderOnceTheWriterRuns() async throws {
        let committed = Mutex<[StoredEvent]>([])
        try await withEventLog("status", onCommit: { events in committed.withLock { $0 += events } }) { log in
            let writer = BrokerStatusWriter(log: log, logger: .init(label: "test"), broker: "localhost:1883", node: "gw1:8080")
            writer.report(.connected(sessionPresent: false))
            writer.report(.disconnected(reason: "the broker has not answered for 31 s"))
            writer.report(.answersAgain)
            writer.finish()
            await writer.run()
        }
        let events = committed.withLock { $0 }
        #expect(events.map(\.draft.channel) == ["$status", "$status", "$status"])
        #expect(events.map(\.draft.key) == ["mqtt", "mqtt", "mqtt"])
        #expect(events.map(\.draft.type) == ["connected", "disconnected", "connected"])
        #expect(events.map(\.draft.data) == [
            #"{"state":"connected","broker":"localhost:1883","sessionPresent":false,"node":"gw1:8080"}"#,
            #"{"state":"disconnected","reason":"the broker has not answered for 31 s","node":"gw1:8080"}"#,
            #"{"state":"connected","reason":"the broker answers again","node":"gw1:8080"}"#,
        ])
    }
}
