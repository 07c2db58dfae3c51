import Foundation
@testable import HeraldCore
import Testing

/// Jobs and alert rules on PostgreSQL with several nodes: the rules run inside the append
/// transaction, under the append lock, so derived state is single.
@Suite(.serialized) struct PostgresDerivedStateTests {
    private var semantics: EventSemantics {
        var semantics = EventSemantics(routes: [], rules: [AlertRule(name: "hot", channel: "sensors", above: 30, clearBelow: 29)])
        semantics.jobChannels = ["jobs"]
        return semantics
    }

    @Test func aRuleRaisesOnceWhenReadingsReachTwoNodesAtTheSameMoment() async throws {
        let server = try await PostgresServer()
        let url = try await server.makeDatabase()
        let nodes = try (0..<2).map { try PostgresNode(url: url, name: "n\($0)", semantics: semantics) }
        for node in nodes { try await node.waitUntilReady() }
        // 20 rounds of a hot reading arriving on both nodes at once, each round then cooled down.
        for round in 0..<20 {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for node in nodes {
                    group.addTask {
                        _ = try await node.log.append([EventDraft(channel: "sensors", key: "greenhouse", data: "{\"value\":\(31 + round % 3)}")])
                    }
                }
                try await group.waitForAll()
            }
            _ = try await nodes[round % 2].log.append([EventDraft(channel: "sensors", key: "greenhouse", data: #"{"value":20}"#)])
        }
        let head = try await nodes[0].log.headId()
        let events = try await nodes[0].log.events(after: 0, matching: EventFilter(selectors: SelectorSet([try Selector("alerts")])), limit: 1000).events
        #expect(events.filter { $0.type == "raised" }.count == 20, "one raise per round, not one per node")
        #expect(events.filter { $0.type == "cleared" }.count == 20)
        #expect(events.map(\.type) == Array(repeating: ["raised", "cleared"], count: 20).flatMap { $0 }, "never raised twice in a row")
        let alerts = try await nodes[1].log.alerts(all: true)
        #expect(alerts.map(\.id) == ["hot:greenhouse"])
        #expect(alerts.first?.state == "cleared")
        for node in nodes {
            try await node.waitUntilHandedOn(through: head)
            #expect(node.handedOnIds == Array(1...head))
        }
        for node in nodes { await node.stop() }
        await server.stop()
    }

    @Test func aJobReportedThroughTwoNodesHasOneStateAndEndsItsStream() async throws {
        let server = try await PostgresServer()
        let url = try await server.makeDatabase()
        let nodes = try (0..<2).map { try PostgresNode(url: url, name: "j\($0)", semantics: semantics) }
        for node in nodes { try await node.waitUntilReady() }
        let start: Int64 = 1_700_000_000_000
        for step in 0...10 {
            let state = step == 10 ? "succeeded" : "running"
            _ = try await nodes[step % 2].log.append([EventDraft(channel: "jobs", type: "progress", key: "backup-1",
                                                                  time: start + Int64(step) * 2_000,
                                                                  data: "{\"state\":\"\(state)\",\"done\":\(step * 10),\"total\":100}")])
        }
        for node in nodes {
            let jobs = try await node.log.jobs()
            #expect(jobs.count == 1)
            #expect(jobs.first?.state == "succeeded")
            #expect(jobs.first?.startedAt == start, "one run, started by the first report, whichever node took it")
            #expect(jobs.first?.rate != nil)
            #expect(try await node.log.terminalEventId(matching: EventFilter(selectors: .all, key: "backup-1")) == 11)
        }
        await #expect(throws: AlertNotFound.self) { try await nodes[0].log.acknowledgeAlert("no-such-alert") }
        for node in nodes { await node.stop() }
        await server.stop()
    }

    @Test func anAcknowledgementOnOneNodeIsSeenOnTheOther() async throws {
        let server = try await PostgresServer()
        let url = try await server.makeDatabase()
        let nodes = try (0..<2).map { try PostgresNode(url: url, name: "a\($0)", semantics: semantics) }
        for node in nodes { try await node.waitUntilReady() }
        let raised = try await nodes[0].log.append([EventDraft(channel: "sensors", key: "attic", data: #"{"value":35}"#)])
        #expect(raised.map(\.type) == ["message", "raised"])
        let ack = try await nodes[1].log.acknowledgeAlert("hot:attic")
        #expect(ack.type == "acked" && ack.id == 3)
        #expect(try await nodes[0].log.alerts().first?.ackedAt != nil)
        for node in nodes { await node.stop() }
        await server.stop()
    }
}
