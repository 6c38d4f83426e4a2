import ClamAV
import Foundation

/// What the scanner did with an object.
public enum ScanAction: String, Sendable, Codable {
    /// The scanned version was deleted.
    case deleted = "DELETED"
    /// The object was copied to the quarantine bucket and the scanned version deleted.
    case quarantined = "QUARANTINED"
    /// The object was tagged with its verdict.
    case tagged = "TAGGED"
    /// Nothing could be done (for example the object vanished, or tagging failed).
    case none = "NONE"
    /// Sent on to the large-object queue, to be scanned by the worker (no verdict yet).
    case handedOver = "HANDED_OVER"
}

/// The detail of `Object Scan Result` and `Object Scan Failed` events, in the shape of
/// GuardDuty Malware Protection for S3 so that consumers can move between the two
/// (docs/design.md, "Events").
public struct ScanResultDetail: Codable, Sendable, Equatable {
    /// The object, as GuardDuty names its fields.
    public struct S3ObjectDetails: Codable, Sendable, Equatable {
        public let bucketName: String
        public let objectKey: String
        public let versionId: String?
        public let eTag: String?
        public let size: Int64?
    }

    /// One threat found.
    public struct Threat: Codable, Sendable, Equatable {
        public let name: String
    }

    /// The database the scan used.
    public struct Definitions: Codable, Sendable, Equatable {
        public let version: String
        public let publishedAt: Date
    }

    public var schemaVersion = "1.0"
    /// `COMPLETED` (clean or infected), `SKIPPED` (unscannable) or `FAILED` (error), as GuardDuty.
    public let scanStatus: String
    public let verdict: ScanVerdict
    public let action: ScanAction
    /// `nil` only for an input record too malformed to name an object.
    public let s3ObjectDetails: S3ObjectDetails?
    public let threats: [Threat]
    public let statusReasons: [String]
    public let definitions: Definitions?
    public let durationMs: Int
    /// libclamav's type for the object (`PNG`, `PDF`, ...), when the scan got that far.
    public let fileType: String?
    /// Why the object was scanned when it was not for its upload: `backfill` (queued by
    /// `scanner enqueue`) or `rescan` (queued after new definitions); absent for uploads.
    public let trigger: String?

    /// Creates a detail for an object's final outcome.
    public init(
        object: ObjectRef?,
        verdict: ScanVerdict,
        action: ScanAction,
        signature: String?,
        reasons: [String],
        definitions: Definitions?,
        durationMs: Int,
        fileType: String? = nil,
        trigger: String? = nil
    ) {
        switch verdict {
        case .clean, .infected, .blocked: scanStatus = "COMPLETED"
        case .unscannable: scanStatus = "SKIPPED"
        case .error: scanStatus = "FAILED"
        }
        self.verdict = verdict
        self.action = action
        self.s3ObjectDetails = object.map {
            S3ObjectDetails(bucketName: $0.bucket, objectKey: $0.key, versionId: $0.versionID, eTag: $0.eTag, size: $0.size)
        }
        self.threats = verdict == .infected ? signature.map { [Threat(name: $0)] } ?? [] : []
        self.statusReasons = reasons
        self.definitions = definitions
        self.durationMs = durationMs
        self.fileType = fileType
        self.trigger = trigger
    }

    /// The detail as JSON, with ISO 8601 dates.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}
