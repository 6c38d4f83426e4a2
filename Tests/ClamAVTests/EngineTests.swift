import Foundation
import Testing

@testable import ClamAV

@Suite("Engine loading, bad input and concurrency")
struct EngineTests {
    @Test func databaseInfoCountsTheGeneratedSignatures() async throws {
        let engine = try await Fixtures.engine()
        #expect(engine.database.signatureCount == 3)
        #expect(engine.database.files.map(\.name) == ["test.hdb", "test.ndb", "test.yar"])
        #expect(engine.database.version == nil)
    }

    @Test func cvdHeaderGivesVersionBuildTimeAndSignatureCount() throws {
        let folder = try Fixtures.emptyFolder("cvd")
        // A CVD starts with a 512-byte header: ClamAV-VDB:time:version:sigs:level:md5:dsig:builder:stime
        var header = "ClamAV-VDB:22 Nov 2026 04-10 +0000:27461:2070000:90:0123456789abcdef0123456789abcdef:x:builder:1795234200"
        header += String(repeating: " ", count: 512 - header.utf8.count)
        try Data(header.utf8).write(to: URL(fileURLWithPath: "\(folder)/daily.cvd"))
        let info = try #require(DatabaseInfo.header(ofDatabaseAt: "\(folder)/daily.cvd"))
        #expect(info.version == 27461)
        #expect(info.signatureCount == 2_070_000)
        #expect(info.buildTime == Date(timeIntervalSince1970: 1_795_234_200))
        let database = DatabaseInfo(
            directory: folder, signatureCount: 1, files: [info, .init(name: "main.cvd", version: 62, buildTime: nil, signatureCount: 1)])
        #expect(database.version == "main:62+daily:27461")
    }

    @Test func missingDatabaseFolderFailsNamingIt() async throws {
        let missing = "\(Fixtures.root)/no-such-database"
        let error = await #expect(throws: ClamAVError.self) { try await ClamAVEngine.load(databaseDirectory: missing) }
        #expect(error?.kind == .databaseLoad)
        #expect(error?.message == "database directory \(missing) does not exist")
    }

    @Test func emptyDatabaseFolderFailsNamingIt() async throws {
        let folder = try Fixtures.emptyFolder("empty-db")
        try Data("not a database".utf8).write(to: URL(fileURLWithPath: "\(folder)/README.txt"))
        let error = await #expect(throws: ClamAVError.self) { try await ClamAVEngine.load(databaseDirectory: folder) }
        #expect(error?.message.hasPrefix("database directory \(folder) holds no ClamAV database file") == true)
    }

    @Test func corruptDatabaseFileFailsNamingFolderAndFile() async throws {
        let folder = try Fixtures.emptyFolder("corrupt-db")
        for name in ["test.hdb", "test.ndb"] {
            try FileManager.default.copyItem(atPath: "\(Fixtures.database)/\(name)", toPath: "\(folder)/\(name)")
        }
        try Data("this is not : a signature\n".utf8).write(to: URL(fileURLWithPath: "\(folder)/broken.ndb"))
        let error = await #expect(throws: ClamAVError.self) { try await ClamAVEngine.load(databaseDirectory: folder) }
        #expect(error?.kind == .databaseLoad)
        #expect(
            error?.message.hasPrefix("cannot load the ClamAV database in \(folder) (rejected: broken.ndb)") == true, "\(String(describing: error))")
    }

    @Test func databaseWithoutSignaturesIsRefused() async throws {
        let folder = try Fixtures.emptyFolder("no-signatures")
        try Data().write(to: URL(fileURLWithPath: "\(folder)/empty.hdb"))
        await #expect(throws: ClamAVError.self) { try await ClamAVEngine.load(databaseDirectory: folder) }
    }

    @Test func missingAndNonRegularFilesAreErrors() async throws {
        let engine = try await Fixtures.engine()
        let missing = await #expect(throws: ClamAVError.self) { try await engine.scan(fileAtPath: "\(Fixtures.root)/missing.bin") }
        #expect(missing?.kind == .fileAccess)
        #expect(missing?.message.contains("No such file or directory") == true)
        let folder = await #expect(throws: ClamAVError.self) { try await engine.scan(fileAtPath: Fixtures.root) }
        #expect(folder?.message == "\(Fixtures.root) is not a regular file")
    }

    /// One compiled engine, 8 tasks scanning at once, the same verdicts as one at a time.
    /// The cache is off so that every scan really runs. Run under `--sanitize=thread` by the
    /// test script to show there is no data race.
    @Test func concurrentScansMatchSerialScans() async throws {
        let engine = try await Fixtures.engine(.defaults { $0.maxRecursion = 5 }, cache: false)
        let files =
            [
                "eicar.com", "eicar.zip.tar.gz", "yara-canary.txt", "clean.txt", "clean.png",
                "empty.bin", "nested-12.zip", "encrypted.zip",
            ].map(Fixtures.file)
            + ["clam.exe", "clam.zip", "clam.pdf", "clam-upx.exe"].map { "\(Fixtures.corpus)/\($0)" }
        var serial: [String: ScanResult] = [:]
        for file in files { serial[file] = try await engine.scan(fileAtPath: file) }

        let concurrent = try await withThrowingTaskGroup(of: [String: ScanResult].self) { group in
            for task in 0..<8 {
                group.addTask {
                    var results: [String: ScanResult] = [:]
                    for offset in files.indices {
                        let file = files[(offset + task) % files.count]
                        results[file] = try await engine.scan(fileAtPath: file)
                    }
                    return results
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(concurrent.count == 8)
        for results in concurrent { #expect(results == serial) }
        #expect(Set(serial.values.map(\.verdict)) == [.clean, .infected, .unscannable])
    }
}
