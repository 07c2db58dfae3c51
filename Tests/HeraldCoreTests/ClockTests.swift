import Foundation
import Testing
@testable import HeraldCore

@Suite struct ClockTests {
    /// The reference: libc's gmtime_r, formatted the slow way.
    private func reference(_ milliseconds: Int64) -> String {
        var seconds = time_t(milliseconds.floorDiv(1000))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let millis = Int(milliseconds - Int64(seconds) * 1000)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
    }

    @Test func knownInstants() {
        #expect(Clock.iso8601(milliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(Clock.iso8601(milliseconds: -1) == "1969-12-31T23:59:59.999Z")
        #expect(Clock.iso8601(milliseconds: 951_782_400_000) == "2000-02-29T00:00:00.000Z")
        #expect(Clock.iso8601(milliseconds: 1_795_273_200_123) == "2026-11-21T15:00:00.123Z")
        #expect(Clock.iso8601(milliseconds: 4_107_542_399_999) == "2100-02-28T23:59:59.999Z")  // 2100: no leap day
    }

    @Test func outOfRangeYearsAreClamped() {
        #expect(Clock.iso8601(milliseconds: .max) == "9999-12-31T23:59:59.999Z")
        #expect(Clock.iso8601(milliseconds: .min) == "0000-01-01T00:00:00.000Z")
    }

    @Test func agreesWithGmtimeEverywhere() {
        // Every day boundary ±1 ms from 1600 to 2500 (leap years, centuries, negative times)…
        for day in Int64(-135_140)...Int64(193_000) {
            for offset: Int64 in [-1, 0, 43_200_123] {
                let ms = day * 86_400_000 + offset
                let (fast, slow) = (Clock.iso8601(milliseconds: ms), reference(ms))
                if fast != slow { #expect(fast == slow, "at \(ms)") }  // one #expect per failure keeps it quick
            }
        }
        // …and random instants in 0001–9999.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let ms = Int64.random(in: -62_135_596_800_000...253_402_300_799_999, using: &generator)
            let (fast, slow) = (Clock.iso8601(milliseconds: ms), reference(ms))
            if fast != slow { #expect(fast == slow, "at \(ms)") }
        }
    }
}
