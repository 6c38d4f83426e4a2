import AWSClients
import BusEvents
import Definitions
import Foundation
import Logging
import Synchronization
import TestSupport
import Testing

@testable import UpdaterCore

/// Records the events a service publishes.
final class RecordingPublisher: EventPublishing {
    private let entries = Mutex<[EventBridgeEntry]>([])

    func putEvents(_ batch: [EventBridgeEntry]) async throws -> [String] {
        entries.withLock { $0 += batch }
        return batch.map { _ in UUID().uuidString }
    }

    /// The events of one detail type, their details decoded.
    func details(_ type: BusEvent.DetailType) -> [[String: Any]] {
        entries.withLock { $0 }.filter { $0.detailType == type.rawValue }.compactMap { entry in
            try? JSONSerialization.jsonObject(with: Data(entry.detail.utf8)) as? [String: Any]
        }
    }
}

/// `UpdaterService` (restore, freshclam, validate, publish, events) over an in-memory
/// definitions bucket, with real freshclam against the test mirror: each run in a fresh
/// working folder, as a cold Lambda container would.
@Suite("Updater service: runs and publications", .serialized)
struct UpdaterServiceTests {
    let store = InMemoryObjectStore()
    let events = RecordingPublisher()
    let mirror: MirrorServer

    init() async throws {
        store.createBucket("definitions", versioned: true)
        mirror = try await MirrorServer.start(root: try temporaryFolder("updater-mirror"))
        try mirror.publish("custom.ndb", contents: UpdaterFixtures.eicarNDB, modified: Date().addingTimeInterval(-600))
    }

    func service(workDirectory: String? = nil, _ change: (inout UpdaterConfiguration) -> Void = { _ in }) throws -> UpdaterService {
        var configuration = UpdaterConfiguration(
            definitions: DefinitionsLocation(bucket: "definitions"), eventBusName: "bus", officialDatabases: false,
            customURLs: [URL(string: "\(mirror.baseURL)/custom.ndb")!], minUpdateInterval: 0, freshclamTimeout: 120,
            freshclamMaxAttempts: 1, workDirectory: try workDirectory ?? temporaryFolder("updater-work")
        )
        change(&configuration)
        let logger = Logger(label: "updater-tests") { _ in SwiftLogNoOpLogHandler() }
        return UpdaterService(
            configuration: configuration, store: store,
            events: EventBusPublisher(busName: "bus", publisher: events, logger: logger), logger: logger)
    }

    func manifest() throws -> DefinitionsManifest? {
        try store.current("definitions", "clamav/manifest.json").map { try DefinitionsManifest.decode($0.data) }
    }

    @Test func firstRunPublishesThenUpToDateThenAChangeRepublishes() async throws {
        let first = try await service().run()
        #expect(first.outcome == .updated)
        #expect(first.uploaded.contains("custom.ndb"))
        #expect(mirror.status.paths == ["/custom.ndb"], "freshclam fetched the custom database from the mirror")
        let published = try #require(try manifest())
        #expect(published.files.map(\.name) == ["custom.ndb"])
        #expect(published.files.first?.versionID != nil, "the manifest names the version of each file")
        #expect(published.proofKey.flatMap { Data(base64Encoded: $0) }?.count == 32)
        #expect(events.details(.definitionsUpdated).map { $0["version"] as? String } == [published.version])

        let second = try await service().run()
        #expect(second.outcome == .upToDate)
        #expect(!second.uploaded.contains("custom.ndb"), "nothing new is uploaded")
        #expect(try manifest() == published)

        try mirror.publish("custom.ndb", contents: UpdaterFixtures.eicarNDBVersion2, modified: Date().addingTimeInterval(60))
        let third = try await service().run()
        #expect(third.outcome == .updated)
        let republished = try #require(try manifest())
        #expect(republished.version != published.version)
        #expect(republished.proofKey == published.proofKey, "the proof key carries over to the next manifest")
        try await mirror.shutdown()
    }

    @Test(arguments: [("429", UpdateFailureReason.rateLimited), ("403", .blocked)])
    func rateLimitStartsACoolDownThatSurvivesAFreshContainer(answer: String, reason: UpdateFailureReason) async throws {
        #expect(try await service().run().outcome == .updated)
        let published = try manifest()
        try mirror.publish("custom.ndb", contents: UpdaterFixtures.eicarNDBVersion2, modified: Date().addingTimeInterval(60))
        mirror.setMode(answer, retryAfter: 3600)
        let limited = try await service().run()
        #expect(limited.outcome.code == reason.rawValue)
        #expect(limited.failed)
        #expect(try manifest() == published)

        mirror.setMode("normal")
        let cooling = try await service().run()
        #expect(cooling.outcome.code == "COOLDOWN")
        #expect(!cooling.failed, "a run that was not attempted is not a failure")
        #expect(mirror.status.requests == 0, "no request reaches the mirror during the cool-down")
        #expect(Set(events.details(.definitionsUpdateFailed).compactMap { $0["reason"] as? String }) == [reason.rawValue, "COOLDOWN"])
        try await mirror.shutdown()
    }

    @Test func corruptOrUndetectingDatabaseIsNotPublished() async throws {
        #expect(try await service().run().outcome == .updated)
        let published = try manifest()
        try mirror.publish("custom.ndb", contents: UpdaterFixtures.eicarNDBVersion2, modified: Date().addingTimeInterval(60))
        mirror.setMode("corrupt")
        #expect(try await service().run().outcome.code == "VALIDATION_FAILED")
        #expect(try manifest() == published)

        mirror.setMode("normal")
        try mirror.publish("custom.ndb", contents: UpdaterFixtures.clamExeHDB, modified: Date().addingTimeInterval(120))
        let undetecting = try await service().run()
        #expect(undetecting.outcome.code == "VALIDATION_FAILED", "the new database does not detect the EICAR canary")
        #expect(try manifest() == published)
        try await mirror.shutdown()
    }

    /// A failure of the updater's own machinery is a failed run with its event, not a crash.
    @Test func missingFreshclamIsAFailedRunWithItsEvent() async throws {
        let summary = try await service { $0.freshclamPath = "/nonexistent/freshclam" }.run()
        #expect(summary.outcome.code == "FRESHCLAM_FAILED")
        #expect(summary.failed)
        #expect(events.details(.definitionsUpdateFailed).first?["reason"] as? String == "FRESHCLAM_FAILED")
        try await mirror.shutdown()
    }

    /// `publish` goes through the checks of a scheduled run: canary, then no downgrade.
    @Test func publishValidatesLikeAScheduledRun() async throws {
        let undetecting = try temporaryFolder("undetecting-db")
        try UpdaterFixtures.clamExeHDB.write(to: URL(fileURLWithPath: "\(undetecting)/custom.hdb"))
        await #expect(throws: UpdateFailure.self) { try await service().publish(databaseDirectory: undetecting) }
        #expect(try manifest() == nil)

        // With a canary it detects, it is published.
        let publication = try await service().publish(databaseDirectory: undetecting, canary: UpdaterFixtures.clamExe)
        #expect(publication.manifestWritten)
        #expect(events.details(.definitionsUpdated).count == 1)

        // An older daily than the published one is refused.
        let newer = try temporaryFolder("newer-db")
        try UpdaterFixtures.dailyCUD(version: 200).write(to: URL(fileURLWithPath: "\(newer)/daily.cud"))
        #expect(try await service().publish(databaseDirectory: newer).manifestWritten)
        let older = try temporaryFolder("older-db")
        try UpdaterFixtures.dailyCUD(version: 100).write(to: URL(fileURLWithPath: "\(older)/daily.cud"))
        let refusal = await #expect(throws: UpdateFailure.self) { try await service().publish(databaseDirectory: older) }
        #expect(refusal?.reason == .olderDatabase)
        try await mirror.shutdown()
    }
}
