import AWSClients
import BusEvents
import ClamAV
import Crypto
import Definitions
import Foundation
import Logging
import Observability
import Synchronization
import TestSupport
import Testing

@testable import ScannerCore

/// Records the events published, by detail type.
final class EventRecorder: EventPublishing {
    private let entries = Mutex<[EventBridgeEntry]>([])

    func putEvents(_ batch: [EventBridgeEntry]) async throws -> [String] {
        entries.withLock { $0 += batch }
        return batch.map { _ in "id" }
    }

    func count(_ type: BusEvent.DetailType) -> Int {
        entries.withLock { $0 }.filter { $0.detailType == type.rawValue }.count
    }
}

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    private let time = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
    var now: Date { time.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { time.withLock { $0 += seconds } }
}

/// `DefinitionsProvider` over an in-memory definitions bucket, with an injected clock.
@Suite("Definitions provider")
struct DefinitionsProviderTests {
    let store = InMemoryObjectStore()
    let events = EventRecorder()
    let metrics = LineCollector()
    let clock = ManualClock()
    let logger = Logger(label: "provider-tests") { _ in SwiftLogNoOpLogHandler() }

    init() {
        store.createBucket("defs", versioned: true)
    }

    func provider(_ environment: [String: String] = [:], memoryLimit: Int64? = nil) throws -> DefinitionsProvider {
        let configuration = try ScannerConfiguration(environment: ["DEFINITIONS_BUCKET": "defs"].merging(environment) { $1 })
        let emitter = MetricsEmitter(namespace: ScanMetrics.namespace, defaultDimensions: ["Service": "tests"], sink: metrics.sink)
        let clock = self.clock
        return DefinitionsProvider(
            configuration: configuration, workDirectory: try temporaryFolder("provider-work"), store: store,
            events: EventBusPublisher(busName: "bus", publisher: events, logger: logger), metrics: ScanMetrics(emitter: emitter),
            logger: logger, now: { clock.now }, memoryLimit: memoryLimit
        )
    }

    /// Publishes a database with the EICAR signature (plus `extra` lines) as the updater does.
    @discardableResult
    func publish(extra: String = "") async throws -> DefinitionsManifest {
        let folder = try temporaryFolder("provider-db")
        try Data((EICAR.bodySignature() + extra).utf8).write(to: URL(fileURLWithPath: "\(folder)/test.ndb"))
        let engine = try await ClamAVEngine.load(databaseDirectory: folder)
        return try await DefinitionsBucket(store: store, bucket: "defs", prefix: "clamav/", logger: logger)
            .publish(engine.database, now: clock.now).manifest
    }

    func detectsEICAR(_ provider: DefinitionsProvider) async throws -> Bool {
        let file = "\(try temporaryFolder("eicar"))/eicar.com"
        try EICAR.data.write(to: URL(fileURLWithPath: file))
        guard let loaded = await provider.current() else { return false }
        return try await loaded.engine.scan(fileAtPath: file).verdict == .infected
    }

    /// The updater is uploading the next database over the same keys: the manifest still
    /// names the old versions, and those are what the scanner loads.
    @Test func loadsTheVersionsTheManifestNames() async throws {
        let manifest = try await publish()
        store.put("defs", "clamav/test.ndb", Data("Next.Database:0:*:6e657874\n".utf8))
        let provider = try provider()
        let loaded = await provider.current()
        #expect(loaded?.manifest == manifest)
        #expect(try await detectsEICAR(provider))
    }

    /// A database that fails keeps the old engine serving, and says so once.
    @Test func badDatabaseKeepsTheOldEngineAndIsReportedOnce() async throws {
        let good = try await publish()
        let provider = try provider(["DEFINITIONS_CHECK_INTERVAL": "0"])
        #expect(await provider.current()?.manifest == good)
        // A manifest whose file does not match what is stored (hash and size).
        let file = good.files[0]
        let bad = DefinitionsManifest(
            version: "broken", publishedAt: good.publishedAt, databaseTime: nil, signatureCount: 1,
            files: [DefinitionsManifest.File(name: file.name, sha256: String(repeating: "0", count: 64), size: file.size, version: nil)],
            proofKey: good.proofKey
        )
        store.put("defs", "clamav/manifest.json", try bad.encoded())
        #expect(await provider.current()?.manifest == good)
        #expect(await provider.current()?.manifest == good)
        #expect(events.count(.definitionsUpdateFailed) == 1)
        #expect(try await detectsEICAR(provider))
    }

    /// A failed load (a manifest read while its files were being replaced) is retried after
    /// 10 s, not at the next regular check 5 minutes later.
    @Test func failedLoadIsRetriedSoon() async throws {
        let first = try await publish()
        let provider = try provider(["DEFINITIONS_CHECK_INTERVAL": "300"])
        #expect(await provider.current()?.manifest == first)
        let file = first.files[0]
        let broken = DefinitionsManifest(
            version: "broken", publishedAt: first.publishedAt, databaseTime: nil, signatureCount: 1,
            files: [DefinitionsManifest.File(name: file.name, sha256: String(repeating: "0", count: 64), size: file.size, version: nil)],
            proofKey: first.proofKey
        )
        store.put("defs", "clamav/manifest.json", try broken.encoded())
        clock.advance(301)
        #expect(await provider.current()?.manifest == first, "the check fails and the old database serves")
        let second = try await publish(extra: "Test.Second:0:*:7365636f6e64\n")
        clock.advance(5)
        #expect(await provider.current()?.manifest == first, "not before the retry delay")
        clock.advance(DefinitionsProvider.retryAfterFailure)
        #expect(await provider.current()?.manifest == second)
    }

    @Test func staleDefinitionsAreReportedWithTheirAge() async throws {
        try await publish()
        clock.advance(100 * 3600)
        let provider = try provider(["MAX_DEFINITIONS_AGE": "48"])
        _ = await provider.current()
        #expect(events.count(.definitionsStale) == 1)
        let ages = try metrics.objects().compactMap { $0["DefinitionsAgeHours"] as? Double }
        #expect(ages.first.map { $0 >= 100 } == true, "\(metrics.lines)")
    }

    // MARK: Reloads

    /// Without room for two engines, the reload waits until the scans holding the old engine
    /// are done and it is freed; only then is the new one loaded.
    @Test func exclusiveReloadFreesTheOldEngineFirst() async throws {
        let first = try await publish()
        let provider = try provider(["DEFINITIONS_CHECK_INTERVAL": "0", "DEFINITIONS_RELOAD": "exclusive"])
        var held = await provider.current()  // a scan in flight
        weak let oldEngine = held?.engine
        #expect(held?.manifest == first)
        let second = try await publish(extra: "Second.Database:0:*:7365636f6e64\n")
        let done = Mutex(false)
        let reload = Task {
            await provider.refresh()
            done.withLock { $0 = true }
        }
        try await Task.sleep(for: .milliseconds(300))
        #expect(!done.withLock { $0 }, "the reload waits while a scan holds the old engine")
        #expect(oldEngine != nil)
        held = nil  // the scan ends
        await reload.value
        #expect(oldEngine == nil, "the old engine was freed")
        #expect(await provider.current()?.manifest == second)
        #expect(await provider.lastReload == .exclusive)
        #expect(try await detectsEICAR(provider))
    }

    /// `auto` loads alongside when the memory limit holds two engines, exclusively when not.
    @Test(arguments: [(Int64(1) << 40, ReloadMode.alongside), (Int64(1) << 20, .exclusive)])
    func autoReloadFollowsTheMemoryLimit(limit: Int64, expected: ReloadMode) async throws {
        try await publish()
        let provider = try provider(["DEFINITIONS_CHECK_INTERVAL": "0"], memoryLimit: limit)
        _ = await provider.current()
        try await publish(extra: "Second.Database:0:*:7365636f6e64\n")
        await provider.refresh()
        #expect(await provider.lastReload == expected)
    }

    /// A database that fails to load after the old engine was freed: the old one is loaded
    /// again from its files, and the failure is reported.
    @Test func failedExclusiveReloadBringsTheOldEngineBack() async throws {
        let good = try await publish()
        let provider = try provider(["DEFINITIONS_CHECK_INTERVAL": "0", "DEFINITIONS_RELOAD": "exclusive"])
        #expect(await provider.current()?.manifest == good)
        // Files that match the manifest but that libclamav rejects.
        let broken = Data("not a signature line at all\n".utf8)
        store.put("defs", "clamav/broken.ndb", broken)
        let file = DefinitionsManifest.File(
            name: "broken.ndb", sha256: SHA256.hash(data: broken).map { String(format: "%02x", $0) }.joined(), size: Int64(broken.count),
            version: nil)
        let bad = DefinitionsManifest(
            version: "broken", publishedAt: good.publishedAt.addingTimeInterval(60), databaseTime: nil, signatureCount: 1, files: [file],
            proofKey: good.proofKey)
        store.put("defs", "clamav/manifest.json", try bad.encoded())
        await provider.refresh()
        #expect(await provider.current()?.manifest == good)
        #expect(try await detectsEICAR(provider))
        #expect(events.count(.definitionsUpdateFailed) == 1)
    }
}
