import BusEvents
import ClamAV
import Definitions
import Environment
import Foundation

/// The definition updater's settings, read once at start-up from the environment
/// (docs/design.md, "Configuration").
public struct UpdaterConfiguration: Sendable, Equatable, Encodable {
    /// Where the database is published.
    public var definitions: DefinitionsLocation
    /// The EventBridge bus for `Definitions Updated`/`Definitions Update Failed`; `nil`: none.
    public var eventBusName: String?
    /// Whether freshclam fetches ClamAV's `main`, `daily` and `bytecode` databases.
    public var officialDatabases: Bool
    /// `DatabaseMirror` entries: host names or http/https URLs.
    public var databaseMirrors: [String]
    /// `PrivateMirror` entries: host names or http/https URLs.
    public var privateMirrors: [String]
    /// `DatabaseCustomURL` entries: http/https URLs whose last path component is a database file name.
    public var customURLs: [URL]
    /// The shortest time between two runs that contact a mirror, in seconds.
    public var minUpdateInterval: TimeInterval
    /// The longest one freshclam run may take before it is killed, in seconds.
    public var freshclamTimeout: TimeInterval
    /// The freshclam executable: a path, or a name looked up on `PATH`.
    public var freshclamPath: String
    /// How often freshclam tries a failed download (`MaxAttempts`).
    public var freshclamMaxAttempts: Int
    /// A file that the new database must detect; `nil` uses the EICAR test file.
    public var canaryFile: String?
    /// Where the database and freshclam's state are kept between runs (warm invocations reuse them).
    public var workDirectory: String

    /// The `DatabaseMirror` used when none is configured: freshclam requires the line even
    /// when the official databases are excluded.
    public static let defaultDatabaseMirror = "database.clamav.net"

    /// Creates a configuration from values; ``init(environment:)`` is the usual way.
    public init(
        definitions: DefinitionsLocation,
        eventBusName: String? = nil,
        officialDatabases: Bool = true,
        databaseMirrors: [String] = [],
        privateMirrors: [String] = [],
        customURLs: [URL] = [],
        minUpdateInterval: TimeInterval = 3600,
        freshclamTimeout: TimeInterval = 300,
        freshclamPath: String = "freshclam",
        freshclamMaxAttempts: Int = 3,
        canaryFile: String? = nil,
        workDirectory: String = "/tmp/definition-updater"
    ) {
        self.definitions = definitions
        self.eventBusName = eventBusName
        self.officialDatabases = officialDatabases
        self.databaseMirrors = databaseMirrors
        self.privateMirrors = privateMirrors
        self.customURLs = customURLs
        self.minUpdateInterval = minUpdateInterval
        self.freshclamTimeout = freshclamTimeout
        self.freshclamPath = freshclamPath
        self.freshclamMaxAttempts = freshclamMaxAttempts
        self.canaryFile = canaryFile
        self.workDirectory = workDirectory
    }

    /// Reads the configuration from environment variables.
    ///
    /// | variable | default |
    /// |---|---|
    /// | `DEFINITIONS_BUCKET` | required |
    /// | `DEFINITIONS_PREFIX` | `clamav/` (a trailing `/` is added; a leading one removed) |
    /// | `EVENT_BUS_NAME` | unset: no events |
    /// | `CLAMAV_OFFICIAL_DATABASES` | `true` (`true`/`false`, `1`/`0`, `yes`/`no`) |
    /// | `CLAMAV_DATABASE_MIRRORS`, `CLAMAV_PRIVATE_MIRRORS` | none (comma-separated host names or http/https URLs) |
    /// | `CLAMAV_CUSTOM_URLS` | none (comma-separated http/https URLs of database files) |
    /// | `MIN_UPDATE_INTERVAL` | `3600` seconds |
    /// | `FRESHCLAM_TIMEOUT` | `300` seconds |
    /// | `FRESHCLAM_PATH` | `freshclam` on `PATH` |
    /// | `FRESHCLAM_MAX_ATTEMPTS` | `3` |
    /// | `CANARY_FILE` | unset: the EICAR test file |
    /// | `UPDATER_WORK_DIRECTORY` | `TMPDIR/definition-updater` |
    ///
    /// - Throws: ``ConfigurationError`` naming the variable and the bad value; also when the
    ///   official databases are off and no custom URL is configured (nothing would be fetched).
    public init(environment: [String: String]) throws(ConfigurationError) {
        let reader = EnvironmentReader(environment)
        definitions = try DefinitionsLocation(reader)
        eventBusName = EventBusPublisher.busName(reader)
        officialDatabases = try reader.bool("CLAMAV_OFFICIAL_DATABASES", default: true)
        databaseMirrors = try reader.list("CLAMAV_DATABASE_MIRRORS").map { value throws(ConfigurationError) in
            try Self.mirror(value, variable: "CLAMAV_DATABASE_MIRRORS")
        }
        privateMirrors = try reader.list("CLAMAV_PRIVATE_MIRRORS").map { value throws(ConfigurationError) in
            try Self.mirror(value, variable: "CLAMAV_PRIVATE_MIRRORS")
        }
        customURLs = try reader.list("CLAMAV_CUSTOM_URLS").map { value throws(ConfigurationError) in try Self.customURL(value) }
        minUpdateInterval = TimeInterval(try reader.integer("MIN_UPDATE_INTERVAL", default: 3600, in: 0...31_536_000))
        freshclamTimeout = TimeInterval(try reader.integer("FRESHCLAM_TIMEOUT", default: 300, in: 1...86_400))
        freshclamPath = reader.optional("FRESHCLAM_PATH") ?? "freshclam"
        freshclamMaxAttempts = try reader.integer("FRESHCLAM_MAX_ATTEMPTS", default: 3, in: 1...100)
        canaryFile = reader.optional("CANARY_FILE")
        workDirectory =
            reader.optional("UPDATER_WORK_DIRECTORY") ?? (reader.temporaryDirectory as NSString).appendingPathComponent("definition-updater")

        if !officialDatabases && customURLs.isEmpty {
            throw ConfigurationError(
                "CLAMAV_CUSTOM_URLS", "must name at least one database URL when CLAMAV_OFFICIAL_DATABASES is false: nothing would be fetched"
            )
        }
    }

    /// A mirror is a host name (`db.example.com`, optionally `:port`) or an http/https URL.
    private static func mirror(_ value: String, variable: String) throws(ConfigurationError) -> String {
        if value.contains("://") {
            guard let url = URL(string: value), let scheme = url.scheme?.lowercased(),
                ["http", "https"].contains(scheme), let host = url.host, !host.isEmpty
            else {
                throw ConfigurationError(variable, "\"\(value)\" is not an http or https URL")
            }
            return value
        }
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: ".-:"))
        guard !value.isEmpty, value.unicodeScalars.allSatisfy(allowed.contains), !value.hasPrefix("."), !value.hasPrefix("-") else {
            throw ConfigurationError(variable, "\"\(value)\" is neither a host name nor an http or https URL")
        }
        return value
    }

    /// freshclam names the downloaded file after the URL's last path component, so that
    /// component must be a file name libclamav loads.
    private static func customURL(_ value: String) throws(ConfigurationError) -> URL {
        guard let url = URL(string: value), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = url.host, !host.isEmpty
        else {
            throw ConfigurationError("CLAMAV_CUSTOM_URLS", "\"\(value)\" is not an http or https URL")
        }
        guard DatabaseInfo.isDatabaseFile(url.lastPathComponent) else {
            throw ConfigurationError(
                "CLAMAV_CUSTOM_URLS", "\"\(value)\" does not end in a ClamAV database file name (such as NAME.ndb, NAME.hdb, NAME.ldb, NAME.yar)"
            )
        }
        return url
    }
}
