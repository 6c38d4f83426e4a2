import Environment

/// Where the database is published: the definitions bucket and the key prefix under it
/// (`DEFINITIONS_BUCKET`, `DEFINITIONS_PREFIX`), the same for the scanner and the updater.
public struct DefinitionsLocation: Sendable, Equatable, Encodable {
    /// The private bucket holding the database and `manifest.json`.
    public var bucket: String
    /// The key prefix of the database in that bucket, ending in `/` (or empty).
    public var prefix: String

    /// Creates a location.
    public init(bucket: String, prefix: String = "clamav/") {
        self.bucket = bucket
        self.prefix = prefix
    }

    /// Reads `DEFINITIONS_BUCKET` (required) and `DEFINITIONS_PREFIX` (default `clamav/`).
    public init(_ reader: EnvironmentReader) throws(ConfigurationError) {
        bucket = try reader.required("DEFINITIONS_BUCKET")
        prefix = reader.prefix("DEFINITIONS_PREFIX", default: "clamav/")
    }
}
