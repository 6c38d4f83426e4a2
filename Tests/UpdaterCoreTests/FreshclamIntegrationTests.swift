import ClamAV
import Foundation
import TestSupport
import Testing

@testable import UpdaterCore

/// The real freshclam against the test mirror (TestSupport.MirrorServer), official databases off, custom URLs only.
@Suite("definition update with the real freshclam")
struct FreshclamIntegrationTests {
    /// One mirror and one working directory per test.
    struct Setup {
        let mirror: MirrorServer
        let work: String
        var database: String { "\(work)/database" }

        init(_ name: String) async throws {
            mirror = try await MirrorServer.start(root: try UpdaterFixtures.folder("\(name)-mirror"))
            work = try UpdaterFixtures.folder("\(name)-work")
        }

        func url(_ file: String) -> String { "\(mirror.baseURL)/\(file)" }

        func run(_ updater: DefinitionUpdater, state: UpdaterState = UpdaterState(), published: [String: Int] = [:]) async throws -> UpdateReport {
            try await updater.run(in: work, state: state, publishedVersions: published)
        }
    }

    private func reason(_ report: UpdateReport) -> UpdateFailureReason? {
        if case .failed(let failure) = report.outcome { return failure.reason }
        return nil
    }

    @Test func downloadsThenUpToDateThenChanged() async throws {
        let setup = try await Setup("cycle")
        defer { Task { try await setup.mirror.shutdown() } }
        try setup.mirror.publish("custom.ndb", contents: UpdaterFixtures.eicarNDB, modified: Date().addingTimeInterval(-600))
        let updater = UpdaterFixtures.updater(customURLs: [setup.url("custom.ndb")])

        let first = try await setup.run(updater)
        #expect(first.outcome == .updated, "\(first.freshclamOutput)")
        #expect(first.freshclamOutcome == .updated(changedFiles: ["custom.ndb"]))
        #expect(first.filesToUpload == ["custom.ndb", "freshclam.dat"])
        #expect(first.filesToDelete.isEmpty)
        #expect(UpdaterFixtures.contents(setup.database, "custom.ndb") == UpdaterFixtures.eicarNDB)
        #expect(first.database?.signatureCount == 1)
        #expect(first.files.map(\.name) == ["custom.ndb", "freshclam.dat"])
        #expect(first.state.lastOutcome == "UPDATED")
        #expect(first.state.lastSuccessAt != nil)

        let second = try await setup.run(updater, state: first.state)
        #expect(second.outcome == .upToDate, "\(second.freshclamOutput)")
        #expect(second.filesToUpload.isEmpty)
        #expect(second.freshclamOutput.contains("304 Not Modified"))
        #expect(setup.mirror.status.requests == 2)

        // Dated ahead of the local copy, so If-Modified-Since cannot tie within one second.
        try setup.mirror.publish("custom.ndb", contents: UpdaterFixtures.eicarNDBVersion2, modified: Date().addingTimeInterval(60))
        let third = try await setup.run(updater, state: second.state)
        #expect(third.outcome == .updated, "\(third.freshclamOutput)")
        #expect(third.filesToUpload == ["custom.ndb"])
        #expect(third.database?.signatureCount == 2)
        #expect(UpdaterFixtures.contents(setup.database, "custom.ndb") == UpdaterFixtures.eicarNDBVersion2)
    }

    @Test func rateLimitThenCoolDownWithoutContactingTheMirror() async throws {
        let setup = try await Setup("ratelimit")
        defer { Task { try await setup.mirror.shutdown() } }
        try setup.mirror.publish("custom.ndb", contents: UpdaterFixtures.eicarNDB, modified: Date().addingTimeInterval(-600))
        let updater = UpdaterFixtures.updater(customURLs: [setup.url("custom.ndb")])
        setup.mirror.setMode("429", retryAfter: 3600)

        let limited = try await setup.run(updater)
        #expect(reason(limited) == .rateLimited, "\(limited.freshclamOutput)")
        guard case .failed(let failure) = limited.outcome else { return }
        let until = try #require(failure.retryAfter)
        #expect(until > Date().addingTimeInterval(3000))
        #expect(limited.state.coolDownUntil == FreshclamState(databaseDirectory: setup.database)?.coolDownUntil)
        // Only freshclam.dat, which carries the cool-down, is kept and uploaded.
        #expect(limited.filesToUpload == ["freshclam.dat"])
        #expect(UpdaterFixtures.contents(setup.database, "custom.ndb") == nil)
        #expect(FreshclamState(databaseDirectory: setup.database)?.coolDownUntil != nil)

        // Even with an empty stored state, freshclam.dat alone stops the next run.
        setup.mirror.setMode("normal")
        let next = try await setup.run(updater, state: UpdaterState())
        #expect(reason(next) == .coolDown)
        #expect(next.freshclamOutcome == nil)
        #expect(setup.mirror.status.requests == 0)
    }

    @Test func forbiddenIsBlocked() async throws {
        let setup = try await Setup("forbidden")
        defer { Task { try await setup.mirror.shutdown() } }
        setup.mirror.setMode("403")
        let report = try await setup.run(UpdaterFixtures.updater(customURLs: [setup.url("custom.ndb")]))
        #expect(reason(report) == .blocked, "\(report.freshclamOutput)")
        if case .failed(let failure) = report.outcome {
            #expect((failure.retryAfter ?? .distantPast) > Date().addingTimeInterval(23 * 3600))
        }
        #expect(report.filesToUpload == ["freshclam.dat"])
    }

    @Test func serverErrorIsAMirrorError() async throws {
        let setup = try await Setup("servererror")
        defer { Task { try await setup.mirror.shutdown() } }
        setup.mirror.setMode("500")
        let report = try await setup.run(UpdaterFixtures.updater(customURLs: [setup.url("custom.ndb")]))
        #expect(reason(report) == .mirrorError, "\(report.freshclamOutput)")
        #expect(report.state.lastAttemptAt != nil)
        #expect(report.state.lastSuccessAt == nil)
    }

    @Test func refusedConnectionIsNetwork() async throws {
        let work = try UpdaterFixtures.folder("refused")
        // Port 1 on loopback: nothing listens there.
        let report = try await UpdaterFixtures.updater(customURLs: ["http://127.0.0.1:1/custom.ndb"])
            .run(in: work, state: UpdaterState(), publishedVersions: [:])
        #expect(reason(report) == .network, "\(report.freshclamOutput)")
    }

    @Test func corruptDownloadLeavesThePublishedDatabaseAlone() async throws {
        let setup = try await Setup("corrupt")
        defer { Task { try await setup.mirror.shutdown() } }
        try setup.mirror.publish("custom.ndb", contents: UpdaterFixtures.eicarNDB, modified: Date().addingTimeInterval(-600))
        let updater = UpdaterFixtures.updater(customURLs: [setup.url("custom.ndb")])
        let first = try await setup.run(updater)
        #expect(first.outcome == .updated, "\(first.freshclamOutput)")

        try setup.mirror.publish("custom.ndb", contents: UpdaterFixtures.eicarNDBVersion2, modified: Date().addingTimeInterval(60))
        setup.mirror.setMode("corrupt")
        let corrupt = try await setup.run(updater, state: first.state)
        #expect(reason(corrupt) == .validationFailed, "\(corrupt.freshclamOutput)")
        #expect(corrupt.filesToUpload.isEmpty)
        #expect(UpdaterFixtures.contents(setup.database, "custom.ndb") == UpdaterFixtures.eicarNDB)
        #expect(corrupt.state.lastSuccessAt == first.state.lastSuccessAt)
    }

    @Test func aDatabaseThatMissesTheCanaryIsRefused() async throws {
        let setup = try await Setup("canary")
        defer { Task { try await setup.mirror.shutdown() } }
        // Only a hash signature for clam.exe: loads fine, but does not detect EICAR.
        try setup.mirror.publish("custom.hdb", contents: UpdaterFixtures.clamExeHDB, modified: Date().addingTimeInterval(-600))

        let refused = try await setup.run(UpdaterFixtures.updater(customURLs: [setup.url("custom.hdb")]))
        #expect(reason(refused) == .validationFailed, "\(refused.freshclamOutput)")
        if case .failed(let failure) = refused.outcome {
            #expect(failure.message.contains("does not detect the canary"))
        }
        #expect(UpdaterFixtures.contents(setup.database, "custom.hdb") == nil)
        #expect(!refused.filesToUpload.contains("custom.hdb"))

        // With a canary its signatures detect, the same database is accepted.
        let accepted = try await setup.run(UpdaterFixtures.updater(customURLs: [setup.url("custom.hdb")], canaryFile: UpdaterFixtures.clamExe))
        #expect(accepted.outcome == .updated, "\(accepted.freshclamOutput)")
        #expect(UpdaterFixtures.contents(setup.database, "custom.hdb") == UpdaterFixtures.clamExeHDB)
    }

    @Test func tooSoonDoesNotRunFreshclam() async throws {
        let setup = try await Setup("toosoon")
        defer { Task { try await setup.mirror.shutdown() } }
        var configuration = UpdaterFixtures.updater(customURLs: [setup.url("custom.ndb")]).configuration
        configuration.minUpdateInterval = 3600
        let report = try await setup.run(
            DefinitionUpdater(configuration: configuration), state: UpdaterState(lastAttemptAt: Date().addingTimeInterval(-60)))
        #expect(reason(report) == .tooSoon)
        #expect(report.freshclamOutcome == nil)
        #expect(setup.mirror.status.requests == 0)
    }

    @Test func anOlderDatabaseThanThePublishedOneIsRefused() async throws {
        let setup = try await Setup("older")
        defer { Task { try await setup.mirror.shutdown() } }
        try setup.mirror.publish("daily.cud", contents: try UpdaterFixtures.dailyCUD(version: 100), modified: Date().addingTimeInterval(-600))
        let updater = UpdaterFixtures.updater(customURLs: [setup.url("daily.cud")])

        let refused = try await setup.run(updater, published: ["daily": 101])
        #expect(reason(refused) == .olderDatabase, "\(refused.freshclamOutput)")
        if case .failed(let failure) = refused.outcome {
            #expect(failure.message == "the new daily database is version 100, older than the published version 101")
        }
        #expect(UpdaterFixtures.contents(setup.database, "daily.cud") == nil)

        let accepted = try await setup.run(updater, published: ["daily": 100])
        #expect(accepted.outcome == .updated, "\(accepted.freshclamOutput)")
        #expect(accepted.database?.version == "daily:100")
        #expect(accepted.files.first { $0.name == "daily.cud" }?.version == 100)
        #expect(accepted.databaseVersions == ["daily": 100])
        #expect(refused.databaseVersions.isEmpty)
    }

    @Test func aMissingFreshclamIsAFailureThatKeepsTheDatabase() async throws {
        let work = try UpdaterFixtures.folder("nofreshclam")
        try FileManager.default.createDirectory(atPath: "\(work)/database", withIntermediateDirectories: true)
        try UpdaterFixtures.eicarNDB.write(to: URL(fileURLWithPath: "\(work)/database/custom.ndb"))
        var configuration = UpdaterFixtures.updater(customURLs: ["http://127.0.0.1:1/custom.ndb"]).configuration
        configuration.freshclamPath = "/nonexistent/freshclam"
        let report = try await DefinitionUpdater(configuration: configuration).run(in: work, state: UpdaterState(), publishedVersions: [:])
        #expect(reason(report) == .freshclamFailed)
        if case .failed(let failure) = report.outcome {
            #expect(failure.message.contains("/nonexistent/freshclam"))
        }
        #expect(report.filesToUpload.isEmpty)
        #expect(report.files.map(\.name) == ["custom.ndb"])
        #expect(UpdaterFixtures.contents("\(work)/database", "custom.ndb") == UpdaterFixtures.eicarNDB)
    }
}
