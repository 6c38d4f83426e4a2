import AWSClients
import ClamAV
import Crypto
import Foundation
import Logging

/// The database in the definitions bucket (docs/design.md, "Definitions bucket layout"): database
/// files under a prefix, the updater's state files, and `manifest.json`, written last.
public struct DefinitionsBucket: Sendable {
    let store: any ObjectStore
    /// The bucket name.
    public let bucket: String
    /// The key prefix, ending in `/` (or empty).
    public let prefix: String
    let logger: Logger

    /// Creates a view of the database under `prefix` in `bucket`.
    public init(store: any ObjectStore, bucket: String, prefix: String, logger: Logger) {
        self.store = store
        self.bucket = bucket
        self.prefix = prefix
        self.logger = logger
    }

    /// The published manifest, or `nil` when none was ever published.
    public func publishedManifest() async throws -> DefinitionsManifest? {
        do {
            guard
                case .modified(let data, _) = try await store.getObject(
                    bucket: bucket, key: prefix + "manifest.json", versionID: nil, ifNoneMatch: nil, maxSize: 4 << 20)
            else {
                return nil
            }
            return try DefinitionsManifest.decode(data)
        } catch let error as AWSError where error.isNotFound {
            return nil
        }
    }

    /// The version label of a validated database: the signed databases' `name:version` pairs,
    /// plus `custom:` and a short hash of the other files, so that any change gives a new label.
    public static func version(of database: DatabaseInfo, files: [DefinitionsManifest.File]) -> String {
        let custom = files.filter { $0.version == nil }
        var parts = database.version.map { [$0] } ?? []
        if !custom.isEmpty {
            let digest = SHA256.hash(data: Data(custom.map { "\($0.name):\($0.sha256)\n" }.joined().utf8))
            parts.append("custom:" + digest.prefix(6).map { String(format: "%02x", $0) }.joined())
        }
        return parts.joined(separator: "+")
    }

    /// Describes every database file of a loaded directory for a manifest.
    public static func describe(_ database: DatabaseInfo) throws -> [DefinitionsManifest.File] {
        try database.files.map { file in
            let path = (database.directory as NSString).appendingPathComponent(file.name)
            let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
            return DefinitionsManifest.File(
                name: file.name, sha256: try DefinitionsManifest.sha256(ofFileAt: path), size: size, version: file.version)
        }
    }

    /// What ``publish(_:stateFiles:now:)`` did.
    public struct Publication: Sendable {
        /// The manifest now in the bucket.
        public let manifest: DefinitionsManifest
        /// The database and state files uploaded (unchanged files are not).
        public let uploaded: [String]
        /// Whether a new manifest was written (false when the database did not change).
        public let manifestWritten: Bool
    }

    /// Publishes a database that an engine loaded (and so validated): uploads the files that
    /// differ from the published manifest, then the state files, then `manifest.json` last, so
    /// that a reader never sees a manifest naming files that are not there yet.
    public func publish(_ database: DatabaseInfo, stateFiles: [String] = [], now: Date = Date()) async throws -> Publication {
        let files = try Self.describe(database)
        let previous = try await publishedManifest()
        var uploaded: [String] = []
        var stored: [DefinitionsManifest.File] = []
        for file in files {
            if let unchanged = previous?.files.first(where: { $0.hasSameContent(as: file) }) {
                stored.append(unchanged)
                continue
            }
            let path = (database.directory as NSString).appendingPathComponent(file.name)
            let written = try await store.putObject(bucket: bucket, key: prefix + file.name, fileAt: path, contentType: nil, tags: [])
            stored.append(file.stored(as: written.versionID))
            uploaded.append(file.name)
        }
        for path in stateFiles where FileManager.default.fileExists(atPath: path) {
            let name = (path as NSString).lastPathComponent
            _ = try await store.putObject(bucket: bucket, key: prefix + name, fileAt: path, contentType: nil, tags: [])
            uploaded.append(name)
        }
        let version = Self.version(of: database, files: files)
        let databaseChanged = stored.contains { file in !(previous?.files.contains(file) ?? false) } || previous?.files.count != stored.count
        if let previous, !databaseChanged, previous.version == version {
            logger.info("the database did not change; manifest.json kept", metadata: ["definitions": "\(version)"])
            return Publication(manifest: previous, uploaded: uploaded, manifestWritten: false)
        }
        let manifest = DefinitionsManifest(
            version: version, publishedAt: now, databaseTime: database.newestBuildTime,
            signatureCount: database.signatureCount, files: stored,
            // The key carries over, so that verdicts proven with older definitions stay provable
            // (`scanner enqueue --only unscanned`); a manifest without one gets a new key.
            proofKey: previous?.proofKey ?? DefinitionsManifest.makeProofKey()
        )
        _ = try await store.putObject(
            bucket: bucket, key: prefix + "manifest.json", data: try manifest.encoded(), contentType: "application/json", tags: [])
        logger.notice("definitions published", metadata: ["definitions": "\(version)", "uploaded": "\(uploaded)"])
        return Publication(manifest: manifest, uploaded: uploaded, manifestWritten: true)
    }

    /// Restores the published database and the named state files into `directory`, skipping
    /// files already there with the published hash. Returns the published manifest, if any.
    public func restore(into directory: String, stateFiles: [String]) async throws -> DefinitionsManifest? {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let manifest = try await publishedManifest()
        for file in manifest?.files ?? [] {
            let path = (directory as NSString).appendingPathComponent(file.name)
            if FileManager.default.fileExists(atPath: path), (try? DefinitionsManifest.sha256(ofFileAt: path)) == file.sha256 { continue }
            _ = try await store.getObject(bucket: bucket, key: prefix + file.name, versionID: file.versionID, ifMatch: nil, to: path)
            guard try DefinitionsManifest.sha256(ofFileAt: path) == file.sha256 else {
                throw ManifestError("\(file.name) in s3://\(bucket)/\(prefix) does not match manifest.json")
            }
        }
        for name in stateFiles {
            let path = (directory as NSString).appendingPathComponent(name)
            do {
                _ = try await store.getObject(bucket: bucket, key: prefix + name, versionID: nil, ifMatch: nil, to: path)
            } catch let error as AWSError where error.isNotFound {
                continue
            }
        }
        return manifest
    }
}
