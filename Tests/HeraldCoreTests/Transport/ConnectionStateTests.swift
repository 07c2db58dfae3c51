@testable import HeraldCore
import Testing

@Suite struct ConnectionStateTests {
    private func run(_ events: [ConnectionState.Event], from start: ConnectionState = .serving) throws -> ConnectionState {
        var state = start
        for event in events { try state.apply(event) }
        return state
    }

    @Test func aStreamOnADirectSocketWaitsForTheResponseStartThenSendsStraight() throws {
        var state = try run([.handOver(direct: true)])
        #expect(state == .streaming(.throughNIO(flush: 1)))
        #expect(!state.sendsDirect, "the response's head and history may still wait in SwiftNIO")
        try state.apply(.nioDrained(flush: 1))
        #expect(state.sendsDirect)
    }

    @Test func onlyTheLatestFlushThroughNIOReturnsTheLaneToTheSocket() throws {
        var state = try run([.handOver(direct: true), .nioDrained(flush: 1), .bytesHeldByNIO, .bytesHeldByNIO])
        #expect(state == .streaming(.throughNIO(flush: 2)))
        try state.apply(.nioDrained(flush: 1))
        #expect(state == .streaming(.throughNIO(flush: 2)), "an earlier flush leaves later bytes in SwiftNIO")
        try state.apply(.nioDrained(flush: 2))
        #expect(state == .streaming(.direct))
    }

    @Test func aFailedSendKeepsTheStreamOnSwiftNIOForGood() throws {
        let state = try run([.handOver(direct: true), .nioDrained(flush: 1), .socketFailed, .bytesHeldByNIO, .nioDrained(flush: 1)])
        #expect(state == .streaming(.nioOnly))
    }

    @Test func aStreamEndsThenTheConnectionCloses() throws {
        var state = try run([.handOver(direct: false), .sideClosed])
        #expect(state == .streaming(.nioOnly), "a side closing leaves the ending to the stream")
        try state.apply(.streamEnded)
        #expect(state == .finishing && state.isTaken)
        try state.apply(.closed)
        #expect(state == .closed && !state.isTaken)
    }

    @Test func aHalfClosedOrClosedConnectionCannotBeTaken() {
        #expect(throws: ConnectionState.IllegalMove.self) { try run([.sideClosed, .handOver(direct: true)]) }
        #expect(throws: ConnectionState.IllegalMove.self) { try run([.closed, .handOver(direct: true)]) }
        #expect(throws: ConnectionState.IllegalMove.self) { try run([.handOver(direct: true), .handOver(direct: true)]) }
    }

    @Test func aConnectionNobodyStreamsOnHasNoLaneToChange() {
        for event in [ConnectionState.Event.bytesHeldByNIO, .socketFailed, .streamEnded] {
            #expect(throws: ConnectionState.IllegalMove.self, "\(event)") { try run([event]) }
        }
        #expect(throws: ConnectionState.IllegalMove.self) { try run([.handOver(direct: false), .streamEnded, .handOver(direct: false)]) }
    }

    @Test func anIllegalMoveLeavesTheStateAsItWas() {
        var state = ConnectionState.halfClosed
        do {
            try state.apply(.handOver(direct: true))
            Issue.record("a half-closed connection was taken")
        } catch {
            #expect(error == ConnectionState.IllegalMove(from: .halfClosed, event: .handOver(direct: true)))
        }
        #expect(state == .halfClosed)
    }
}
