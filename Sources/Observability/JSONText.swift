#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Small helpers to write JSON text by hand, so that field order is stable and the
/// encoder never adds anything the caller did not ask for.
enum JSONText {
    /// Appends `string` as a JSON string literal (RFC 8259 section 7): quotes, backslashes
    /// and control characters escaped; everything else, non-ASCII included, as UTF-8.
    static func appendString(_ string: String, to output: inout String) {
        output.append("\"")
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": output.append("\\\"")
            case "\\": output.append("\\\\")
            case "\n": output.append("\\n")
            case "\r": output.append("\\r")
            case "\t": output.append("\\t")
            case "\u{08}": output.append("\\b")
            case "\u{0C}": output.append("\\f")
            case "\u{00}"..."\u{1F}", "\u{7F}", "\u{2028}", "\u{2029}":
                // DEL and the line/paragraph separators are legal JSON, but escaping them
                // keeps every log line printable and safe for JavaScript consumers.
                let hex = String(scalar.value, radix: 16, uppercase: false)
                output.append("\\u")
                output.append(String(repeating: "0", count: 4 - hex.count))
                output.append(hex)
            default:
                output.unicodeScalars.append(scalar)
            }
        }
        output.append("\"")
    }

    /// Appends a number, or `null` for values JSON cannot represent (NaN, infinity).
    static func appendNumber(_ value: Double, to output: inout String) {
        guard value.isFinite else {
            output.append("null")
            return
        }
        if value == value.rounded(), abs(value) < 9_007_199_254_740_992 {
            output.append(String(Int64(value)))
        } else {
            output.append(String(value))
        }
    }

    /// Formats milliseconds since the Unix epoch as ISO 8601 UTC with milliseconds,
    /// for example `2026-11-26T19:22:42.123Z`.
    static func iso8601(millisecondsSinceEpoch milliseconds: Int64) -> String {
        var seconds = milliseconds / 1000
        var millis = milliseconds % 1000
        if millis < 0 {
            millis += 1000
            seconds -= 1
        }
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))"
            + "T\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))"
            + ".\(pad(Int32(millis), 3))Z"
    }
}
