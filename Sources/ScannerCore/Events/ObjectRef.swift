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

    /// Creates a reference.
    public init(bucket: String, key: String, versionID: String? = nil, eTag: String? = nil, size: Int64? = nil) {
        self.bucket = bucket
        self.key = key
        self.versionID = versionID
        self.eTag = eTag
        self.size = size
    }

    public var description: String {
        "s3://\(bucket)/\(key)" + (versionID.map { " (version \($0))" } ?? "")
    }
}
