import Foundation
import Testing

@testable import ClamAV

/// libclamav 1.4 passes as clean what it cannot unpack; the engine accounts for every
/// container with its second unpacker, so that nothing is clean unless all of it was scanned.
@Suite("Archive accounting: nothing unscanned is clean")
struct ArchiveAccountingTests {
    @Test(arguments: Fixtures.hostileExpectations.keys.sorted())
    func hostileArchiveGetsItsVerdict(name: String) async throws {
        let expected = try #require(Fixtures.hostileExpectations[name])
        let result = try await Fixtures.engine().scan(fileAtPath: Fixtures.hostile(name))
        switch expected {
        case "INFECTED":
            #expect((result.verdict, result.signature) == (.infected, "Test.EICAR.Body.UNOFFICIAL"), "\(name): \(result)")
        case "NOT_CLEAN":
            #expect(result.verdict != .clean, "\(name): \(result)")
            #expect(result.verdict != .error, "\(name): \(result)")
        case "CLEAN":
            #expect(result.verdict == .clean, "\(name): \(result)")
        default:
            #expect(result.verdict == .unscannable, "\(name): \(result)")
            #expect(result.reason?.isEmpty == false, "\(name): \(result)")
        }
    }

    @Test func unpackableMemberIsNamedInTheReason() async throws {
        let result = try await Fixtures.engine().scan(fileAtPath: Fixtures.hostile("7z-arm64.7z"))
        #expect(result.verdict == .unscannable)
        #expect(result.reason == "not unpacked completely: member payload.txt could not be unpacked: Unexpected codec ID: a", "\(result)")
    }

    @Test func containersNobodyCanAccountForAreNamed() async throws {
        let engine = try await Fixtures.engine()
        let arj = try await engine.scan(fileAtPath: Fixtures.hostile("clean.arj"))
        #expect(arj.reason == "unsupported container: it holds an ARJ archive, whose members the scanner cannot account for", "\(arj)")
        let lzop = try await engine.scan(fileAtPath: Fixtures.hostile("clean.txt.lzo"))
        #expect(lzop.reason == "unsupported container: it is an lzop stream, which the scanner cannot unpack", "\(lzop)")
    }

    /// libclamav's clean cache is keyed by MD5 in 1.4: with it on, the second file of an MD5
    /// collision (the published Wang-Yu pair) passes unscanned after the first.
    @Test func md5CollisionCannotRideTheCleanCache() async throws {
        let (clean, malicious, database) = try Self.collidingPair()
        let safe = try await ClamAVEngine.load(databaseDirectory: database)
        #expect(try await safe.scan(fileAtPath: clean).verdict == .clean)
        #expect(try await safe.scan(fileAtPath: malicious).verdict == .infected)

        // The hole the default closes: with libclamav's cache on, the collision passes.
        let cached = try await ClamAVEngine.load(databaseDirectory: database, options: EngineOptions(cacheEnabled: true))
        #expect(try await cached.scan(fileAtPath: clean).verdict == .clean)
        #expect(try await cached.scan(fileAtPath: malicious).verdict == .clean)
    }

    @Test func limitsAreReadBackFromLibclamav() throws {
        var asked = ScanLimits.clamAVDefaults
        asked.maxFileSize = 2 << 30
        let honoured = try ClamAVEngine.honouredLimits(for: asked)
        #expect(honoured.maxFileSize == Int64(Int32.max) - 2)
        #expect(honoured.maxScanSize == asked.maxScanSize)
        #expect(honoured.maxFiles == asked.maxFiles)
    }

    @Test func engineRefusesLimitsLibclamavWouldChange() async throws {
        let error = await #expect(throws: ClamAVError.self) {
            try await Fixtures.engine(.defaults { $0.maxFileSize = 2 << 30 })
        }
        #expect(error?.kind == .engineSetup)
        #expect(error?.message.contains("max file size of 2147483645") == true, "\(String(describing: error))")
    }

    /// A layer libclamav cut at its max file size is unscannable even when the configured
    /// limit is not a multiple of libclamav's 8 KiB inflate chunk.
    @Test func entryCutJustBelowTheLimitIsUnscannable() async throws {
        let engine = try await Fixtures.engine(.defaults { $0.maxFileSize = 150 * 1_048_576 + 4_095 })
        let result = try await engine.scan(fileAtPath: Fixtures.file("bomb.zip"))
        #expect(result.verdict == .unscannable, "\(result)")
    }

    @Test func scanPastItsDeadlineIsUnscannableForTime() async throws {
        let engine = try await Fixtures.engine()
        let result = try await engine.scan(fileAtPath: Fixtures.hostile("7z-solid.7z"), deadline: .now - .seconds(1))
        #expect(result.verdict == .unscannable)
        #expect(result.outOfTime)
        #expect(result.reason?.hasPrefix("scan time limit reached") == true, "\(result)")
    }

    /// libclamav cannot be interrupted inside one layer: when it is still busy after the
    /// deadline, the verdict is returned anyway and the work finishes on its own.
    @Test func busyLibclamavIsAbandonedAtTheDeadline() async throws {
        let folder = try Fixtures.emptyFolder("abandon")
        let zeros = "\(folder)/zeros.bin"
        // 1.2 GB of zeros (sparse): libclamav needs about 10 s for it here, so it is still busy
        // when the deadline (and the grace after it) has passed: only abandoning the scan can
        // give a verdict that says "out of time" (libclamav alone would finish with CLEAN).
        #expect(FileManager.default.createFile(atPath: zeros, contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: zeros))
        try handle.truncate(atOffset: 1_200_000_000)
        try handle.close()
        let engine = try await ClamAVEngine.load(
            databaseDirectory: Fixtures.database,
            options: EngineOptions(
                limits: .defaults {
                    $0.maxFileSize = 1_500_000_000
                    $0.maxScanSize = 1_500_000_000
                }, temporaryDirectory: folder)
        )
        let result = try await engine.scan(fileAtPath: zeros, deadline: .now + .milliseconds(300))
        #expect(result.verdict == .unscannable && result.outOfTime, "\(result)")
        #expect(result.reason == "scan time limit reached: libclamav was still busy at the deadline", "\(result)")
        // The abandoned scan removes its private folder when libclamav returns.
        var left: [String] = []
        for _ in 0..<120 {
            left = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0 != "zeros.bin" }
            if left.isEmpty { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(left.isEmpty, "\(left)")
    }

    @Test func scansLeaveNothingInTheirFolder() async throws {
        let folder = try Fixtures.emptyFolder("engine-tmp")
        let engine = try await ClamAVEngine.load(databaseDirectory: Fixtures.database, options: EngineOptions(temporaryDirectory: folder))
        for name in Fixtures.hostileExpectations.keys {
            _ = try await engine.scan(fileAtPath: Fixtures.hostile(name))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == [])
    }

    /// Two 128-byte blocks with one MD5 (Wang and Yu, 2005), a common suffix, and a body
    /// signature that matches only the second.
    static func collidingPair() throws -> (clean: String, malicious: String, database: String) {
        let first =
            "d131dd02c5e6eec4693d9a0698aff95c2fcab58712467eab4004583eb8fb7f8955ad340609f4b30283e488832571415a085125e8f7cdc99fd91dbdf280373c5bd8823e3156348f5bae6dacd436c919c6dd53e2b487da03fd02396306d248cda0e99f33420f577ee8ce54b67080a80d1ec69821bcb6a8839396f9652b6ff72a70"
        let second =
            "d131dd02c5e6eec4693d9a0698aff95c2fcab50712467eab4004583eb8fb7f8955ad340609f4b30283e4888325f1415a085125e8f7cdc99fd91dbd7280373c5bd8823e3156348f5bae6dacd436c919c6dd53e23487da03fd02396306d248cda0e99f33420f577ee8ce54b67080280d1ec69821bcb6a8839396f965ab6ff72a70"
        let folder = try Fixtures.emptyFolder("md5-collision")
        let suffix = Data("the same suffix keeps the MD5 equal".utf8)
        try (Data(hex: first) + suffix).write(to: URL(fileURLWithPath: "\(folder)/clean.bin"))
        try (Data(hex: second) + suffix).write(to: URL(fileURLWithPath: "\(folder)/malicious.bin"))
        try FileManager.default.createDirectory(atPath: "\(folder)/db", withIntermediateDirectories: true)
        try Data("Test.Collision.Second:0:*:\(second.prefix(64))\n".utf8).write(to: URL(fileURLWithPath: "\(folder)/db/collision.ndb"))
        return ("\(folder)/clean.bin", "\(folder)/malicious.bin", "\(folder)/db")
    }
}

extension Data {
    init(hex: String) {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        self.init(bytes)
    }
}
