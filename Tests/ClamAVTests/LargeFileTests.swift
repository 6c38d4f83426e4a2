import ClamAV
import Foundation
import TestSupport
import Testing

/// Files over what libclamav scans whole (its max file size, here lowered to 1 MiB; 2 GiB in
/// production) are scanned in overlapping windows: every byte is matched, members of
/// containers the second unpacker reads are scanned as usual, and formats only a libclamav
/// parser could open are never called clean.
@Suite("Large files: windows")
struct LargeFileTests {
    static let limits = ScanLimits.defaults {
        $0.maxFileSize = 1 << 20
        $0.maxScanSize = 64 << 20
    }
    static let windows = LargeFileScanning(maxSize: 16 << 20, windowSize: 768 << 10, overlap: 192 << 10)

    /// Bytes that look like nothing in particular (a fixed linear congruential sequence).
    static func noise(_ count: Int, seed: UInt64 = 7) -> Data {
        var state = seed
        var bytes = [UInt8](repeating: 0, count: count)
        for index in bytes.indices {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            bytes[index] = UInt8(truncatingIfNeeded: state >> 56)
        }
        return Data(bytes)
    }

    func scan(_ data: Data, name: String = "large.bin") async throws -> ScanResult {
        let folder = try temporaryFolder("large")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try data.write(to: URL(fileURLWithPath: "\(folder)/\(name)"))
        return try await Fixtures.engine(Self.limits, largeFiles: Self.windows).scan(fileAtPath: "\(folder)/\(name)")
    }

    /// EICAR across the end of the first window, at the end of the file, and nowhere.
    @Test(arguments: [Int(768 << 10) - 30, (5 << 20) - 68, -1])
    func everyByteIsMatched(eicarAt offset: Int) async throws {
        var data = Self.noise(5 << 20)
        if offset >= 0 { data.replaceSubrange(offset..<offset + EICAR.data.count, with: EICAR.data) }
        let result = try await scan(data)
        #expect(result.verdict == (offset >= 0 ? .infected : .clean), "\(result)")
        #expect(result.fileType != nil, "the first window's type is the file's")
    }

    @Test func largeTextIsScanned() async throws {
        let text = Data(String(repeating: "an ordinary line of a very long log file\n", count: 80_000).utf8) + EICAR.data
        #expect(try await scan(text, name: "big.log").verdict == .infected)
    }

    /// A member over the max file size, in a zip the second unpacker reads, is windowed too.
    @Test func largeMemberOfAnArchiveIsScanned() async throws {
        let folder = try temporaryFolder("large-zip")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var member = Self.noise(3 << 20)
        member.append(EICAR.data)
        try member.write(to: URL(fileURLWithPath: "\(folder)/member.bin"))
        let zip = try runProcess(
            "/usr/bin/env",
            [
                "python3", "-c",
                """
                import zipfile, sys
                with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z: z.write(sys.argv[2], "member.bin")
                """, "\(folder)/big.zip", "\(folder)/member.bin",
            ])
        #expect(zip.status == 0, "\(zip.standardError)")
        let result = try await Fixtures.engine(Self.limits, largeFiles: Self.windows).scan(fileAtPath: "\(folder)/big.zip")
        #expect(result.verdict == .infected, "\(result)")
    }

    /// An executable over the max file size: windows would match its bytes but no parser
    /// would see inside it.
    @Test func largeParsedFormatIsUnscannable() async throws {
        var data = try FileSamples.portableExecutable
        data.append(Self.noise(2 << 20))
        let result = try await scan(data, name: "big.exe")
        #expect(result.verdict == .unscannable, "\(result)")
        #expect(result.reason?.contains("only its raw bytes could be matched") == true, "\(result)")
    }

    @Test func overTheMaxObjectSizeIsUnscannable() async throws {
        let result = try await scan(Self.noise(17 << 20))
        #expect(result.verdict == .unscannable && result.reason?.contains("over the max object size") == true, "\(result)")
    }

    /// Without windows (the Lambda scanner's setting), a file over the max file size is
    /// never clean.
    @Test func withoutWindowsALargeFileIsUnscannable() async throws {
        let folder = try temporaryFolder("large-off")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Self.noise(3 << 20).write(to: URL(fileURLWithPath: "\(folder)/large.bin"))
        let result = try await Fixtures.engine(Self.limits).scan(fileAtPath: "\(folder)/large.bin")
        #expect(result.verdict == .unscannable, "\(result)")
    }
}
