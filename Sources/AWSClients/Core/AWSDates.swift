import Foundation

/// ISO 8601 and HTTP dates as AWS writes them, parsed by Foundation's format styles (which
/// are value types: no shared mutable formatter).
enum AWSDates {
    /// Parses `2026-11-22T04:10:00Z` and `2026-11-22T04:10:00.123Z` (and offsets).
    static func parse(_ string: String) -> Date? {
        if let date = try? Date(string, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) { return date }
        return try? Date(string, strategy: Date.ISO8601FormatStyle())
    }

    /// Parses an HTTP date (`Last-Modified`, RFC 9110): `Fri, 24 May 2013 00:00:00 GMT`.
    static func parseHTTPDate(_ string: String) -> Date? {
        try? Date(string, strategy: httpDate.parseStrategy)
    }

    private static let httpDate = Date.VerbatimFormatStyle(
        format: """
            \(weekday: .abbreviated), \(day: .twoDigits) \(month: .abbreviated) \(year: .defaultDigits) \
            \(hour: .twoDigits(clock: .twentyFourHour, hourCycle: .zeroBased)):\(minute: .twoDigits):\(second: .twoDigits) GMT
            """,
        locale: Locale(identifier: "en_US_POSIX"), timeZone: TimeZone(identifier: "GMT")!, calendar: Calendar(identifier: .gregorian)
    )
}
