import Testing
@testable import HeraldCore

/// Which deadline runs at each point of an HTTP/1.1 connection's life, pipelining and early
/// answers included (the cycle is counted, not named).
@Suite struct RequestDeadlinesTests {
    typealias Cycle = RequestDeadlines.Cycle

    @Test func aPlainRequestAndResponse() {
        var cycle = Cycle()
        #expect(cycle.deadline == .head)
        cycle.headReceived()
        #expect(cycle.deadline == .body)
        cycle.bodyEnded()
        #expect(cycle.deadline == nil, "answering is not timed")
        cycle.responseEnded()
        #expect(cycle.deadline == .idle && cycle.betweenRequests)
    }

    /// A 401 written before the body is in: the body's deadline still runs, then the idle one.
    @Test func anAnswerBeforeTheBodyKeepsTheBodyTimed() {
        var cycle = Cycle()
        cycle.headReceived()
        cycle.responseEnded()
        #expect(cycle.deadline == .body)
        cycle.bodyEnded()
        #expect(cycle.deadline == .idle)
    }

    @Test func pipelinedRequestsAreAnsweredUntimed() {
        var cycle = Cycle()
        cycle.headReceived(); cycle.bodyEnded()
        cycle.headReceived(); cycle.bodyEnded()  // the second arrives while the first is answered
        cycle.responseEnded()
        #expect(cycle.deadline == nil && !cycle.betweenRequests, "the second request is still being answered")
        cycle.responseEnded()
        #expect(cycle.deadline == .idle)
    }

    @Test func aClosingResponseStopsEveryDeadline() {
        var cycle = Cycle()
        cycle.headReceived()
        cycle.closing = true
        #expect(cycle.deadline == nil && !cycle.betweenRequests)
    }
}
