import Foundation
import Testing

/// Runs the real `scanner` executable built next to the test bundle.
struct ScannerProcess {
    struct Outcome {
        let status: Int32
        let standardOutput: String
        let standardError: String
        var lines: [String] { standardOutput.split(separator: "\n").map(String.init) }
    }

    static let executable: URL = {
        let folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [folder, folder.deletingLastPathComponent()].map { $0.appendingPathComponent("scanner") }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            fatalError("the scanner executable is not next to the test bundle (\(candidates.map(\.path)))")
        }
        return found
    }()

    static func run(_ arguments: [String], as user: (uid: Int, gid: Int)? = nil) throws -> Outcome {
        let process = Process()
        if let user {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=\(user.uid)", "--regid=\(user.gid)", "--clear-groups", executable.path] + arguments
        } else {
            process.executableURL = executable
            process.arguments = arguments
        }
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(
            status: process.terminationStatus,
            standardOutput: String(decoding: outputData, as: UTF8.self),
            standardError: String(decoding: errorData, as: UTF8.self)
        )
    }
}

/// A world-readable scratch folder with the test signatures and a few fixtures, so that the
/// unreadable-file test can also run the scanner as an unprivileged user.
struct ScanFolder {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    let root: String
    var database: String { "\(root)/db" }
    var files: String { "\(root)/files" }

    init() throws {
        root = "/tmp/scanner-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: "\(root)/files/sub", withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: root)
        try Self.script("make-test-signatures.sh", database)
        let eicar = #"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"#
        try write("files/a-clean.txt", "plain text\n")
        try write("files/sub/b-eicar.com", eicar)
        try write("files/sub/c clean with space.txt", "more text\n")
    }

    func write(_ relativePath: String, _ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: "\(root)/\(relativePath)"))
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: root)
    }

    private static func script(_ name: String, _ argument: String) throws {
        let process = Process()
        process.executableURL = repositoryRoot.appendingPathComponent("Tests/fixtures/\(name)")
        process.arguments = [argument]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown) }
    }
}

@Suite("scanner scan")
struct ScanCommandTests {
    @Test func foldersAreScannedRecursivelyWithOneLinePerFile() throws {
        let folder = try ScanFolder()
        defer { folder.remove() }
        let outcome = try ScannerProcess.run(["scan", "--database", folder.database, folder.files])
        #expect(outcome.status == 1)
        #expect(
            outcome.lines == [
                "\(folder.files)/a-clean.txt: CLEAN",
                "\(folder.files)/sub/b-eicar.com: INFECTED Test.EICAR.Body.UNOFFICIAL",
                "\(folder.files)/sub/c clean with space.txt: CLEAN",
            ])
    }

    @Test func jsonLinesCarryPathVerdictAndSignature() throws {
        let folder = try ScanFolder()
        defer { folder.remove() }
        let outcome = try ScannerProcess.run(["scan", "--json", "--database", folder.database, "\(folder.files)/sub"])
        let objects = try outcome.lines.map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
        #expect(objects.count == 2)
        #expect(objects[0]["path"] as? String == "\(folder.files)/sub/b-eicar.com")
        #expect(objects[0]["verdict"] as? String == "INFECTED")
        #expect(objects[0]["signature"] as? String == "Test.EICAR.Body.UNOFFICIAL")
        #expect(objects[1]["verdict"] as? String == "CLEAN")
        #expect(objects[1]["signature"] is NSNull)
        #expect(outcome.status == 1)
    }

    @Test func allCleanExitsZero() throws {
        let folder = try ScanFolder()
        defer { folder.remove() }
        let outcome = try ScannerProcess.run(["scan", "--database", folder.database, "\(folder.files)/a-clean.txt"])
        #expect(outcome.status == 0)
        #expect(outcome.lines == ["\(folder.files)/a-clean.txt: CLEAN"])
    }

    @Test func missingPathIsAnErrorAndExitsTwo() throws {
        let folder = try ScanFolder()
        defer { folder.remove() }
        let missing = "\(folder.files)/does-not-exist"
        let outcome = try ScannerProcess.run(["scan", "--database", folder.database, "\(folder.files)/a-clean.txt", missing])
        #expect(outcome.status == 2)
        #expect(outcome.lines.last == "\(missing): ERROR (no such file or directory)")
    }

    @Test func infectedWinsOverErrorsForTheExitStatus() throws {
        let folder = try ScanFolder()
        defer { folder.remove() }
        let outcome = try ScannerProcess.run(["scan", "--database", folder.database, "\(folder.root)/missing", folder.files])
        #expect(outcome.status == 1)
    }

    @Test func fileOverTheLimitIsUnscannableAndExitsTwo() throws {
        let folder = try ScanFolder()
        defer { folder.remove() }
        try folder.write("big.txt", String(repeating: "x", count: 4096))
        let outcome = try ScannerProcess.run(["scan", "--max-file-size", "1024", "--database", folder.database, "\(folder.root)/big.txt"])
        #expect(outcome.status == 2)
        #expect(outcome.lines == ["\(folder.root)/big.txt: UNSCANNABLE Heuristics.Limits.Exceeded.MaxFileSize (scan limit exceeded: MaxFileSize)"])
    }

    @Test func unreadableFileIsAnError() throws {
        let folder = try ScanFolder()
        defer { folder.remove() }
        let path = "\(folder.files)/a-clean.txt"
        try FileManager.default.setAttributes([.posixPermissions: 0o000], ofItemAtPath: path)
        // root reads any file: run the scanner as nobody to make the permission count.
        let outcome = try ScannerProcess.run(["scan", "--database", folder.database, path], as: getuid() == 0 ? (65534, 65534) : nil)
        #expect(outcome.status == 2, "\(outcome.standardError)")
        #expect(outcome.lines == ["\(path): ERROR (cannot open \(path): Permission denied)"])
    }

    @Test(arguments: ["missing", "empty", "corrupt"])
    func unusableDatabaseStopsStartUpNamingTheFolder(kind: String) throws {
        let folder = try ScanFolder()
        defer { folder.remove() }
        let database = "\(folder.root)/db-\(kind)"
        if kind != "missing" { try FileManager.default.createDirectory(atPath: database, withIntermediateDirectories: false) }
        if kind == "corrupt" { try folder.write("db-\(kind)/bad.hdb", "not-a-hash\n") }
        let outcome = try ScannerProcess.run(["scan", "--database", database, folder.files])
        #expect(outcome.status == 2)
        #expect(outcome.standardOutput.isEmpty, "no verdict may be printed without a database")
        #expect(outcome.standardError.contains("scanner: "))
        #expect(outcome.standardError.contains(database))
    }
}
