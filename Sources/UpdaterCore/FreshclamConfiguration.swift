import Foundation

/// The `freshclam.conf` one run uses, rendered from the updater's configuration.
///
/// Option meanings follow `freshclam.conf(5)` (ClamAV 1.4); the choices:
/// - `DatabaseMirror` is always written: freshclam refuses to start without one, even when
///   the official databases are excluded.
/// - `ScriptedUpdates yes` makes freshclam fetch incremental CDIFF patches, which ClamAV's
///   CDN does not rate limit; `CompressLocalDatabase no` keeps `.cld` files as plain tar.
/// - `DNSDatabaseInfo no` (and `--no-dns` on the command line, since the option alone still
///   makes a DNS query): the version check goes over HTTP.
/// - `Checks 0` and `NotifyClamd` unset: one update, no daemon.
/// - `DatabaseOwner` is the user running the updater: freshclam running as root switches to
///   that user, and the default (`clamav`) may not exist in a container image.
/// - Files are validated by freshclam's own test load (`TestDatabases yes`) and then by
///   the updater's engine.
public struct FreshclamConfiguration: Sendable, Equatable {
    /// Where freshclam reads and writes the database and `freshclam.dat`.
    public var databaseDirectory: String
    /// The updater's settings.
    public var updater: UpdaterConfiguration
    /// The user named in `DatabaseOwner`; `nil` leaves the line out.
    public var databaseOwner: String?
    /// Seconds freshclam waits for a connection.
    public var connectTimeout: Int
    /// Seconds freshclam waits on a stalled download.
    public var receiveTimeout: Int

    /// Creates the configuration for one run; the timeouts stay inside the run's time limit.
    public init(databaseDirectory: String, updater: UpdaterConfiguration, databaseOwner: String? = FreshclamConfiguration.currentUserName()) {
        self.databaseDirectory = databaseDirectory
        self.updater = updater
        self.databaseOwner = databaseOwner
        let limit = max(1, Int(updater.freshclamTimeout))
        self.connectTimeout = min(30, limit)
        self.receiveTimeout = min(120, limit)
    }

    /// The file's text.
    public func render() -> String {
        var lines = [
            "# Written by the definition updater for one run; see freshclam.conf(5).",
            "DatabaseDirectory \(databaseDirectory)",
            "LogVerbose yes",
            "LogTime no",
            "Foreground yes",
            "Checks 0",
            "DNSDatabaseInfo no",
            "ScriptedUpdates yes",
            "CompressLocalDatabase no",
            "TestDatabases yes",
            "Bytecode yes",
            "MaxAttempts \(updater.freshclamMaxAttempts)",
            "ConnectTimeout \(connectTimeout)",
            "ReceiveTimeout \(receiveTimeout)",
        ]
        if let databaseOwner {
            lines.append("DatabaseOwner \(databaseOwner)")
        }
        let mirrors = updater.databaseMirrors.isEmpty ? [UpdaterConfiguration.defaultDatabaseMirror] : updater.databaseMirrors
        lines += mirrors.map { "DatabaseMirror \($0)" }
        lines += updater.privateMirrors.map { "PrivateMirror \($0)" }
        if !updater.officialDatabases {
            lines += ["ExcludeDatabase daily", "ExcludeDatabase main", "ExcludeDatabase bytecode"]
        }
        lines += updater.customURLs.map { "DatabaseCustomURL \($0.absoluteString)" }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Writes the file to `path`.
    public func write(to path: String) throws {
        try render().write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// The name of the effective user, or `nil` when it has no `passwd` entry (as in Lambda,
    /// where freshclam does not run as root and so never switches user).
    public static func currentUserName() -> String? {
        guard let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name else { return nil }
        return String(cString: name)
    }
}
