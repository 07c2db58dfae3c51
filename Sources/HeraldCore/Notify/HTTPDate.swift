import Foundation

/// The IMF-fixdate of RFC 9110 (`Sun, 06 Nov 1994 08:49:37 GMT`), as `Retry-After` may carry it.
enum HTTPDate {
    static func parse(_ text: String) -> Date? {
        formatter().date(from: text)
    }

    /// A formatter per call: DateFormatter is not Sendable, and dates are parsed rarely.
    private static func formatter() -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter
    }
}
