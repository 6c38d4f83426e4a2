import AWSClients
import BusEvents
import ClamAV
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

    func provider(_ environment: [String: String] = [:]) throws -> DefinitionsProvider {
        let configuration = try ScannerConfiguration(environment: ["DEFINITIONS_BUCKET": "defs"].merging(environment) { $1 })
        let emitter = MetricsEmitter(namespace: ScanMetrics.namespace, defaultDimensions: ["Service": "tests"], sink: metrics.sink)
        let clock = self.clock
        return DefinitionsProvider(
            configuration: configuration, workDirectory: try temporaryFolder("provider-work"), store: store,
            events: EventBusPublisher(busName: "bus", publisher: events, logger: logger), metrics: ScanMetrics(emitter: emitter),
            logger: logger, now: { clock.now }
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
}
