import AWSClients
import AsyncHTTPClient
import BusEvents
import ClamAV
import Definitions
import Foundation
import Logging

/// What the updater keeps in the definitions bucket between runs, beside `freshclam.dat`:
/// its own state and the modification time of each database file (freshclam sends it as
/// `If-Modified-Since` for custom URLs, so a restored file must get it back).
struct StoredUpdaterState: Codable, Equatable {
    var state = UpdaterState()
    var modificationTimes: [String: Date] = [:]

    static let fileName = "updater-state.json"
}

/// How one run ended, as the updater prints and returns it.
public struct UpdateRunSummary: Sendable, Encodable {
    /// `UPDATED`, `UP_TO_DATE`, or the failure (encoded as its reason: `COOLDOWN`, ...).
    public let outcome: UpdateOutcome
    /// Why, for failures.
    public let message: String?
    /// The database version now published.
    public let publishedVersion: String?
    /// The files uploaded during this run (database files and state).
    public let uploaded: [String]
    /// Whether the run must count as failed (a cool-down or a too-early run does not).
    public var failed: Bool { outcome.isFailure }

    private enum CodingKeys: String, CodingKey { case outcome, message, publishedVersion, uploaded, failed }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(outcome, forKey: .outcome)
        try container.encodeIfPresent(message, forKey: .message)
        try container.encodeIfPresent(publishedVersion, forKey: .publishedVersion)
        try container.encode(uploaded, forKey: .uploaded)
        try container.encode(failed, forKey: .failed)
    }
}

/// One update against the definitions bucket (docs/design.md, "Definitions bucket layout" and
/// "The ClamAV mirror's rules"): restore the published database and freshclam's state,
/// run freshclam through ``DefinitionUpdater`` (guard, run, classify, validate), then upload
/// only changed files, `freshclam.dat`, and `manifest.json` last, and publish the event.
/// A failed run leaves the published definitions as they were.
public struct UpdaterService: Sendable {
    let configuration: UpdaterConfiguration
    let updater: DefinitionUpdater
    let bucket: DefinitionsBucket
    let store: any ObjectStore
    let events: EventBusPublisher
    let httpClient: HTTPClient?
    let logger: Logger

    /// Reads the configuration and builds the clients; throws an error naming a bad variable.
    public init(environment: [String: String], logger: Logger) throws {
        let configuration = try UpdaterConfiguration(environment: environment)
        let settings = try AWSSettings(environment: environment)
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .forAWSClients())
        let credentials = settings.makeCredentialsProvider(httpClient: httpClient, logger: logger)
        let store = S3Client(settings: settings, credentialsProvider: credentials, httpClient: httpClient, logger: logger)
        let eventBridge = EventBridgeClient(settings: settings, credentialsProvider: credentials, httpClient: httpClient, logger: logger)
        self.init(
            configuration: configuration, store: store,
            events: EventBusPublisher(busName: configuration.eventBusName, publisher: eventBridge, logger: logger),
            httpClient: httpClient, logger: logger
        )
    }

    /// Builds the service on a store and a publisher the caller made (tests use an in-memory
    /// store); `httpClient`, when given, is shut down by ``shutdown()``.
    public init(configuration: UpdaterConfiguration, store: any ObjectStore, events: EventBusPublisher, httpClient: HTTPClient? = nil, logger: Logger)
    {
        self.configuration = configuration
        self.store = store
        self.events = events
        self.bucket = DefinitionsBucket(
            store: store, bucket: configuration.definitions.bucket, prefix: configuration.definitions.prefix, logger: logger)
        self.updater = DefinitionUpdater(configuration: configuration, logger: logger)
        self.httpClient = httpClient
        self.logger = logger
    }

    /// Closes the HTTP client.
    public func shutdown() async throws {
        try await httpClient?.shutdown()
    }

    /// Publishes a database folder someone made (custom signatures, an air-gapped set-up)
    /// through the same checks as a scheduled run: it must load, detect the canary (`canary`,
    /// else `CANARY_FILE`, else EICAR) and be no older than the published database; then it is
    /// published, `manifest.json` last, and `Definitions Updated` sent.
    /// - Throws: ``UpdateFailure`` (`VALIDATION_FAILED`, `OLDER_DATABASE`) and S3 errors.
    public func publish(databaseDirectory: String, canary: String? = nil, now: Date = Date()) async throws -> DefinitionsBucket.Publication {
        let previous = try await bucket.publishedManifest()
        let scratch = (configuration.workDirectory as NSString).appendingPathComponent("publish-scratch")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let validator = DatabaseValidator(canaryFile: canary ?? configuration.canaryFile)
        let database = try await validator.validate(
            databaseDirectory: databaseDirectory, publishedVersions: Self.versions(of: previous), scratchDirectory: scratch
        )
        let publication = try await bucket.publish(database, now: now)
        if publication.manifestWritten {
            await events.publish(
                .definitionsUpdated,
                DefinitionsUpdatedDetail(
                    version: publication.manifest.version, previousVersion: previous?.version,
                    signatureCount: publication.manifest.signatureCount, publishedAt: publication.manifest.publishedAt,
                    uploaded: publication.uploaded
                ))
        }
        return publication
    }

    /// The published version of each signed database (`daily`, `main`, ...).
    static func versions(of manifest: DefinitionsManifest?) -> [String: Int] {
        var published: [String: Int] = [:]
        for file in manifest?.files ?? [] {
            guard let version = file.version else { continue }
            published[DatabaseDirectory.databaseName(file.name)] = version
        }
        return published
    }

    /// One update.
    /// Failures of the updater's own machinery (freshclam missing, a working folder that
    /// cannot be written) end as a failed run with its event, like a mirror's failure.
    public func run(now: Date = Date()) async throws -> UpdateRunSummary {
        let workDirectory = configuration.workDirectory
        let databaseDirectory = (workDirectory as NSString).appendingPathComponent(DefinitionUpdater.databaseFolder)
        var stored = try await loadState()
        let manifest = try await bucket.restore(into: databaseDirectory, stateFiles: ["freshclam.dat"])
        let report: UpdateReport
        do {
            try tidy(databaseDirectory, keeping: Set((manifest?.files ?? []).map(\.name)), times: stored.modificationTimes)
            report = try await updater.run(in: workDirectory, state: stored.state, publishedVersions: Self.versions(of: manifest), now: now)
        } catch let failure as UpdateFailure {
            logger.error("definition update failed", metadata: ["reason": "\(failure.reason.rawValue)", "message": "\(failure.message)"])
            await events.publish(
                .definitionsUpdateFailed,
                DefinitionsUpdateFailedDetail(
                    reason: failure.reason.rawValue, message: failure.message, retryAfter: failure.retryAfter, activeVersion: manifest?.version
                ))
            return UpdateRunSummary(outcome: .failed(failure), message: failure.message, publishedVersion: manifest?.version, uploaded: [])
        }
        stored.state = report.state
        var uploaded: [String] = []
        let summary: UpdateRunSummary
        switch report.outcome {
        case .updated:
            guard let database = report.database else { throw UpdateFailure(.workDirectory, "an update was reported without a validated database") }
            let located = DatabaseInfo(directory: report.databaseDirectory, signatureCount: database.signatureCount, files: database.files)
            let publication = try await bucket.publish(
                located, stateFiles: [(report.databaseDirectory as NSString).appendingPathComponent("freshclam.dat")], now: now
            )
            uploaded = publication.uploaded
            // Files the new manifest no longer lists are harmless leftovers (the scanner reads
            // only what the manifest names); a failed delete is reported, not fatal. The role
            // Terraform gives the updater has no delete right, so in AWS they stay.
            for name in report.filesToDelete {
                do {
                    _ = try await store.deleteObject(bucket: bucket.bucket, key: bucket.prefix + name, versionID: nil, ifMatch: nil)
                } catch {
                    logger.warning(
                        "cannot delete a database file the manifest no longer lists",
                        metadata: [
                            "file": "\(bucket.prefix + name)", "error": "\(error)",
                        ])
                }
            }
            stored.modificationTimes = Dictionary(report.files.map { ($0.name, $0.modificationTime) }) { _, last in last }
            try await saveState(stored)
            // freshclam may download a file again that turns out identical: then nothing changed.
            let outcome = publication.manifestWritten ? report.outcome : UpdateOutcome.upToDate
            summary = UpdateRunSummary(outcome: outcome, message: nil, publishedVersion: publication.manifest.version, uploaded: uploaded)
            if publication.manifestWritten {
                await events.publish(
                    .definitionsUpdated,
                    DefinitionsUpdatedDetail(
                        version: publication.manifest.version, previousVersion: manifest?.version,
                        signatureCount: publication.manifest.signatureCount, publishedAt: publication.manifest.publishedAt,
                        uploaded: uploaded
                    ))
            }
        case .upToDate:
            uploaded = try await uploadState(report)
            try await saveState(stored)
            summary = UpdateRunSummary(outcome: report.outcome, message: nil, publishedVersion: manifest?.version, uploaded: uploaded)
        case .failed(let failure):
            uploaded = try await uploadState(report)
            try await saveState(stored)
            summary = UpdateRunSummary(outcome: report.outcome, message: failure.message, publishedVersion: manifest?.version, uploaded: uploaded)
            await events.publish(
                .definitionsUpdateFailed,
                DefinitionsUpdateFailedDetail(
                    reason: report.outcome.code, message: failure.message, retryAfter: failure.retryAfter,
                    activeVersion: manifest?.version
                ))
        }
        logger.notice(
            "update finished",
            metadata: [
                "outcome": "\(summary.outcome.code)", "definitions": "\(summary.publishedVersion ?? "none")", "uploaded": "\(uploaded)",
            ])
        return summary
    }

    private func uploadState(_ report: UpdateReport) async throws -> [String] {
        var uploaded: [String] = []
        for name in report.filesToUpload where name == "freshclam.dat" {
            let path = (report.databaseDirectory as NSString).appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: path) else { continue }
            _ = try await store.putObject(bucket: bucket.bucket, key: bucket.prefix + name, fileAt: path, contentType: nil, tags: [])
            uploaded.append(name)
        }
        return uploaded
    }

    /// Removes local database files the bucket no longer lists (a warm container's leftovers)
    /// and gives restored files their recorded modification times.
    private func tidy(_ directory: String, keeping names: Set<String>, times: [String: Date]) throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) where DatabaseInfo.isDatabaseFile(name) && !names.contains(name) {
            try FileManager.default.removeItem(atPath: (directory as NSString).appendingPathComponent(name))
        }
        for (name, time) in times where names.contains(name) {
            try? FileManager.default.setAttributes([.modificationDate: time], ofItemAtPath: (directory as NSString).appendingPathComponent(name))
        }
    }

    private func loadState() async throws -> StoredUpdaterState {
        do {
            guard
                case .modified(let data, _) = try await store.getObject(
                    bucket: bucket.bucket, key: bucket.prefix + StoredUpdaterState.fileName, versionID: nil, ifNoneMatch: nil, maxSize: 1 << 20
                )
            else { return StoredUpdaterState() }
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try decoder.decode(StoredUpdaterState.self, from: data)
        } catch let error as AWSError where error.isNotFound {
            return StoredUpdaterState()
        } catch is DecodingError {
            logger.warning("\(StoredUpdaterState.fileName) is unreadable; starting from an empty state")
            return StoredUpdaterState()
        }
    }

    private func saveState(_ stored: StoredUpdaterState) async throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        _ = try await store.putObject(
            bucket: bucket.bucket, key: bucket.prefix + StoredUpdaterState.fileName, data: try encoder.encode(stored),
            contentType: "application/json", tags: []
        )
    }
}

/// The detail of `Definitions Updated`.
struct DefinitionsUpdatedDetail: Encodable {
    let version: String
    let previousVersion: String?
    let signatureCount: Int
    let publishedAt: Date
    let uploaded: [String]
}

/// The detail of `Definitions Update Failed` from the updater.
struct DefinitionsUpdateFailedDetail: Encodable {
    let component = "definition-updater"
    let reason: String
    let message: String
    let retryAfter: Date?
    let activeVersion: String?
}
