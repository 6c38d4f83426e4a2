import Foundation

/// How one freshclam run ended, read from its exit code, its output and the files it changed.
///
/// Exit codes alone are not enough (seen here with ClamAV 1.4.6): 200 and 304
/// exit 0, a 429 also exits 0 (with a cool-down written), a 403 exits 17 (24 h cool-down),
/// a 404 or 500 exits 11, a refused connection or an unknown host exits 5, a database that
/// fails freshclam's test load exits 8.
public enum FreshclamOutcome: Sendable, Equatable {
    /// New or changed database files, by name.
    case updated(changedFiles: [String])
    /// Nothing new on the mirrors.
    case upToDate
    /// freshclam refused to download because an earlier 429 or 403 left a cool-down.
    case coolDown(until: Date?)
    /// A mirror answered 429; freshclam wrote a cool-down.
    case rateLimited(until: Date?)
    /// A mirror answered 403; freshclam wrote a (24 h) cool-down.
    case blocked(until: Date?)
    /// The database needs a newer ClamAV than this image has.
    case outdatedEngine
    /// A downloaded database failed freshclam's own test load or signature check.
    case validation(message: String)
    /// No connection: refused, unknown host, TLS failure, connect timeout.
    case network(message: String)
    /// The mirror answered with an error (404, 5xx) or is out of sync.
    case mirrorError(message: String)
    /// freshclam did not finish within the time limit and was killed.
    case timeout
    /// Anything else: freshclam could not start, rejected its configuration, or exited oddly.
    case failed(exitCode: Int32, message: String)

    /// freshclam's exit codes (`fc_error_t` in ClamAV 1.4's `libfreshclam.h`).
    enum ExitCode {
        static let connectionFailed: Int32 = 5
        static let emptyFile: Int32 = 6
        static let badCVD: Int32 = 7
        static let testFailed: Int32 = 8
        static let configuration: Int32 = 9
        static let failedGet: Int32 = 11
        static let mirrorNotSynchronised: Int32 = 12
        static let forbidden: Int32 = 17
        static let retryLater: Int32 = 18
    }

    /// Classifies a finished run.
    ///
    /// - Parameters:
    ///   - exitCode: freshclam's exit status.
    ///   - output: everything it printed (stdout and stderr).
    ///   - changedFiles: database files whose content differs from before the run.
    ///   - timedOut: whether the run was killed at its time limit.
    public static func classify(exitCode: Int32, output: String, changedFiles: [String], timedOut: Bool) -> FreshclamOutcome {
        if timedOut { return .timeout }
        let lines = output.split(whereSeparator: \.isNewline).map(String.init)
        let coolDown = coolDownDate(in: lines)

        if lines.contains(where: { $0.contains("still on cool-down until after") }) {
            return .coolDown(until: coolDown)
        }
        if lines.contains(where: { $0.contains("received error code 429") }) || exitCode == ExitCode.retryLater {
            return .rateLimited(until: coolDown)
        }
        if lines.contains(where: { $0.contains("received error code 403") }) || exitCode == ExitCode.forbidden {
            return .blocked(until: coolDown)
        }
        let outdated = lines.contains { $0.contains("installation is OUTDATED") || $0.contains("requires libclamav with functionality level") }
        if exitCode == 0 {
            return changedFiles.isEmpty ? .upToDate : .updated(changedFiles: changedFiles)
        }
        if outdated {
            return .outdatedEngine
        }
        let errors = errorSummary(lines)
        switch exitCode {
        case ExitCode.testFailed, ExitCode.badCVD, ExitCode.emptyFile:
            return .validation(message: errors)
        case ExitCode.connectionFailed:
            return .network(message: errors)
        case ExitCode.failedGet, ExitCode.mirrorNotSynchronised:
            return .mirrorError(message: errors)
        default:
            return .failed(exitCode: exitCode, message: errors)
        }
    }

    /// The `ERROR:`/`WARNING:` lines that say what went wrong, without freshclam's advice text.
    static func errorSummary(_ lines: [String]) -> String {
        let interesting = lines.filter {
            ($0.hasPrefix("ERROR:") || $0.contains("Can't download") || $0.contains("Unexpected response") || $0.contains("file not found"))
                && !$0.contains("Update failed.")
        }
        var seen = Set<String>()
        let unique = interesting.filter { seen.insert($0).inserted }
        return unique.suffix(4).joined(separator: " | ")
    }

    /// The date in `You are (still) on cool-down until after: 2026-11-26 19:40:48`, read as UTC.
    static func coolDownDate(in lines: [String]) -> Date? {
        let marker = "cool-down until after: "
        guard let line = lines.last(where: { $0.contains(marker) }), let range = line.range(of: marker) else { return nil }
        let text = line[range.upperBound...].trimmingCharacters(in: .whitespaces)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.date(from: text)
    }
}
