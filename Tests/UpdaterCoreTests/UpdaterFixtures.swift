import ClamAV
import Definitions
import Foundation
import TestSupport

@testable import UpdaterCore

/// Signature files and scratch folders for the updater's tests.
enum UpdaterFixtures {
    /// Generated once per test process by `Tests/fixtures/make-test-signatures.sh`.
    static let signatures: String = {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("updater-signatures-\(ProcessInfo.processInfo.processIdentifier)").path
        let process = Process()
        process.executableURL = Repository.root.appendingPathComponent("Tests/fixtures/make-test-signatures.sh")
        process.arguments = [directory]
        do { try process.run() } catch { fatalError("cannot run make-test-signatures.sh: \(error)") }
        process.waitUntilExit()
        precondition(process.terminationStatus == 0, "make-test-signatures.sh failed")
        return directory
    }()

    /// A body signature for the EICAR test string (detects the default canary).
    static var eicarNDB: Data { FileManager.default.contents(atPath: "\(signatures)/test.ndb")! }
    /// A hash signature for `clam.exe` only: it does not detect EICAR.
    static var clamExeHDB: Data { FileManager.default.contents(atPath: "\(signatures)/test.hdb")! }
    static let clamExe = "/usr/share/clamav-testfiles/clam.exe"

    /// The EICAR signature plus one more: a changed version of ``eicarNDB``.
    static var eicarNDBVersion2: Data {
        let extra = Array("S3-CLAMAV-SCANNER-UPDATER-CANARY".utf8).map { String(format: "%02x", $0) }.joined()
        return eicarNDB + Data("Test.Updater.Canary:0:*:\(extra)\n".utf8)
    }

    /// An unsigned `daily.cud` of the given version holding the EICAR body signature, made by
    /// `Tests/fixtures/make-test-cud.py` (a self-made `.cvd` would fail ClamAV's signature check).
    static func dailyCUD(version: Int) throws -> Data {
        let output = "\(try folder("cud"))/daily.cud"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", Repository.root.appendingPathComponent("Tests/fixtures/make-test-cud.py").path,
            "daily", "\(version)", "\(signatures)/test.ndb", output,
        ]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let data = FileManager.default.contents(atPath: output) else {
            throw TestFailure("make-test-cud.py failed with status \(process.terminationStatus)")
        }
        return data
    }

    /// A fresh folder under the system temporary folder.
    static func folder(_ name: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("updater-\(name)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// An updater with only custom databases, no interval and one download attempt (freshclam
    /// otherwise waits 5 s between attempts).
    static func updater(customURLs: [String], canaryFile: String? = nil, timeout: TimeInterval = 120) -> DefinitionUpdater {
        let configuration = UpdaterConfiguration(
            definitions: DefinitionsLocation(bucket: "definitions"),
            officialDatabases: false,
            customURLs: customURLs.map { URL(string: $0)! },
            minUpdateInterval: 0,
            freshclamTimeout: timeout,
            freshclamMaxAttempts: 1,
            canaryFile: canaryFile
        )
        return DefinitionUpdater(configuration: configuration)
    }

    static func contents(_ directory: String, _ name: String) -> Data? {
        FileManager.default.contents(atPath: (directory as NSString).appendingPathComponent(name))
    }
}
