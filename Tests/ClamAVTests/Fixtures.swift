import ClamAV
import Foundation

/// Generated signatures and scan fixtures, built once per test process by the repository's
/// scripts (the same ones the README's local run uses).
enum Fixtures {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let corpus = "/usr/share/clamav-testfiles"

    /// A temporary folder with `db/` (test signatures) and `files/` (scan fixtures).
    static let root: String = {
        let root = FileManager.default.temporaryDirectory
            .appendingPathComponent("clamav-tests-\(ProcessInfo.processInfo.processIdentifier)").path
        try? FileManager.default.removeItem(atPath: root)
        run("Tests/fixtures/make-test-signatures.sh", "\(root)/db")
        run("Tests/fixtures/make-test-files.sh", "\(root)/files")
        run("Tests/fixtures/make-hostile-archives.py", "\(root)/hostile")
        return root
    }()

    /// A hostile archive, or a clean counterpart, from Tests/fixtures/make-hostile-archives.py.
    static func hostile(_ name: String) -> String { "\(root)/hostile/\(name)" }

    /// Each hostile archive and the verdict it must get (`expected.json`).
    static let hostileExpectations: [String: String] = {
        let data = try! Data(contentsOf: URL(fileURLWithPath: "\(root)/hostile/expected.json"))
        return try! JSONDecoder().decode([String: String].self, from: data)
    }()

    static var database: String { "\(root)/db" }

    static func file(_ name: String) -> String { "\(root)/files/\(name)" }

    /// A fresh empty folder under the fixtures root.
    static func emptyFolder(_ name: String) throws -> String {
        let path = "\(root)/\(name)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func engine(_ limits: ScanLimits = .clamAVDefaults, cache: Bool = false, largeFiles: LargeFileScanning? = nil) async throws
        -> ClamAVEngine
    {
        try await ClamAVEngine.load(
            databaseDirectory: database, options: EngineOptions(limits: limits, cacheEnabled: cache, largeFiles: largeFiles))
    }

    private static func run(_ script: String, _ argument: String) {
        let process = Process()
        process.executableURL = repositoryRoot.appendingPathComponent(script)
        process.arguments = [argument]
        do {
            try process.run()
        } catch {
            fatalError("cannot run \(script): \(error)")
        }
        process.waitUntilExit()
        precondition(process.terminationStatus == 0, "\(script) \(argument) failed with status \(process.terminationStatus)")
    }
}

extension ScanLimits {
    /// ClamAV's defaults with one field changed.
    static func defaults(with change: (inout ScanLimits) -> Void) -> ScanLimits {
        var limits = ScanLimits.clamAVDefaults
        change(&limits)
        return limits
    }
}
