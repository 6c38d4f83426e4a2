import Foundation

/// What the updater remembers between runs, stored beside the database in the definitions
/// bucket by the caller: when it last contacted a mirror and how that ended.
public struct UpdaterState: Codable, Sendable, Equatable {
    /// When freshclam last ran (contacted a mirror); `nil` before the first run.
    public var lastAttemptAt: Date?
    /// When a run last ended updated or up to date.
    public var lastSuccessAt: Date?
    /// `UPDATED`, `UP_TO_DATE`, or the failure reason of the last run.
    public var lastOutcome: String?
    /// The end of a cool-down imposed by a mirror (429/403), when one is known.
    public var coolDownUntil: Date?

    /// Creates a state; the empty state is that of an updater that never ran.
    public init(lastAttemptAt: Date? = nil, lastSuccessAt: Date? = nil, lastOutcome: String? = nil, coolDownUntil: Date? = nil) {
        self.lastAttemptAt = lastAttemptAt
        self.lastSuccessAt = lastSuccessAt
        self.lastOutcome = lastOutcome
        self.coolDownUntil = coolDownUntil
    }
}

/// Why an update did not publish a database (the `Definitions Update Failed` reason).
public enum UpdateFailureReason: String, Codable, Sendable, CaseIterable {
    /// A cool-down from an earlier 429/403 has not ended; no mirror was contacted.
    case coolDown = "COOLDOWN"
    /// The last run is less than `MIN_UPDATE_INTERVAL` ago; no mirror was contacted.
    case tooSoon = "TOO_SOON"
    /// A mirror answered 429 and freshclam started a cool-down.
    case rateLimited = "RATE_LIMITED"
    /// A mirror answered 403 (blocked) and freshclam started a 24 h cool-down.
    case blocked = "BLOCKED"
    /// The database needs a newer ClamAV engine than this image has.
    case outdatedEngine = "OUTDATED_ENGINE"
    /// The new database failed freshclam's test load, the engine load, or the canary scan.
    case validationFailed = "VALIDATION_FAILED"
    /// The new database is older than the one already published.
    case olderDatabase = "OLDER_DATABASE"
    /// No connection to a mirror: refused, unknown host, TLS failure.
    case network = "NETWORK"
    /// A mirror answered with an error such as 404 or 500.
    case mirrorError = "MIRROR_ERROR"
    /// freshclam did not finish within `FRESHCLAM_TIMEOUT` and was killed.
    case timeout = "TIMEOUT"
    /// freshclam could not run or failed in a way not listed above.
    case freshclamFailed = "FRESHCLAM_FAILED"
    /// The updater's working folder could not be prepared or updated.
    case workDirectory = "WORK_DIRECTORY"

    /// A run that was not attempted (cool-down, too soon): expected, harmless, no alarm.
    public var isNotAttempted: Bool { self == .coolDown || self == .tooSoon }
}

/// A run that did not publish a database, and the updater's one error type: the reason (the
/// `Definitions Update Failed` event's), a sentence for people, and when a cool-down or
/// interval lets the next run try again. Thrown for failures of the updater's own machinery
/// (freshclam missing, a working folder that cannot be written) too.
public struct UpdateFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The reason code.
    public let reason: UpdateFailureReason
    /// What happened, for logs and the failure event.
    public let message: String
    /// The earliest time a new run may contact a mirror, when known.
    public let retryAfter: Date?

    /// Creates a failure.
    public init(_ reason: UpdateFailureReason, _ message: String, retryAfter: Date? = nil) {
        self.reason = reason
        self.message = message
        self.retryAfter = retryAfter
    }

    /// `REASON: message`.
    public var description: String { "\(reason.rawValue): \(message)" }
}

/// Refuses runs that would contact a mirror too soon: within `MIN_UPDATE_INTERVAL` of the
/// last attempt, or during a cool-down that freshclam (in `freshclam.dat`) or the stored
/// state knows of.
///
/// freshclam itself honours its cool-down only for the official databases: seen with
/// ClamAV 1.4.6, a run during the cool-down still downloads every `DatabaseCustomURL`, so
/// the updater checks `freshclam.dat` before it starts freshclam at all.
public enum UpdateGuard {
    /// The failure that forbids a run now, or `nil` when a run may start.
    public static func refusal(
        state: UpdaterState,
        freshclamState: FreshclamState?,
        minUpdateInterval: TimeInterval,
        now: Date
    ) -> UpdateFailure? {
        let coolDowns = [state.coolDownUntil, freshclamState?.coolDownUntil].compactMap { $0 }
        if let until = coolDowns.max(), until > now {
            return UpdateFailure(
                .coolDown,
                "a mirror imposed a cool-down until \(until.formatted(.iso8601)); no mirror was contacted",
                retryAfter: until
            )
        }
        if let last = state.lastAttemptAt, minUpdateInterval > 0 {
            let next = last.addingTimeInterval(minUpdateInterval)
            if next > now {
                return UpdateFailure(
                    .tooSoon,
                    "the last update ran at \(last.formatted(.iso8601)), less than MIN_UPDATE_INTERVAL (\(Int(minUpdateInterval)) s) ago; no mirror was contacted",
                    retryAfter: next
                )
            }
        }
        return nil
    }
}
