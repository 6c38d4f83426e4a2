import AWSClients
import BusEvents
import ClamAV
import Definitions
import Foundation
import Logging

/// A loaded database: the compiled engine and the manifest it came from.
public struct LoadedDefinitions: Sendable {
    /// The compiled engine.
    public let engine: ClamAVEngine
    /// The manifest whose files were loaded.
    public let manifest: DefinitionsManifest
    /// The local folder holding the files.
    let directory: String
}

/// Keeps the scanner's engine in step with `manifest.json` in the definitions bucket.
///
/// The manifest is fetched with a conditional GET at most every `DEFINITIONS_CHECK_INTERVAL`
/// (and on every call while no database is loaded). When it changed, the listed files are
/// downloaded into a new folder (unchanged files are reused from the current one), each is
/// checked against its SHA-256 and size, and a new engine is compiled while the old one keeps
/// serving; then the two are swapped. A database that fails keeps the old engine and publishes
/// `Definitions Update Failed`. A database older than `MAX_DEFINITIONS_AGE` publishes
/// `Definitions Stale`, at most once an hour.
public actor DefinitionsProvider {
    private let configuration: ScannerConfiguration
    private let workDirectory: String
    private let store: any ObjectStore
    private let events: EventBusPublisher
    private let metrics: ScanMetrics
    private let logger: Logger
    private let now: @Sendable () -> Date

    private var loaded: LoadedDefinitions?
    private var manifestETag: String?
    private var nextCheck: Date?
    private var refreshing: Task<Void, Never>?
    private var lastFailure: String?
    private var lastStaleNotice: Date?
    /// The last manifest whose database libclamav would not load.
    private var rejected: DefinitionsManifest?
    /// The memory this process may use (a Lambda function's size, a task's cgroup limit).
    private let memoryLimit: Int64?
    /// What the current engine added to resident memory at the peak of its load.
    private var engineFootprint: Int64?
    /// How the last reload went: alongside the old engine, or after releasing it.
    public private(set) var lastReload: ReloadMode?

    /// Creates a provider; nothing is loaded until the first call to ``current()``. Database
    /// folders, and the engine's unpacked members, go into `workDirectory` (private to this
    /// process).
    public init(
        configuration: ScannerConfiguration,
        workDirectory: String,
        store: any ObjectStore,
        events: EventBusPublisher,
        metrics: ScanMetrics,
        logger: Logger,
        now: @escaping @Sendable () -> Date = { Date() },
        memoryLimit: Int64? = ProcessMemory.limit(environment: ProcessInfo.processInfo.environment)
    ) {
        self.memoryLimit = memoryLimit
        self.configuration = configuration
        self.workDirectory = workDirectory
        self.store = store
        self.events = events
        self.metrics = metrics
        self.logger = logger
        self.now = now
    }

    /// The database to scan with, after a manifest check when one is due; `nil` when no usable
    /// database has ever been loaded.
    public func current() async -> LoadedDefinitions? {
        let due = nextCheck.map { now() >= $0 } ?? true
        if loaded == nil || due {
            await refresh()
        }
        return loaded
    }

    /// Checks the manifest now; concurrent callers share one check.
    public func refresh() async {
        if let refreshing {
            await refreshing.value
            return
        }
        let task = Task { await self.check() }
        refreshing = task
        await task.value
        refreshing = nil
    }

    /// The key of an object under the definitions prefix.
    private func key(_ name: String) -> String { configuration.definitions.prefix + name }

    /// After a failed check, the next one comes this soon (or at the check interval, if
    /// shorter): a manifest read while the updater was publishing, or a passing fault, must
    /// not leave every object in ERROR until the next regular check.
    static let retryAfterFailure: TimeInterval = 10

    private func check() async {
        nextCheck = now().addingTimeInterval(Double(configuration.definitionsCheckInterval))
        let manifestKey = key("manifest.json")
        do {
            let result = try await store.getObject(
                bucket: configuration.definitions.bucket, key: manifestKey, versionID: nil,
                ifNoneMatch: loaded == nil ? nil : manifestETag, maxSize: 4 << 20
            )
            if case .modified(let data, let metadata) = result {
                let manifest = try DefinitionsManifest.decode(data)
                // A database libclamav rejected is not loaded again until the manifest changes.
                if manifest != loaded?.manifest, manifest != rejected {
                    try await load(manifest)
                }
                manifestETag = metadata.eTag
                lastFailure = nil
            }
        } catch {
            let problem =
                (error as? AWSError).map { $0.isNotFound ? "s3://\(configuration.definitions.bucket)/\(manifestKey) does not exist" : "\($0)" }
                ?? "\(error)"
            nextCheck = now().addingTimeInterval(min(Self.retryAfterFailure, Double(configuration.definitionsCheckInterval)))
            logger.error(
                "cannot load the definitions",
                metadata: [
                    "problem": "\(problem)", "keeping": "\(loaded?.manifest.version ?? "nothing: every scan ends in ERROR")",
                ])
            if problem != lastFailure {
                lastFailure = problem
                await events.publish(
                    .definitionsUpdateFailed,
                    DefinitionsFailureDetail(
                        component: "scanner", reason: "LOAD_FAILED", message: problem, activeVersion: loaded?.manifest.version
                    ))
            }
        }
        await reportAge()
    }

    private func load(_ manifest: DefinitionsManifest) async throws {
        // A new private folder holds exactly the files the manifest lists: libclamav loads
        // every database file in the folder it is given.
        let directory = try PrivateDirectory.create(in: workDirectory, prefix: "definitions")
        do {
            for file in manifest.files {
                try await fetch(file, into: directory)
            }
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
        let previous = loaded.map { (manifest: $0.manifest, directory: $0.directory) }
        var mode = ReloadMode.alongside
        if loaded != nil, configuration.reloadMode == .exclusive || (configuration.reloadMode == .auto && !newEngineFitsAlongside()) {
            // Two engines would not fit: new scans wait (``current()`` waits for this check)
            // while the ones in flight finish with the old engine, which is then freed.
            mode = .exclusive
            logger.notice(
                "reloading the definitions without holding two engines: scans wait for the new one",
                metadata: ["footprint": "\(engineFootprint ?? 0)", "limit": "\(memoryLimit ?? 0)"])
            if let kept = await releaseCurrentEngine(), let previous {
                // Something held the old engine far longer than any scan takes: keep it, and
                // try again at the next check.
                loaded = LoadedDefinitions(engine: kept, manifest: previous.manifest, directory: previous.directory)
                try? FileManager.default.removeItem(atPath: directory)
                throw ManifestError("the old engine was still in use \(Int(releaseTimeout.components.seconds)) s after the reload began; kept it")
            }
        }
        do {
            let engine: ClamAVEngine
            do {
                engine = try await measuredLoad(directory)
            } catch {
                rejected = manifest
                throw error
            }
            loaded = LoadedDefinitions(engine: engine, manifest: manifest, directory: directory)
            lastReload = previous == nil ? nil : mode
            if let previous { try? FileManager.default.removeItem(atPath: previous.directory) }
            logger.notice(
                "definitions loaded",
                metadata: [
                    "definitions": "\(manifest.version)", "signatures": "\(engine.database.signatureCount)",
                    "previous": "\(previous?.manifest.version ?? "none")", "reload": "\(mode)",
                    "footprint": "\(engineFootprint ?? 0)",
                ])
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            if loaded == nil, let previous {
                // The old engine was released for this load: bring it back from its files.
                do {
                    let engine = try await measuredLoad(previous.directory)
                    loaded = LoadedDefinitions(engine: engine, manifest: previous.manifest, directory: previous.directory)
                } catch {
                    logger.error("cannot load the previous definitions again", metadata: ["error": "\(error)"])
                }
            }
            throw error
        }
    }

    /// Whether a second engine, as large as the current one was at the peak of its load, fits
    /// beside everything resident now within 90 % of the memory limit.
    private func newEngineFitsAlongside() -> Bool {
        guard let limit = memoryLimit, let footprint = engineFootprint, let resident = ProcessMemory.resident() else { return true }
        return resident + footprint <= limit / 10 * 9
    }

    /// How long an exclusive reload waits for the scans that hold the old engine: longer
    /// than any scan may take.
    private var releaseTimeout: Duration { .milliseconds(configuration.limits.maxScanTimeMilliseconds) + .seconds(60) }

    /// Drops the provider's engine and waits until every scan that holds it has finished and
    /// it is freed; returns it when it is still alive after ``releaseTimeout``.
    private func releaseCurrentEngine() async -> ClamAVEngine? {
        weak let engine = loaded?.engine
        loaded = nil
        let deadline = ContinuousClock.now + releaseTimeout
        while engine != nil {
            if ContinuousClock.now >= deadline { return engine }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    /// Loads an engine, noting how much resident memory its load took at its peak.
    private func measuredLoad(_ directory: String) async throws -> ClamAVEngine {
        let reset = ProcessMemory.resetPeak()
        let before = ProcessMemory.resident()
        let engine = try await ClamAVEngine.load(
            databaseDirectory: directory,
            options: EngineOptions(limits: configuration.limits, temporaryDirectory: workDirectory, largeFiles: configuration.largeFiles)
        )
        if let before, let after = reset ? ProcessMemory.peak() : ProcessMemory.resident() {
            engineFootprint = max(0, after - before)
        }
        return engine
    }

    /// Puts one listed file into `directory`: a hard link to the current copy when its hash is
    /// unchanged, else a download checked against the manifest's size and SHA-256.
    private func fetch(_ file: DefinitionsManifest.File, into directory: String) async throws {
        let destination = (directory as NSString).appendingPathComponent(file.name)
        if let loaded, loaded.manifest.files.contains(where: { $0.hasSameContent(as: file) }) {
            let existing = (loaded.directory as NSString).appendingPathComponent(file.name)
            if (try? FileManager.default.linkItem(atPath: existing, toPath: destination)) != nil { return }
        }
        // The exact version the manifest names, when it names one: the updater may be
        // uploading the next database over the same keys right now.
        _ = try await store.getObject(
            bucket: configuration.definitions.bucket, key: key(file.name), versionID: file.versionID, ifMatch: nil, to: destination
        )
        let size = (try FileManager.default.attributesOfItem(atPath: destination)[.size] as? NSNumber)?.int64Value
        let hash = try DefinitionsManifest.sha256(ofFileAt: destination)
        guard size == file.size, hash == file.sha256 else {
            throw ManifestError(
                "\(file.name) does not match manifest.json (size \(size.map(String.init) ?? "?") for \(file.size), SHA-256 \(hash) for \(file.sha256))"
            )
        }
    }

    private func reportAge() async {
        guard let manifest = loaded?.manifest else { return }
        let ageHours = now().timeIntervalSince(manifest.effectiveDatabaseTime) / 3600
        metrics.record(definitionsAgeHours: ageHours)
        guard ageHours > Double(configuration.maxDefinitionsAgeHours) else { return }
        if let lastStaleNotice, now().timeIntervalSince(lastStaleNotice) < 3600 { return }
        lastStaleNotice = now()
        logger.warning("definitions are stale", metadata: ["definitions": "\(manifest.version)", "ageHours": "\(Int(ageHours))"])
        await events.publish(
            .definitionsStale,
            DefinitionsStaleDetail(
                version: manifest.version, databaseTime: manifest.effectiveDatabaseTime,
                ageHours: Int(ageHours), maxAgeHours: configuration.maxDefinitionsAgeHours
            ))
    }
}

/// The detail of `Definitions Update Failed` when the scanner cannot use a database.
struct DefinitionsFailureDetail: Encodable {
    let component: String
    let reason: String
    let message: String
    let activeVersion: String?
}

/// The detail of `Definitions Stale`.
struct DefinitionsStaleDetail: Encodable {
    let version: String
    let databaseTime: Date
    let ageHours: Int
    let maxAgeHours: Int
}
