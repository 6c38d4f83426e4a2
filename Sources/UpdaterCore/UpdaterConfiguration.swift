import ClamAV
import Foundation

/// The definition updater's settings, read once at start-up from the environment
/// (DESIGN.md, "Configuration").
public struct UpdaterConfiguration: Sendable, Equatable, Encodable {
    /// The private bucket that holds the published database.
    public var definitionsBucket: String
    /// The key prefix of the database in that bucket; empty or ending in `/`.
    public var definitionsPrefix: String
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

    /// The `DatabaseMirror` used when none is configured: freshclam requires the line even
    /// when the official databases are excluded.
    public static let defaultDatabaseMirror = "database.clamav.net"

    /// Creates a configuration from values; ``init(environment:)`` is the usual way.
    public init(
        definitionsBucket: String,
        definitionsPrefix: String = "clamav/",
        eventBusName: String? = nil,
        officialDatabases: Bool = true,
        databaseMirrors: [String] = [],
        privateMirrors: [String] = [],
        customURLs: [URL] = [],
        minUpdateInterval: TimeInterval = 3600,
        freshclamTimeout: TimeInterval = 300,
        freshclamPath: String = "freshclam",
        freshclamMaxAttempts: Int = 3,
        canaryFile: String? = nil
    ) {
        self.definitionsBucket = definitionsBucket
        self.definitionsPrefix = definitionsPrefix
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
    ///
    /// - Throws: ``ConfigurationError`` naming the variable and the bad value; also when the
    ///   official databases are off and no custom URL is configured (nothing would be fetched).
    public init(environment: [String: String]) throws {
        let reader = EnvironmentReader(environment)
        definitionsBucket = try reader.required("DEFINITIONS_BUCKET")
        definitionsPrefix = Self.normalisedPrefix(reader.optional("DEFINITIONS_PREFIX") ?? "clamav/")
        eventBusName = reader.optional("EVENT_BUS_NAME")
        officialDatabases = try reader.bool("CLAMAV_OFFICIAL_DATABASES", default: true)
        databaseMirrors = try reader.list("CLAMAV_DATABASE_MIRRORS").map { try Self.mirror($0, variable: "CLAMAV_DATABASE_MIRRORS") }
        privateMirrors = try reader.list("CLAMAV_PRIVATE_MIRRORS").map { try Self.mirror($0, variable: "CLAMAV_PRIVATE_MIRRORS") }
        customURLs = try reader.list("CLAMAV_CUSTOM_URLS").map { try Self.customURL($0) }
        minUpdateInterval = TimeInterval(try reader.integer("MIN_UPDATE_INTERVAL", default: 3600, minimum: 0))
        freshclamTimeout = TimeInterval(try reader.integer("FRESHCLAM_TIMEOUT", default: 300, minimum: 1))
        freshclamPath = reader.optional("FRESHCLAM_PATH") ?? "freshclam"
        freshclamMaxAttempts = try reader.integer("FRESHCLAM_MAX_ATTEMPTS", default: 3, minimum: 1)
        canaryFile = reader.optional("CANARY_FILE")

        if !officialDatabases && customURLs.isEmpty {
            throw ConfigurationError(
                variable: "CLAMAV_CUSTOM_URLS",
                value: nil,
                reason: "must name at least one database URL when CLAMAV_OFFICIAL_DATABASES is false: nothing would be fetched"
            )
        }
    }

    /// An S3 prefix without a leading `/`, ending in `/` unless empty.
    static func normalisedPrefix(_ raw: String) -> String {
        var prefix = raw.trimmingCharacters(in: .whitespaces)
        while prefix.hasPrefix("/") { prefix.removeFirst() }
        if !prefix.isEmpty && !prefix.hasSuffix("/") { prefix += "/" }
        return prefix
    }

    /// A mirror is a host name (`db.example.com`, optionally `:port`) or an http/https URL.
    private static func mirror(_ value: String, variable: String) throws -> String {
        if value.contains("://") {
            guard let url = URL(string: value), let scheme = url.scheme?.lowercased(),
                  ["http", "https"].contains(scheme), let host = url.host, !host.isEmpty
            else {
                throw ConfigurationError(variable: variable, value: value, reason: "is not an http or https URL")
            }
            return value
        }
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: ".-:"))
        guard !value.isEmpty, value.unicodeScalars.allSatisfy(allowed.contains), !value.hasPrefix("."), !value.hasPrefix("-") else {
            throw ConfigurationError(variable: variable, value: value, reason: "is neither a host name nor an http or https URL")
        }
        return value
    }

    /// freshclam names the downloaded file after the URL's last path component, so that
    /// component must be a file name libclamav loads.
    private static func customURL(_ value: String) throws -> URL {
        guard let url = URL(string: value), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              let host = url.host, !host.isEmpty
        else {
            throw ConfigurationError(variable: "CLAMAV_CUSTOM_URLS", value: value, reason: "is not an http or https URL")
        }
        guard DatabaseInfo.isDatabaseFile(url.lastPathComponent) else {
            throw ConfigurationError(
                variable: "CLAMAV_CUSTOM_URLS",
                value: value,
                reason: "does not end in a ClamAV database file name (such as NAME.ndb, NAME.hdb, NAME.ldb, NAME.yar)"
            )
        }
        return url
    }
}

/// A missing or malformed configuration value.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The environment variable at fault.
    public let variable: String
    /// The value it held; `nil` when it was missing.
    public let value: String?
    /// Why the value is not accepted.
    public let reason: String

    /// Creates an error.
    public init(variable: String, value: String?, reason: String) {
        self.variable = variable
        self.value = value
        self.reason = reason
    }

    /// A sentence naming the variable and, when there is one, its value.
    public var description: String {
        if let value {
            return "\(variable)=\"\(value)\" \(reason)"
        }
        return "\(variable) \(reason)"
    }
}

/// Reads typed values from an environment dictionary; an empty value counts as unset.
private struct EnvironmentReader {
    let environment: [String: String]

    init(_ environment: [String: String]) {
        self.environment = environment
    }

    func optional(_ name: String) -> String? {
        guard let value = environment[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else {
            return nil
        }
        return value
    }

    func required(_ name: String) throws -> String {
        guard let value = optional(name) else {
            throw ConfigurationError(variable: name, value: nil, reason: "is required but not set")
        }
        return value
    }

    func bool(_ name: String, default fallback: Bool) throws -> Bool {
        guard let value = optional(name) else { return fallback }
        switch value.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw ConfigurationError(variable: name, value: value, reason: "is not a boolean (true or false)")
        }
    }

    func integer(_ name: String, default fallback: Int, minimum: Int) throws -> Int {
        guard let value = optional(name) else { return fallback }
        guard let number = Int(value) else {
            throw ConfigurationError(variable: name, value: value, reason: "is not a whole number")
        }
        guard number >= minimum else {
            throw ConfigurationError(variable: name, value: value, reason: "must be at least \(minimum)")
        }
        return number
    }

    func list(_ name: String) -> [String] {
        guard let value = optional(name) else { return [] }
        return value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
