import Foundation

/// ISO 8601 UTC times to the second (`2026-12-06T16:40:00Z`): the `scan-time` tag, and the
/// times in the messages the scanner sends itself.
enum Timestamp {
    static func string(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle())
    }

    /// Parses an ISO 8601 time with or without fractional seconds; `nil` when it is not one.
    static func date(_ text: String) -> Date? {
        (try? Date.ISO8601FormatStyle().parse(text)) ?? (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text))
    }
}
