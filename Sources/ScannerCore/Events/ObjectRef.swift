import Foundation

/// One S3 object version that an event asks the scanner about.
public struct ObjectRef: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The bucket name.
    public let bucket: String
    /// The object key, decoded.
    public let key: String
    /// The version the event names; `nil` for unversioned buckets (or events that omit it).
    public let versionID: String?
    /// The ETag the event reports, without quotes, when it has one.
    public let eTag: String?
    /// The size the event reports, when it has one.
    public let size: Int64?
    /// Why it is to be scanned when not for its upload (`backfill`, `rescan`): carried by the
    /// messages `scanner enqueue` sends, and into the result event.
    public let trigger: String?
    /// For a rescan: the definitions it is for. The scan uses them or newer ones, loading them
    /// first when this process still holds older ones; carried by the messages the rescan sends.
    public let definitionsNeeded: DefinitionsUpdate?

    /// Creates a reference.
    public init(
        bucket: String, key: String, versionID: String? = nil, eTag: String? = nil, size: Int64? = nil, trigger: String? = nil,
        definitionsNeeded: DefinitionsUpdate? = nil
    ) {
        self.bucket = bucket
        self.key = key
        self.versionID = versionID
        self.eTag = eTag
        self.size = size
        self.trigger = trigger
        self.definitionsNeeded = definitionsNeeded
    }

    public var description: String {
        "s3://\(bucket)/\(key)" + (versionID.map { " (version \($0))" } ?? "")
    }
}
