import BusEvents
import ClamAV
import Definitions
import Environment

/// What to do with an infected or a blocked object (`INFECTED_ACTION`, `BLOCKED_ACTION`).
public enum VerdictAction: Sendable, Equatable {
    /// Delete the scanned version.
    case delete
    /// Copy it to the quarantine bucket, then delete the scanned version.
    case quarantine(bucket: String)
    /// Only tag it.
    case tag
}

/// How a new database replaces the loaded one (`DEFINITIONS_RELOAD`).
public enum ReloadMode: String, Sendable, Equatable, CaseIterable {
    /// Alongside when the memory limit holds two engines, else exclusive.
    case auto
    /// The new engine is loaded while the old one keeps scanning; then they are swapped.
    case alongside
    /// The old engine finishes its scans and is freed, then the new one is loaded: scans
    /// wait meanwhile (never fail, never clean), and memory holds one engine.
    case exclusive
}

/// The names of the tags the scanner writes (docs/design.md: key names are configurable).
public struct TagKeys: Sendable, Equatable {
    /// The verdict (`scan-status`).
    public var status = "scan-status"
    /// The threat name, when one is named and the object is kept (`scan-signature`).
    public var signature = "scan-signature"
    /// When the scan ended, ISO 8601 UTC (`scan-time`).
    public var time = "scan-time"
    /// The database version (`scan-definitions`).
    public var definitions = "scan-definitions"
    /// The scanner's proof that it wrote the verdict itself (`scan-proof`, ``VerdictProof``).
    public var proof = "scan-proof"
    /// libclamav's type for a `BLOCKED` object (`scan-file-type`).
    public var fileType = "scan-file-type"

    /// The default names.
    public init() {}

    /// Every key the scanner writes (the protective bucket policy lets no one else write them).
    public var all: [String] { [status, signature, time, definitions, proof, fileType] }
}

/// The scanner's settings, read once at start-up from the environment (docs/design.md, "Configuration").
public struct ScannerConfiguration: Sendable, Equatable {
    /// Where the database is published.
    public var definitions: DefinitionsLocation
    /// The custom event bus; `nil` publishes no events.
    public var eventBusName: String?
    /// What happens to infected objects.
    public var infectedAction: VerdictAction
    /// What happens to objects the file-type policy blocks.
    public var blockedAction: VerdictAction
    /// The file types each bucket or prefix accepts; `nil` accepts every type.
    public var fileTypePolicy: FileTypePolicy?
    /// Which objects are scanned at all; `nil` scans every object.
    public var filters: ScanFilters?
    /// The scan queue (`SCAN_QUEUE_URL`): where `scanner enqueue` and the rescan send.
    public var scanQueueURL: String?
    /// The rescan after new definitions; `nil` when it is off.
    public var rescan: RescanSettings?
    /// How a new database replaces the loaded one.
    public var reloadMode: ReloadMode
    /// Objects larger than this are quarantined with a multipart copy (`MULTIPART_COPY_THRESHOLD`,
    /// S3's single-copy limit of 5 GiB by default).
    public var multipartCopyThreshold: Int64
    /// Where objects over `maxObjectSize` are handed on (the worker's queue) instead of being
    /// `UNSCANNABLE` (`LARGE_OBJECT_QUEUE_URL`).
    public var largeObjectQueueURL: String?
    /// Objects larger than this many bytes are `UNSCANNABLE` without being downloaded.
    public var maxObjectSize: Int64
    /// Whether `CLEAN` results are published too.
    public var publishCleanResults: Bool
    /// Seconds between checks of `manifest.json`.
    public var definitionsCheckInterval: Int
    /// Hours after which the database counts as stale.
    public var maxDefinitionsAgeHours: Int
    /// The scan limits inside one object (archives); `maxFileSize` is what libclamav scans whole.
    public var limits: ScanLimits
    /// How files over `limits.maxFileSize` and up to `maxObjectSize` are scanned; `nil` when
    /// every object fits libclamav whole.
    public var largeFiles: LargeFileScanning?
    /// The tag names.
    public var tagKeys: TagKeys
    /// Where the scanner keeps its private folder for objects, databases and unpacked members.
    public var workDirectory: String
    /// Objects scanned at once in one process (a Lambda instance's batch, or the worker).
    public var scanConcurrency: Int
    /// The `Service` dimension of the metrics: the function, or the worker's service name.
    public var serviceName: String

    /// The default `MAX_OBJECT_SIZE`: libclamav 1.4 scans at most `INT_MAX - 2` bytes as
    /// one file and silently caps a larger limit, so the default stays clearly below it.
    public static let defaultMaxObjectSize: Int64 = 2_000_000_000

    /// Reads the configuration; a missing or malformed value throws an error naming it.
    public init(environment: [String: String]) throws {
        let reader = EnvironmentReader(environment)
        definitions = try DefinitionsLocation(reader)
        eventBusName = EventBusPublisher.busName(reader)
        infectedAction = try Self.action(reader, "INFECTED_ACTION", default: "delete")
        blockedAction = try Self.action(reader, "BLOCKED_ACTION", default: "tag")
        fileTypePolicy = try FileTypePolicy(reader)
        filters = try ScanFilters(reader)
        scanQueueURL = reader.optional("SCAN_QUEUE_URL")
        rescan = try RescanSettings(reader)
        largeObjectQueueURL = reader.optional("LARGE_OBJECT_QUEUE_URL")
        reloadMode =
            ReloadMode(rawValue: try reader.choice("DEFINITIONS_RELOAD", default: "auto", allowed: ReloadMode.allCases.map(\.rawValue))) ?? .auto
        multipartCopyThreshold = try reader.integer("MULTIPART_COPY_THRESHOLD", default: 5 << 30, in: (5 << 20)...(5 << 30))
        if rescan != nil, scanQueueURL == nil {
            throw ConfigurationError("SCAN_QUEUE_URL", "is required when RESCAN_BUCKETS is set (the rescan queues its objects there)")
        }
        maxObjectSize = try reader.integer("MAX_OBJECT_SIZE", default: Self.defaultMaxObjectSize, in: 1...(100 << 30))
        publishCleanResults = try reader.bool("PUBLISH_CLEAN_RESULTS", default: true)
        definitionsCheckInterval = try reader.integer("DEFINITIONS_CHECK_INTERVAL", default: 300, in: 0...86_400)
        maxDefinitionsAgeHours = try reader.integer("MAX_DEFINITIONS_AGE", default: 48, in: 1...8_760)
        // libclamav scans a file (the object or a member) whole up to its max file size, set
        // from MAX_FILE_SIZE (default MAX_OBJECT_SIZE, capped at what libclamav honours);
        // larger ones, up to MAX_OBJECT_SIZE, are scanned in windows. Each unpacker may
        // unpack MAX_SCAN_SIZE from one object.
        let fileSizeSet = reader.optional("MAX_FILE_SIZE") != nil
        var limits = ScanLimits(
            maxFileSize: try reader.integer("MAX_FILE_SIZE", default: maxObjectSize, in: (min(65_536, maxObjectSize))...maxObjectSize),
            maxScanSize: try reader.integer("MAX_SCAN_SIZE", default: maxObjectSize, in: 1...(200 << 30)),
            maxFiles: try reader.integer("MAX_FILES", default: ScanLimits.clamAVDefaults.maxFiles, in: 1...1_000_000),
            maxRecursion: try reader.integer("MAX_RECURSION", default: ScanLimits.clamAVDefaults.maxRecursion, in: 1...64),
            maxScanTimeMilliseconds: try reader.integer("MAX_SCAN_TIME", default: 120_000, in: 1_000...3_600_000)
        )
        let honoured = try Self.honoured(limits)
        if honoured.maxFileSize != limits.maxFileSize {
            guard !fileSizeSet else {
                throw ConfigurationError(
                    "MAX_FILE_SIZE",
                    "is \(limits.maxFileSize) bytes, but libclamav \(ClamAVLibrary.version) scans at most \(honoured.maxFileSize) bytes as one file"
                )
            }
            limits.maxFileSize = honoured.maxFileSize
        }
        self.limits = limits
        if maxObjectSize > limits.maxFileSize {
            let window = min(Int64(1) << 30, limits.maxFileSize / 4 * 3)
            largeFiles = LargeFileScanning(maxSize: maxObjectSize, windowSize: window, overlap: min(Int64(1) << 20, window / 4))
        }
        scanConcurrency = try reader.integer("SCAN_CONCURRENCY", default: 2, in: 1...64)
        serviceName = reader.optional("SERVICE_NAME") ?? reader.optional("AWS_LAMBDA_FUNCTION_NAME") ?? "scanner"
        var keys = TagKeys()
        keys.status = reader.optional("TAG_KEY_STATUS") ?? keys.status
        keys.signature = reader.optional("TAG_KEY_SIGNATURE") ?? keys.signature
        keys.time = reader.optional("TAG_KEY_TIME") ?? keys.time
        keys.definitions = reader.optional("TAG_KEY_DEFINITIONS") ?? keys.definitions
        keys.proof = reader.optional("TAG_KEY_PROOF") ?? keys.proof
        keys.fileType = reader.optional("TAG_KEY_FILE_TYPE") ?? keys.fileType
        for (name, key) in [
            ("TAG_KEY_STATUS", keys.status), ("TAG_KEY_SIGNATURE", keys.signature),
            ("TAG_KEY_TIME", keys.time), ("TAG_KEY_DEFINITIONS", keys.definitions), ("TAG_KEY_PROOF", keys.proof),
            ("TAG_KEY_FILE_TYPE", keys.fileType),
        ]
        where key.utf8.count > 128 || !ObjectTags.isAllowed(key) {
            throw ConfigurationError(
                name, "\"\(key)\" is not a valid S3 tag key (at most 128 characters of letters, digits, spaces and + - = . _ : / @)")
        }
        guard Set(keys.all).count == keys.all.count else {
            throw ConfigurationError("TAG_KEY_STATUS", "the scanner's tag keys must differ")
        }
        tagKeys = keys
        workDirectory = reader.optional("SCANNER_WORK_DIRECTORY") ?? reader.temporaryDirectory
    }

    /// The quarantine bucket, when an action uses one (the scanner never scans what it writes there).
    public var quarantineBucket: String? {
        for action in [infectedAction, blockedAction] {
            if case .quarantine(let bucket) = action { return bucket }
        }
        return nil
    }

    /// `delete`, `quarantine` (into `QUARANTINE_BUCKET`) or `tag`.
    private static func action(_ reader: EnvironmentReader, _ variable: String, default value: String) throws(ConfigurationError) -> VerdictAction {
        switch try reader.choice(variable, default: value, allowed: ["delete", "quarantine", "tag"]) {
        case "quarantine":
            guard let bucket = reader.optional("QUARANTINE_BUCKET") else {
                throw ConfigurationError("QUARANTINE_BUCKET", "is required when \(variable) is quarantine")
            }
            return .quarantine(bucket: bucket)
        case "tag":
            return .tag
        default:
            return .delete
        }
    }

    /// libclamav caps some limits without an error (the max file size at `INT_MAX - 2` in
    /// 1.4): the limits as it would apply them; a scan size it would change stops start-up.
    private static func honoured(_ limits: ScanLimits) throws -> ScanLimits {
        let honoured: ScanLimits
        do {
            honoured = try ClamAVEngine.honouredLimits(for: limits)
        } catch {
            throw ConfigurationError("MAX_OBJECT_SIZE", "cannot check the limits with libclamav: \(error)")
        }
        if honoured.maxScanSize != limits.maxScanSize {
            throw ConfigurationError(
                "MAX_SCAN_SIZE", "is \(limits.maxScanSize) bytes, but libclamav \(ClamAVLibrary.version) applies \(honoured.maxScanSize)"
            )
        }
        return honoured
    }
}

extension ScannerConfiguration: Encodable {
    private enum CodingKeys: String, CodingKey {
        case definitions, eventBusName, infectedAction, blockedAction, fileTypePolicy, filters, scanQueueURL, rescanBuckets, rescanWindowHours
        case largeObjectQueueURL, multipartCopyThreshold, reloadMode
        case quarantineBucket, maxObjectSize, maxFileSize, scanWindow
        case maxScanSize, maxFiles, maxRecursion, maxScanTimeMilliseconds, publishCleanResults
        case definitionsCheckInterval, maxDefinitionsAgeHours, tagKeys, workDirectory, scanConcurrency, serviceName
    }

    /// The configuration as `scanner check-config` prints it.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(definitions, forKey: .definitions)
        try container.encodeIfPresent(eventBusName, forKey: .eventBusName)
        var quarantine: String?
        for (action, key) in [(infectedAction, CodingKeys.infectedAction), (blockedAction, .blockedAction)] {
            switch action {
            case .delete: try container.encode("delete", forKey: key)
            case .tag: try container.encode("tag", forKey: key)
            case .quarantine(let bucket):
                try container.encode("quarantine", forKey: key)
                quarantine = bucket
            }
        }
        try container.encodeIfPresent(quarantine, forKey: .quarantineBucket)
        if let fileTypePolicy {
            try container.encode(
                fileTypePolicy.rules.map { "\($0.bucket)/\($0.prefix)=\($0.allowed.sorted().joined(separator: ","))" }, forKey: .fileTypePolicy
            )
        }
        if let filters {
            try container.encode(filters.buckets, forKey: .filters)
        }
        try container.encodeIfPresent(scanQueueURL, forKey: .scanQueueURL)
        try container.encodeIfPresent(largeObjectQueueURL, forKey: .largeObjectQueueURL)
        try container.encode(multipartCopyThreshold, forKey: .multipartCopyThreshold)
        try container.encode(reloadMode.rawValue, forKey: .reloadMode)
        if let rescan {
            try container.encode(rescan.targets.map { $0.prefix.isEmpty ? $0.bucket : "\($0.bucket)/\($0.prefix)" }, forKey: .rescanBuckets)
            try container.encode(rescan.windowHours, forKey: .rescanWindowHours)
        }
        try container.encode(maxObjectSize, forKey: .maxObjectSize)
        try container.encode(limits.maxFileSize, forKey: .maxFileSize)
        if let largeFiles {
            try container.encode(["size": largeFiles.windowSize, "overlap": largeFiles.overlap], forKey: .scanWindow)
        }
        try container.encode(limits.maxScanSize, forKey: .maxScanSize)
        try container.encode(limits.maxFiles, forKey: .maxFiles)
        try container.encode(limits.maxRecursion, forKey: .maxRecursion)
        try container.encode(limits.maxScanTimeMilliseconds, forKey: .maxScanTimeMilliseconds)
        try container.encode(publishCleanResults, forKey: .publishCleanResults)
        try container.encode(definitionsCheckInterval, forKey: .definitionsCheckInterval)
        try container.encode(maxDefinitionsAgeHours, forKey: .maxDefinitionsAgeHours)
        try container.encode(
            [
                "status": tagKeys.status, "signature": tagKeys.signature, "time": tagKeys.time, "definitions": tagKeys.definitions,
                "proof": tagKeys.proof, "fileType": tagKeys.fileType,
            ],
            forKey: .tagKeys
        )
        try container.encode(workDirectory, forKey: .workDirectory)
        try container.encode(scanConcurrency, forKey: .scanConcurrency)
        try container.encode(serviceName, forKey: .serviceName)
    }
}
