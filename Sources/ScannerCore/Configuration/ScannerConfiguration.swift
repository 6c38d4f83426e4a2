import ClamAV
import ServiceSupport

/// What to do with an infected object (`INFECTED_ACTION`).
public enum InfectedAction: Sendable, Equatable {
    /// Delete the scanned version.
    case delete
    /// Copy it to the quarantine bucket, then delete the scanned version.
    case quarantine(bucket: String)
    /// Only tag it.
    case tag
}

/// The names of the tags the scanner writes (DESIGN.md: key names are configurable).
public struct TagKeys: Sendable, Equatable {
    /// The verdict (`scan-status`).
    public var status = "scan-status"
    /// The threat name, when one is named and the object is kept (`scan-signature`).
    public var signature = "scan-signature"
    /// When the scan ended, ISO 8601 UTC (`scan-time`).
    public var time = "scan-time"
    /// The database version (`scan-definitions`).
    public var definitions = "scan-definitions"

    /// The default names.
    public init() {}
}

/// The scanner's settings, read once at start-up from the environment (DESIGN.md, "Configuration").
public struct ScannerConfiguration: Sendable, Equatable {
    /// The private bucket holding the database and `manifest.json`.
    public var definitionsBucket: String
    /// The key prefix of the database in that bucket, ending in `/` (or empty).
    public var definitionsPrefix: String
    /// The custom event bus; `nil` publishes no events.
    public var eventBusName: String?
    /// What happens to infected objects.
    public var infectedAction: InfectedAction
    /// Objects larger than this many bytes are `UNSCANNABLE` without being downloaded.
    public var maxObjectSize: Int64
    /// Whether `CLEAN` results are published too.
    public var publishCleanResults: Bool
    /// Seconds between checks of `manifest.json`.
    public var definitionsCheckInterval: Int
    /// Hours after which the database counts as stale.
    public var maxDefinitionsAgeHours: Int
    /// The scan limits inside one object (archives).
    public var limits: ScanLimits
    /// The tag names.
    public var tagKeys: TagKeys
    /// Where objects and databases are downloaded to.
    public var workDirectory: String

    /// Reads the configuration; a missing or malformed value throws an error naming it.
    public init(environment: [String: String]) throws {
        let reader = EnvironmentReader(environment)
        definitionsBucket = try reader.required("DEFINITIONS_BUCKET")
        definitionsPrefix = reader.prefix("DEFINITIONS_PREFIX", default: "clamav/")
        eventBusName = reader.optional("EVENT_BUS_NAME")
        switch try reader.choice("INFECTED_ACTION", default: "delete", allowed: ["delete", "quarantine", "tag"]) {
        case "quarantine":
            guard let bucket = reader.optional("QUARANTINE_BUCKET") else {
                throw ConfigurationError("QUARANTINE_BUCKET", "is required when INFECTED_ACTION is quarantine")
            }
            infectedAction = .quarantine(bucket: bucket)
        case "tag":
            infectedAction = .tag
        default:
            infectedAction = .delete
        }
        let gibibyte: Int64 = 1 << 30
        maxObjectSize = try reader.integer("MAX_OBJECT_SIZE", default: 2 * gibibyte, in: 1...(64 * gibibyte))
        publishCleanResults = try reader.bool("PUBLISH_CLEAN_RESULTS", default: true)
        definitionsCheckInterval = try reader.integer("DEFINITIONS_CHECK_INTERVAL", default: 300, in: 0...86_400)
        maxDefinitionsAgeHours = try reader.integer("MAX_DEFINITIONS_AGE", default: 48, in: 1...8_760)
        // The object itself must fit the engine's file limit, or libclamav would scan only
        // part of it; what is unpacked from it may be twice as large.
        limits = ScanLimits(
            maxFileSize: maxObjectSize,
            maxScanSize: try reader.integer("MAX_SCAN_SIZE", default: 2 * maxObjectSize, in: 1...(128 * gibibyte)),
            maxFiles: try reader.integer("MAX_FILES", default: ScanLimits.clamAVDefaults.maxFiles, in: 1...1_000_000),
            maxRecursion: try reader.integer("MAX_RECURSION", default: ScanLimits.clamAVDefaults.maxRecursion, in: 1...64),
            maxScanTimeMilliseconds: try reader.integer("MAX_SCAN_TIME", default: 600_000, in: 0...3_600_000)
        )
        var keys = TagKeys()
        keys.status = reader.optional("TAG_KEY_STATUS") ?? keys.status
        keys.signature = reader.optional("TAG_KEY_SIGNATURE") ?? keys.signature
        keys.time = reader.optional("TAG_KEY_TIME") ?? keys.time
        keys.definitions = reader.optional("TAG_KEY_DEFINITIONS") ?? keys.definitions
        for (name, key) in [("TAG_KEY_STATUS", keys.status), ("TAG_KEY_SIGNATURE", keys.signature),
                            ("TAG_KEY_TIME", keys.time), ("TAG_KEY_DEFINITIONS", keys.definitions)]
        where key.utf8.count > 128 || !ObjectTags.isAllowed(key) {
            throw ConfigurationError(name, "\"\(key)\" is not a valid S3 tag key (at most 128 characters of letters, digits, spaces and + - = . _ : / @)")
        }
        guard Set([keys.status, keys.signature, keys.time, keys.definitions]).count == 4 else {
            throw ConfigurationError("TAG_KEY_STATUS", "the four tag keys must differ")
        }
        tagKeys = keys
        workDirectory = reader.optional("SCANNER_WORK_DIRECTORY") ?? reader.optional("TMPDIR") ?? "/tmp"
    }
}
