import Crypto
import Foundation

/// `manifest.json` in the definitions bucket: written last by the updater, read by the
/// scanner to learn whether it must reload (docs/design.md, "Definitions bucket layout").
public struct DefinitionsManifest: Codable, Sendable, Equatable {
    /// One database file under the prefix.
    public struct File: Codable, Sendable, Equatable {
        /// The file name, such as `daily.cld` or `custom.ndb`.
        public let name: String
        /// The SHA-256 of the file's bytes, lower-case hex.
        public let sha256: String
        /// The size in bytes.
        public let size: Int64
        /// The version from a `.cvd`/`.cld`/`.cud` header; `nil` for plain signature files.
        public let version: Int?
        /// The S3 version of the object that holds these bytes, when the bucket is versioned:
        /// a reader fetches exactly it, so a manifest stays usable while the next one's files
        /// are being uploaded over the same keys.
        public let versionID: String?

        /// Creates an entry.
        public init(name: String, sha256: String, size: Int64, version: Int?, versionID: String? = nil) {
            self.name = name
            self.sha256 = sha256
            self.size = size
            self.version = version
            self.versionID = versionID
        }

        /// Whether both entries describe the same bytes under the same name (wherever they are stored).
        public func hasSameContent(as other: File) -> Bool {
            name == other.name && sha256 == other.sha256 && size == other.size && version == other.version
        }

        /// This entry, stored in S3 version `versionID`.
        public func stored(as versionID: String?) -> File {
            File(name: name, sha256: sha256, size: size, version: version, versionID: versionID)
        }
    }

    /// The manifest format; readers refuse others.
    public static let currentSchemaVersion = 1

    /// The manifest format of this document.
    public let schemaVersion: Int
    /// The database version used in tags and events, such as `main:62+daily:27461+bytecode:335`.
    public let version: String
    /// When the updater published this database.
    public let publishedAt: Date
    /// The newest build time among the signed databases, when there is one.
    public let databaseTime: Date?
    /// The number of signatures the database loaded during validation.
    public let signatureCount: Int
    /// Every database file the scanner must download, sorted by name.
    public let files: [File]
    /// The key the scanner signs its verdict tags with for these definitions (32 random bytes,
    /// base64), new with every manifest. Uploaders cannot read the definitions bucket, so a
    /// verdict tag they write carries no valid proof and is never trusted (docs/threat-model.md).
    /// `nil` in manifests written before it existed: then nothing is trusted.
    public let proofKey: String?

    /// Creates a manifest; the files are sorted by name.
    public init(version: String, publishedAt: Date, databaseTime: Date?, signatureCount: Int, files: [File], proofKey: String? = nil) {
        self.schemaVersion = Self.currentSchemaVersion
        self.version = version
        self.publishedAt = publishedAt
        self.databaseTime = databaseTime
        self.signatureCount = signatureCount
        self.files = files.sorted { $0.name < $1.name }
        self.proofKey = proofKey
    }

    /// A new random proof key, base64.
    public static func makeProofKey() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
    }

    /// The time the database's age is counted from: its newest build time, else its publication.
    public var effectiveDatabaseTime: Date { databaseTime ?? publishedAt }

    /// Decodes and checks a manifest: known schema, at least one file, safe file names,
    /// well-formed hashes and no duplicate names.
    public static func decode(_ data: Data) throws -> DefinitionsManifest {
        let manifest: DefinitionsManifest
        do {
            manifest = try decoder.decode(DefinitionsManifest.self, from: data)
        } catch {
            throw ManifestError("manifest.json is not a valid manifest: \(error)")
        }
        guard manifest.schemaVersion == currentSchemaVersion else {
            throw ManifestError("manifest.json has schema version \(manifest.schemaVersion); this build reads \(currentSchemaVersion)")
        }
        guard !manifest.files.isEmpty else { throw ManifestError("manifest.json lists no database file") }
        var seen: Set<String> = []
        for file in manifest.files {
            guard isSafeFileName(file.name) else { throw ManifestError("manifest.json names an unsafe file \"\(file.name)\"") }
            guard seen.insert(file.name).inserted else { throw ManifestError("manifest.json lists \(file.name) twice") }
            guard file.sha256.count == 64, file.sha256.allSatisfy(\.isHexDigit), file.size >= 0 else {
                throw ManifestError("manifest.json has a malformed hash or size for \(file.name)")
            }
        }
        if let proofKey = manifest.proofKey, Data(base64Encoded: proofKey)?.count != 32 {
            throw ManifestError("manifest.json has a malformed proof key")
        }
        return manifest
    }

    /// The manifest as JSON (sorted keys, ISO 8601 dates).
    public func encoded() throws -> Data {
        try Self.encoder.encode(self)
    }

    /// The lower-case hex SHA-256 of a file, read in chunks.
    public static func sha256(ofFileAt path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ManifestError("cannot open \(path) to hash it")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            hasher.update(data: chunk)
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// A single path component of letters, digits, `.`, `-` and `_`: never `..` or a path.
    public static func isSafeFileName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.hasPrefix(".")
            && name.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) && $0.isASCII || "._-".unicodeScalars.contains($0) }
    }

    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return encoder
    }()
}

/// A manifest that cannot be used.
public struct ManifestError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What is wrong.
    public let description: String

    /// Creates an error.
    public init(_ description: String) {
        self.description = description
    }
}
