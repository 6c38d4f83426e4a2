import Crypto
import Foundation

/// `manifest.json` in the definitions bucket: written last by the updater, read by the
/// scanner to learn whether it must reload (DESIGN.md, "Definitions bucket layout").
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

        /// Creates an entry.
        public init(name: String, sha256: String, size: Int64, version: Int?) {
            self.name = name
            self.sha256 = sha256
            self.size = size
            self.version = version
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

    /// Creates a manifest; the files are sorted by name.
    public init(version: String, publishedAt: Date, databaseTime: Date?, signatureCount: Int, files: [File]) {
        self.schemaVersion = Self.currentSchemaVersion
        self.version = version
        self.publishedAt = publishedAt
        self.databaseTime = databaseTime
        self.signatureCount = signatureCount
        self.files = files.sorted { $0.name < $1.name }
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
