import Foundation

/// Wall-clock helpers for event times: milliseconds since 1970 and their ISO 8601 form.
public enum Clock {
    public static func nowMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// The inverse of `iso8601(milliseconds:)`, also taking offsets and no fraction:
    /// `/api/series` times and envelopes read back from the notification outbox.
    public static func milliseconds(iso8601 text: String) -> Int64? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = text.contains(".") ? [.withInternetDateTime, .withFractionalSeconds] : [.withInternetDateTime]
        guard let date = formatter.date(from: text) else { return nil }
        return Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    /// `2026-11-21T15:00:00.123Z`, for years 0000–9999 (others are clamped to that range).
    /// Hand-rolled, one allocation and no libc call, because every replayed event needs one:
    /// gmtime_r plus string padding was 9 % of a replay's CPU.
    public static func iso8601(milliseconds: Int64) -> String {
        let clamped = min(max(milliseconds, minMilliseconds), maxMilliseconds)
        let seconds = clamped.floorDiv(1000)
        let millis = Int(clamped - seconds * 1000)
        let days = seconds.floorDiv(86_400)
        let secondOfDay = Int(seconds - days * 86_400)
        let (year, month, day) = civilDate(daysSince1970: days)
        return String(unsafeUninitializedCapacity: 24) { out in
            func put(_ value: Int, _ width: Int, at offset: Int) {
                var value = value
                for i in stride(from: offset + width - 1, through: offset, by: -1) {
                    out[i] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
            }
            put(year, 4, at: 0); out[4] = UInt8(ascii: "-")
            put(month, 2, at: 5); out[7] = UInt8(ascii: "-")
            put(day, 2, at: 8); out[10] = UInt8(ascii: "T")
            put(secondOfDay / 3600, 2, at: 11); out[13] = UInt8(ascii: ":")
            put(secondOfDay / 60 % 60, 2, at: 14); out[16] = UInt8(ascii: ":")
            put(secondOfDay % 60, 2, at: 17); out[19] = UInt8(ascii: ".")
            put(millis, 3, at: 20); out[23] = UInt8(ascii: "Z")
            return 24
        }
    }

    /// Proleptic Gregorian (year, month 1–12, day 1–31) of a day count from 1970-01-01, using
    /// 400-year eras that start on 1 March so that the leap day falls at the end of a year.
    static func civilDate(daysSince1970: Int64) -> (year: Int, month: Int, day: Int) {
        let z = daysSince1970 + 719_468                     // days since 0000-03-01
        let era = z.floorDiv(146_097)
        let dayOfEra = z - era * 146_097                     // 0...146096
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)  // from 1 March
        let shiftedMonth = (5 * dayOfYear + 2) / 153         // 0 = March … 11 = February
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day))
    }

    private static let minMilliseconds: Int64 = -62_167_219_200_000   // 0000-01-01T00:00:00.000Z
    private static let maxMilliseconds: Int64 = 253_402_300_799_999   // 9999-12-31T23:59:59.999Z
}

extension Int64 {
    func floorDiv(_ divisor: Int64) -> Int64 {
        let q = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? q - 1 : q
    }
}
