import ClamAV
import Foundation

/// Decides whether a database freshclam produced may be published.
///
/// It must load and compile in the scanner's own engine with at least one signature, detect
/// the canary, and be no older than the published one, database by database.
///
/// The canary: by default the EICAR test file, which the official `daily` database detects
/// (`Win.Test.EICAR_HDB-1`, `Eicar-Signature`). A deployment with only custom databases
/// whose signatures do not cover EICAR sets `CANARY_FILE` to a sample its own signatures
/// detect; without a detected canary nothing is published, because a database that
/// detects nothing would make every object look clean.
public struct DatabaseValidator: Sendable {
    /// The 68-byte EICAR anti-virus test file (https://www.eicar.org/download-anti-malware-testfile/).
    public static let eicar = #"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"#

    /// A file the database must detect; `nil` uses the EICAR test file.
    public let canaryFile: String?
    /// The engine settings, as the scanner uses them.
    public let engineOptions: EngineOptions

    /// Creates a validator.
    public init(canaryFile: String? = nil, engineOptions: EngineOptions = EngineOptions()) {
        self.canaryFile = canaryFile
        self.engineOptions = engineOptions
    }

    /// Validates the database in `databaseDirectory`; returns what the engine loaded.
    ///
    /// - Parameters:
    ///   - publishedVersions: the published version of each signed database by name
    ///     (`["daily": 27461, "main": 62]`); a lower version in the new directory is refused.
    ///   - scratchDirectory: where the EICAR canary is written when no canary file is configured.
    /// - Throws: ``UpdateFailure`` with ``UpdateFailureReason/validationFailed`` or
    ///   ``UpdateFailureReason/olderDatabase``.
    public func validate(databaseDirectory: String, publishedVersions: [String: Int], scratchDirectory: String) async throws -> DatabaseInfo {
        let engine: ClamAVEngine
        do {
            engine = try await ClamAVEngine.load(databaseDirectory: databaseDirectory, options: engineOptions)
        } catch {
            throw UpdateFailure(.validationFailed, "the new database does not load: \(error)")
        }

        let canary = try canaryPath(scratchDirectory: scratchDirectory)
        let result: ScanResult
        do {
            result = try await engine.scan(fileAtPath: canary)
        } catch {
            throw UpdateFailure(.validationFailed, "the canary \(canary) could not be scanned: \(error)")
        }
        guard result.verdict == .infected else {
            throw UpdateFailure(
                .validationFailed,
                "the new database (\(engine.database.signatureCount) signatures) does not detect the canary \(canaryFile ?? "EICAR test file"): "
                    + "the scan said \(result.verdict.rawValue); set CANARY_FILE to a sample its signatures detect"
            )
        }

        let versions = Self.versions(of: engine.database)
        if let downgrade = Self.downgrades(new: versions, published: publishedVersions).first {
            throw UpdateFailure(
                .olderDatabase,
                "the new \(downgrade.name) database is version \(downgrade.new), older than the published version \(downgrade.published)"
            )
        }
        return engine.database
    }

    /// The version of each signed database (`.cvd`/`.cld`) by name.
    public static func versions(of database: DatabaseInfo) -> [String: Int] {
        var result: [String: Int] = [:]
        for file in database.files {
            guard let version = file.version else { continue }
            let name = DatabaseDirectory.databaseName(file.name)
            result[name] = max(result[name] ?? version, version)
        }
        return result
    }

    /// Databases whose new version is lower than the published one, sorted by name. A
    /// database missing from either side is not a downgrade.
    public static func downgrades(new: [String: Int], published: [String: Int]) -> [(name: String, new: Int, published: Int)] {
        new.compactMap { name, version -> (name: String, new: Int, published: Int)? in
            guard let old = published[name], version < old else { return nil }
            return (name, version, old)
        }.sorted { $0.name < $1.name }
    }

    private func canaryPath(scratchDirectory: String) throws -> String {
        if let canaryFile {
            guard FileManager.default.isReadableFile(atPath: canaryFile) else {
                throw UpdateFailure(.validationFailed, "the canary file CANARY_FILE=\(canaryFile) cannot be read")
            }
            return canaryFile
        }
        let path = (scratchDirectory as NSString).appendingPathComponent("eicar-canary.txt")
        guard FileManager.default.createFile(atPath: path, contents: Data(Self.eicar.utf8)) else {
            throw UpdateFailure(.validationFailed, "cannot write the EICAR canary to \(path)")
        }
        return path
    }
}
