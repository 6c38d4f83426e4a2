import Foundation
import Testing

@testable import UpdaterCore

/// Output lines captured from freshclam 1.4.6 against the test mirror.
@Suite("freshclam outcome classification")
struct ClassificationTests {
    static let rateLimited = """
        Retrieving http://127.0.0.1:32869/custom.ndb
        Saved freshclam.dat
        WARNING: Can't download custom.ndb from http://127.0.0.1:32869/custom.ndb
        WARNING: FreshClam received error code 429 from the ClamAV Content Delivery Network (CDN).
        This means that you have been rate limited by the CDN.
        WARNING: You are on cool-down until after: 2026-11-26 19:40:48
        Database update completed successfully.
        """

    static let forbidden = """
        WARNING: FreshClam received error code 403 from the ClamAV Content Delivery Network (CDN).
        WARNING: You are on cool-down until after: 2026-11-27 19:38:57
        WARNING: fc_download_url_databases: fc_download_url_database failed: Forbidden; Blocked by CDN (17)
        ERROR: Database update process failed: Forbidden; Blocked by CDN
        ERROR: Update failed.
        """

    static let stillCoolingDown = """
        WARNING: FreshClam previously received error code 429 or 403 from the ClamAV Content Delivery Network (CDN).
        WARNING: You are still on cool-down until after: 2026-11-26 19:40:48
        Database update completed successfully.
        """

    static let serverError = """
        ERROR: downloadFile: Unexpected response (500) from http://127.0.0.1:32869/custom.ndb
        ERROR: Can't download custom.ndb from http://127.0.0.1:32869/custom.ndb
        ERROR: Database update process failed: HTTP GET failed
        ERROR: Update failed.
        """

    static let refused = """
        ERROR: Download failed (7) ERROR:  Message: Couldn't connect to server
        ERROR: Database update process failed: Connection failed
        ERROR: Update failed.
        """

    static let testFailed = """
        ERROR: Failed to load new database: Malformed database
        ERROR: Database test FAILED.
        ERROR: Database update process failed: Test failed
        ERROR: Update failed.
        """

    private func date(_ text: String) -> Date {
        try! Date(text, strategy: .iso8601)
    }

    @Test func rateLimitExitsZeroButIsNotSuccess() {
        let outcome = FreshclamOutcome.classify(exitCode: 0, output: Self.rateLimited, changedFiles: [], timedOut: false)
        #expect(outcome == .rateLimited(until: date("2026-11-26T19:40:48Z")))
    }

    @Test func forbiddenIsBlockedWithItsCoolDown() {
        let outcome = FreshclamOutcome.classify(exitCode: 17, output: Self.forbidden, changedFiles: [], timedOut: false)
        #expect(outcome == .blocked(until: date("2026-11-27T19:38:57Z")))
    }

    @Test func stillCoolingDownIsCoolDown() {
        let outcome = FreshclamOutcome.classify(exitCode: 0, output: Self.stillCoolingDown, changedFiles: ["custom.ndb"], timedOut: false)
        #expect(outcome == .coolDown(until: date("2026-11-26T19:40:48Z")))
    }

    @Test func exitCodesWithoutTelltaleLines() {
        #expect(
            FreshclamOutcome.classify(exitCode: 11, output: Self.serverError, changedFiles: [], timedOut: false)
                == .mirrorError(
                    message:
                        "ERROR: downloadFile: Unexpected response (500) from http://127.0.0.1:32869/custom.ndb | ERROR: Can't download custom.ndb from http://127.0.0.1:32869/custom.ndb | ERROR: Database update process failed: HTTP GET failed"
                ))
        if case .network = FreshclamOutcome.classify(exitCode: 5, output: Self.refused, changedFiles: [], timedOut: false) {
        } else {
            Issue.record("exit 5 is a network failure")
        }
        if case .validation = FreshclamOutcome.classify(exitCode: 8, output: Self.testFailed, changedFiles: [], timedOut: false) {
        } else {
            Issue.record("exit 8 is a validation failure")
        }
        #expect(FreshclamOutcome.classify(exitCode: 18, output: "", changedFiles: [], timedOut: false) == .rateLimited(until: nil))
        #expect(
            FreshclamOutcome.classify(exitCode: 9, output: "ERROR: Can't open/parse the config file x", changedFiles: [], timedOut: false)
                == .failed(exitCode: 9, message: "ERROR: Can't open/parse the config file x"))
    }

    @Test func successDependsOnChangedFiles() {
        #expect(FreshclamOutcome.classify(exitCode: 0, output: "custom.ndb is up-to-date", changedFiles: [], timedOut: false) == .upToDate)
        #expect(
            FreshclamOutcome.classify(exitCode: 0, output: "custom.ndb updated", changedFiles: ["custom.ndb"], timedOut: false)
                == .updated(changedFiles: ["custom.ndb"]))
    }

    @Test func outdatedEngineOnFailure() {
        let output = "WARNING: Your ClamAV installation is OUTDATED!\nERROR: Update failed."
        #expect(FreshclamOutcome.classify(exitCode: 14, output: output, changedFiles: [], timedOut: false) == .outdatedEngine)
    }

    @Test func timeoutWinsOverEverything() {
        #expect(FreshclamOutcome.classify(exitCode: 15, output: Self.rateLimited, changedFiles: [], timedOut: true) == .timeout)
    }

    @Test func failureReasons() {
        #expect(DefinitionUpdater.failure(for: .rateLimited(until: nil)).reason == .rateLimited)
        #expect(DefinitionUpdater.failure(for: .blocked(until: nil)).reason == .blocked)
        #expect(DefinitionUpdater.failure(for: .coolDown(until: nil)).reason == .coolDown)
        #expect(DefinitionUpdater.failure(for: .outdatedEngine).reason == .outdatedEngine)
        #expect(DefinitionUpdater.failure(for: .validation(message: "")).reason == .validationFailed)
        #expect(DefinitionUpdater.failure(for: .network(message: "")).reason == .network)
        #expect(DefinitionUpdater.failure(for: .mirrorError(message: "")).reason == .mirrorError)
        #expect(DefinitionUpdater.failure(for: .timeout).reason == .timeout)
        #expect(DefinitionUpdater.failure(for: .failed(exitCode: 2, message: "")).reason == .freshclamFailed)
    }
}

@Suite("freshclam.dat and the run guard")
struct GuardTests {
    /// `xxd` of a freshclam.dat written by freshclam 1.4.6 after a 429 with Retry-After: 120.
    static let afterRateLimit: Data = {
        let hex = """
            4672 6573 6843 6c61 6d44 6174 6101 0000
            0062 3363 3039 6266 372d 3438 3535 2d34
            6338 362d 3936 3831 2d36 6332 3965 3036
            3639 6264 6600 0000 0000 0000 0040 8b08
            6b00 0000 0000 0000 0000 0000 0000 0000
            0000 0000 0000 0000 0000
            """.filter(\.isHexDigit)
        var data = Data()
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            data.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return data
    }()

    @Test func parsesTheCoolDown() throws {
        let state = try #require(FreshclamState(data: Self.afterRateLimit))
        #expect(state.uuid == "b3c09bf7-4855-4c86-9681-6c29e0669bdf")
        #expect(state.coolDownUntil == Date(timeIntervalSince1970: 0x6b08_8b40))
    }

    @Test func noCoolDownAndGarbage() throws {
        var fresh = Self.afterRateLimit
        fresh.replaceSubrange(61..<69, with: Data(count: 8))
        #expect(try #require(FreshclamState(data: fresh)).coolDownUntil == nil)
        #expect(FreshclamState(data: Data("not freshclam".utf8)) == nil)
        #expect(FreshclamState(data: Self.afterRateLimit.prefix(40)) == nil)
    }

    @Test func coolDownFromFreshclamOrState() {
        let now = Date(timeIntervalSince1970: 0x6b08_8b40 - 60)
        let fromFile = UpdateGuard.refusal(
            state: UpdaterState(), freshclamState: FreshclamState(data: Self.afterRateLimit), minUpdateInterval: 0, now: now)
        #expect(fromFile?.reason == .coolDown)
        #expect(fromFile?.retryAfter == Date(timeIntervalSince1970: 0x6b08_8b40))
        let fromState = UpdateGuard.refusal(
            state: UpdaterState(coolDownUntil: now.addingTimeInterval(1)), freshclamState: nil, minUpdateInterval: 0, now: now)
        #expect(fromState?.reason == .coolDown)
        let over = UpdateGuard.refusal(
            state: UpdaterState(), freshclamState: FreshclamState(data: Self.afterRateLimit), minUpdateInterval: 0, now: now.addingTimeInterval(61))
        #expect(over == nil)
    }

    @Test func minimumInterval() {
        let last = Date(timeIntervalSince1970: 1_800_000_000)
        let state = UpdaterState(lastAttemptAt: last)
        let early = UpdateGuard.refusal(state: state, freshclamState: nil, minUpdateInterval: 3600, now: last.addingTimeInterval(3599))
        #expect(early?.reason == .tooSoon)
        #expect(early?.retryAfter == last.addingTimeInterval(3600))
        #expect(UpdateGuard.refusal(state: state, freshclamState: nil, minUpdateInterval: 3600, now: last.addingTimeInterval(3600)) == nil)
        #expect(UpdateGuard.refusal(state: UpdaterState(), freshclamState: nil, minUpdateInterval: 3600, now: last) == nil)
    }

    @Test func stateRoundTripsThroughJSON() throws {
        let state = UpdaterState(
            lastAttemptAt: Date(timeIntervalSince1970: 1), lastSuccessAt: nil, lastOutcome: "RATE_LIMITED",
            coolDownUntil: Date(timeIntervalSince1970: 2))
        let encoded = try JSONEncoder().encode(state)
        #expect(try JSONDecoder().decode(UpdaterState.self, from: encoded) == state)
    }

    @Test func olderVersionsAreDowngrades() {
        let downgrades = DatabaseValidator.downgrades(new: ["daily": 27460, "main": 63, "bytecode": 335], published: ["daily": 27461, "main": 62])
        #expect(downgrades.map(\.name) == ["daily"])
        #expect(downgrades.first?.new == 27460)
        #expect(downgrades.first?.published == 27461)
        #expect(DatabaseValidator.downgrades(new: ["daily": 27461], published: ["daily": 27461]).isEmpty)
        #expect(DatabaseValidator.downgrades(new: [:], published: ["daily": 1]).isEmpty)
    }
}

@Suite("freshclam runner")
struct RunnerTests {
    @Test func killsARunPastItsTimeLimit() async throws {
        let folder = try UpdaterFixtures.folder("runner")
        let script = "\(folder)/slow-freshclam"
        try "#!/bin/sh\necho started\nexec sleep 60\n".write(toFile: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
        let run = try await FreshclamRunner(executable: script, timeout: 1).run(configFile: "/dev/null", logFile: "\(folder)/log")
        #expect(run.timedOut)
        // SIGTERM, or SIGKILL after the grace period: a child started by Foundation's Process
        // from a Dispatch thread inherits that thread's blocked signals, SIGTERM included.
        #expect([SIGTERM, SIGKILL].contains(run.exitCode))
        #expect(run.output == "started\n")
        #expect(FreshclamOutcome.classify(exitCode: run.exitCode, output: run.output, changedFiles: [], timedOut: run.timedOut) == .timeout)
    }

    @Test func missingExecutableIsAnError() async throws {
        let folder = try UpdaterFixtures.folder("runner")
        await #expect(throws: UpdateFailure.self) {
            try await FreshclamRunner(executable: "no-such-freshclam-binary").run(configFile: "/dev/null", logFile: "\(folder)/log")
        }
    }
}
