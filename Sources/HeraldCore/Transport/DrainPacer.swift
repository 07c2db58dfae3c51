import NIOCore

/// When an event loop's fan-out (`LoopFanout`) takes its next posts. After a drain the loop
/// pauses four times as long as the drain took, at most `coalescing` (`server.coalesce_ms`);
/// what commits meanwhile goes out together, one write per stream for all of it.
///
/// Under a steady stream of events to many streams that spares most of the system calls and
/// TCP segments (each costs about as much as the kernel's loopback work for a small event, both
/// ends woken per segment). The pause scales with the fan-out's own cost, so the latency it adds
/// stays in proportion: a drain to a few streams takes microseconds and delays nothing
/// noticeable; one to a thousand takes a millisecond or two and batches what comes within
/// `coalescing`. An event after a quiet spell goes out at once.
struct DrainPacer {
    private var lastEnded = NIODeadline.uptimeNanoseconds(0)
    private var lastTook = TimeAmount.zero

    /// How long posts arriving `now` wait for the next drain (zero or less: at once).
    func wait(at now: NIODeadline, coalescing: TimeAmount) -> TimeAmount {
        lastEnded + min(coalescing, lastTook * 4) - now
    }

    mutating func drained(began: NIODeadline, ended: NIODeadline) {
        (lastEnded, lastTook) = (ended, ended - began)
    }
}
