import NIOCore
import Testing
@testable import HeraldCore

@Suite struct DrainPacerTests {
    private let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    private let coalescing = TimeAmount.milliseconds(10)

    private func pacer(drainTook took: TimeAmount) -> DrainPacer {
        var pacer = DrainPacer()
        pacer.drained(began: start, ended: start + took)
        return pacer
    }

    @Test func theFirstPostGoesAtOnce() {
        #expect(DrainPacer().wait(at: start, coalescing: coalescing) <= .zero)
    }

    @Test func aDrainToManyStreamsHoldsWhatComesSoonAfterItForFourTimesItsLength() {
        let pacer = pacer(drainTook: .milliseconds(2))
        let ended = start + .milliseconds(2)
        #expect(pacer.wait(at: ended + .milliseconds(1), coalescing: coalescing) == .milliseconds(7))
        #expect(pacer.wait(at: ended + .milliseconds(8), coalescing: coalescing) <= .zero, "a quiet spell: at once")
    }

    @Test func thePauseNeverExceedsTheCoalescingBound() {
        let pacer = pacer(drainTook: .milliseconds(50))  // a slow drain on a busy machine
        #expect(pacer.wait(at: start + .milliseconds(50), coalescing: coalescing) == coalescing)
    }

    @Test func aDrainToAFewStreamsDelaysNothingNoticeable() {
        let pacer = pacer(drainTook: .microseconds(5))
        #expect(pacer.wait(at: start + .microseconds(5), coalescing: coalescing) == .microseconds(20))
    }

    @Test func noCoalescingMeansEveryCommitAtOnce() {
        let pacer = pacer(drainTook: .milliseconds(2))
        #expect(pacer.wait(at: start + .milliseconds(2), coalescing: .zero) <= .zero)
    }
}
