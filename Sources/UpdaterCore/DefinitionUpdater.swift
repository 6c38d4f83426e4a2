import ClamAV
import Foundation
import Logging

/// How one update ended.
public enum UpdateOutcome: Sendable, Equatable, Encodable {
    /// freshclam changed the database; it was validated and is ready to publish.
    case updated
    /// Nothing new on the mirrors.
    case upToDate
    /// Nothing to publish, except perhaps `freshclam.dat` (which carries a cool-down).
    case failed(UpdateFailure)

    /// `UPDATED`, `UP_TO_DATE`, or the failure reason.
    public var code: String {
        switch self {
        case .updated: "UPDATED"
        case .upToDate: "UP_TO_DATE"
        case .failed(let failure): failure.reason.rawValue
        }
    }

    /// Whether the run counts as failed: a failure that was attempted (a cool-down or a
    /// too-early run was not).
    public var isFailure: Bool {
        if case .failed(let failure) = self { return !failure.reason.isNotAttempted }
        return false
    }

    /// Encoded as its ``code``.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(code)
    }
}

/// The result of one run: the outcome, what to upload and delete in the definitions
/// bucket, and the state to store for the next run.
public struct UpdateReport: Sendable {
    /// How the run ended.
    public let outcome: UpdateOutcome
    /// What freshclam did; `nil` when the guard refused to start it.
    public let freshclamOutcome: FreshclamOutcome?
    /// Files in ``databaseDirectory`` to upload: changed database files and, when it
    /// changed (a new cool-down, a first run), `freshclam.dat`. Non-empty on failure only
    /// for `freshclam.dat`.
    public let filesToUpload: [String]
    /// Files no longer in the database (such as a `.cvd` replaced by a `.cld`) to delete.
    public let filesToDelete: [String]
    /// Every file of ``databaseDirectory`` after the run, for the manifest.
    public let files: [DatabaseFileRecord]
    /// What the engine loaded when the run validated a new database.
    public let database: DatabaseInfo?
    /// The database directory, holding the accepted database.
    public let databaseDirectory: String
    /// The state to store for the next run.
    public let state: UpdaterState
    /// freshclam printed that this ClamAV is outdated (the update may still have worked).
    public let engineOutdated: Bool
    /// Everything freshclam printed; empty when it did not run.
    public let freshclamOutput: String

    /// The version of each signed database in ``databaseDirectory`` by name (`["daily": 27461]`):
    /// what to pass as `publishedVersions` to the next run once these files are published.
    public var databaseVersions: [String: Int] {
        var result: [String: Int] = [:]
        for file in files {
            guard let version = file.version else { continue }
            let name = DatabaseDirectory.databaseName(file.name)
            result[name] = max(result[name] ?? version, version)
        }
        return result
    }
}

/// One definition update, everything but the S3 and EventBridge I/O.
///
/// The caller restores the published database and `freshclam.dat` into
/// `WORK/database/` (with each file's recorded modification time), calls ``run(in:state:publishedVersions:now:)``
/// and then uploads ``UpdateReport/filesToUpload`` from ``UpdateReport/databaseDirectory``,
/// deletes ``UpdateReport/filesToDelete``, writes the manifest last, and stores
/// ``UpdateReport/state``.
///
/// freshclam works in a copy (`WORK/staging/`), so a failed or invalid update never
/// touches `WORK/database/`; only a validated database is moved there.
public struct DefinitionUpdater: Sendable {
    /// The settings.
    public let configuration: UpdaterConfiguration
    /// How the new database is checked.
    public let validator: DatabaseValidator
    /// Logs at debug and info; the executable decides the level.
    public let logger: Logger

    /// The folder under the working directory that holds the accepted database.
    public static let databaseFolder = "database"
    /// The folder under the working directory where freshclam runs.
    public static let stagingFolder = "staging"

    /// Creates an updater.
    public init(
        configuration: UpdaterConfiguration, engineOptions: EngineOptions = EngineOptions(), logger: Logger = Logger(label: "definition-updater")
    ) {
        self.configuration = configuration
        self.validator = DatabaseValidator(canaryFile: configuration.canaryFile, engineOptions: engineOptions)
        self.logger = logger
    }

    /// Runs one update in `workingDirectory`.
    ///
    /// - Parameters:
    ///   - workingDirectory: a private folder; `database/` in it holds the restored published
    ///     database (it may be missing or empty before the first publication).
    ///   - state: the state stored by the previous run.
    ///   - publishedVersions: the published version of each signed database (`daily`, `main`,
    ///     ...); a new database with a lower version is refused.
    ///   - now: the time the guard compares with.
    /// - Throws: ``UpdateFailure`` only when the working directory cannot be prepared; every
    ///   freshclam or validation failure is an ``UpdateOutcome/failed(_:)`` outcome.
    public func run(in workingDirectory: String, state: UpdaterState, publishedVersions: [String: Int], now: Date = Date()) async throws
        -> UpdateReport
    {
        let database = (workingDirectory as NSString).appendingPathComponent(Self.databaseFolder)
        let staging = (workingDirectory as NSString).appendingPathComponent(Self.stagingFolder)
        try DatabaseDirectory.create(database)

        var newState = state
        if let refusal = UpdateGuard.refusal(
            state: state,
            freshclamState: FreshclamState(databaseDirectory: database),
            minUpdateInterval: configuration.minUpdateInterval,
            now: now
        ) {
            logger.info("definition update refused", metadata: ["reason": "\(refusal.reason.rawValue)", "message": "\(refusal.message)"])
            newState.lastOutcome = refusal.reason.rawValue
            if refusal.reason == .coolDown { newState.coolDownUntil = refusal.retryAfter }
            return try report(.failed(refusal), freshclam: nil, upload: [], delete: [], database: database, info: nil, state: newState, run: nil)
        }

        try DatabaseDirectory.copy(database, to: staging)
        let before = try DatabaseDirectory.fingerprints(of: staging)
        let configFile = (workingDirectory as NSString).appendingPathComponent("freshclam.conf")
        do {
            try FreshclamConfiguration(databaseDirectory: staging, updater: configuration).write(to: configFile)
        } catch {
            throw UpdateFailure(.workDirectory, "cannot write \(configFile): \(error.localizedDescription)")
        }

        newState.lastAttemptAt = now
        let runner = FreshclamRunner(executable: configuration.freshclamPath, timeout: configuration.freshclamTimeout)
        let run: FreshclamRunner.Run
        do {
            run = try await runner.run(configFile: configFile, logFile: (workingDirectory as NSString).appendingPathComponent("freshclam.log"))
        } catch {
            let failure = UpdateFailure(.freshclamFailed, "\(error)")
            newState.lastOutcome = failure.reason.rawValue
            return try report(.failed(failure), freshclam: nil, upload: [], delete: [], database: database, info: nil, state: newState, run: nil)
        }

        let after = try DatabaseDirectory.fingerprints(of: staging)
        let changed = DatabaseDirectory.changed(from: before, to: after)
        let changedDatabaseFiles = changed.filter { $0 != FreshclamState.fileName }
        let removed = before.keys.filter { after[$0] == nil }.sorted()
        let freshclamOutcome = FreshclamOutcome.classify(
            exitCode: run.exitCode,
            output: run.output,
            changedFiles: changedDatabaseFiles + removed,
            timedOut: run.timedOut
        )
        logger.debug("freshclam finished", metadata: ["exitCode": "\(run.exitCode)", "outcome": "\(freshclamOutcome)"])

        // freshclam.dat carries a cool-down (and freshclam's UUID): keep it whatever happens.
        let stateFileChanged = changed.contains(FreshclamState.fileName)
        let stateFile = stateFileChanged ? [FreshclamState.fileName] : []
        newState.coolDownUntil = FreshclamState(databaseDirectory: staging)?.coolDownUntil ?? Self.coolDown(of: freshclamOutcome)

        let outcome: UpdateOutcome
        var info: DatabaseInfo?
        switch freshclamOutcome {
        case .upToDate:
            outcome = .upToDate
        case .updated:
            do {
                info = try await validator.validate(
                    databaseDirectory: staging, publishedVersions: publishedVersions, scratchDirectory: workingDirectory)
                outcome = .updated
            } catch let failure as UpdateFailure {
                outcome = .failed(failure)
            }
        default:
            outcome = .failed(Self.failure(for: freshclamOutcome))
        }

        let upload: [String]
        let delete: [String]
        if case .updated = outcome {
            upload = changed
            delete = removed.filter { $0 != FreshclamState.fileName }
        } else {
            upload = stateFile
            delete = []
        }
        try DatabaseDirectory.promote(upload, from: staging, to: database, removing: delete)

        newState.lastOutcome = outcome.code
        switch outcome {
        case .updated, .upToDate: newState.lastSuccessAt = now
        case .failed(let failure):
            logger.info("definition update failed", metadata: ["reason": "\(failure.reason.rawValue)", "message": "\(failure.message)"])
        }
        return try report(
            outcome, freshclam: freshclamOutcome, upload: upload, delete: delete, database: database, info: info, state: newState, run: run)
    }

    private func report(
        _ outcome: UpdateOutcome,
        freshclam: FreshclamOutcome?,
        upload: [String],
        delete: [String],
        database: String,
        info: DatabaseInfo?,
        state: UpdaterState,
        run: FreshclamRunner.Run?
    ) throws -> UpdateReport {
        let output = run?.output ?? ""
        return UpdateReport(
            outcome: outcome,
            freshclamOutcome: freshclam,
            filesToUpload: upload,
            filesToDelete: delete,
            files: try DatabaseDirectory.records(of: database),
            database: info,
            databaseDirectory: database,
            state: state,
            engineOutdated: output.contains("installation is OUTDATED"),
            freshclamOutput: output
        )
    }

    static func coolDown(of outcome: FreshclamOutcome) -> Date? {
        switch outcome {
        case .coolDown(let until), .rateLimited(let until), .blocked(let until): until
        default: nil
        }
    }

    /// The failure reason and message for a freshclam outcome that published nothing.
    static func failure(for outcome: FreshclamOutcome) -> UpdateFailure {
        switch outcome {
        case .updated, .upToDate:
            preconditionFailure("not a failure: \(outcome)")
        case .coolDown(let until):
            UpdateFailure(.coolDown, "freshclam is on a cool-down and did not download the official databases", retryAfter: until)
        case .rateLimited(let until):
            UpdateFailure(.rateLimited, "a mirror answered 429 Too Many Requests; freshclam started a cool-down", retryAfter: until)
        case .blocked(let until):
            UpdateFailure(.blocked, "a mirror answered 403 Forbidden; freshclam started a cool-down", retryAfter: until)
        case .outdatedEngine:
            UpdateFailure(.outdatedEngine, "the database needs a newer ClamAV than this image has")
        case .validation(let message):
            UpdateFailure(.validationFailed, "freshclam rejected a downloaded database: \(message)")
        case .network(let message):
            UpdateFailure(.network, "no connection to a mirror: \(message)")
        case .mirrorError(let message):
            UpdateFailure(.mirrorError, "a mirror answered with an error: \(message)")
        case .timeout:
            UpdateFailure(.timeout, "freshclam did not finish within FRESHCLAM_TIMEOUT and was killed")
        case .failed(let exitCode, let message):
            UpdateFailure(.freshclamFailed, "freshclam exited with status \(exitCode): \(message)")
        }
    }
}
