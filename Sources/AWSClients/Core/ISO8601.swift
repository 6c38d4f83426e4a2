import Foundation

/// ISO 8601 and HTTP dates as AWS writes them, without shared mutable formatters.
enum ISO8601 {
    /// Parses `2026-11-22T04:10:00Z` and `2026-11-22T04:10:00.123Z` (and offsets).
    static func parse(_ string: String) -> Date? {
        if let date = try? Date(string, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) { return date }
        return try? Date(string, strategy: Date.ISO8601FormatStyle())
    }

    /// Parses an HTTP date (`Last-Modified`): `Fri, 24 May 2013 00:00:00 GMT`.
    static func parseHTTPDate(_ string: String) -> Date? {
        let parts = string.split(separator: " ")
        guard parts.count == 6 else { return nil }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard let day = Int(parts[1]), let monthIndex = months.firstIndex(of: String(parts[2])), let year = Int(parts[3]) else { return nil }
        let time = parts[4].split(separator: ":").compactMap { Int($0) }
        guard time.count == 3 else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: DateComponents(year: year, month: monthIndex + 1, day: day, hour: time[0], minute: time[1], second: time[2]))
    }
}
