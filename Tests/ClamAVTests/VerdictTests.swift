import ClamAV
import Foundation
import TestSupport
import Testing

@Suite("Verdicts of the real engine with generated signatures")
struct VerdictTests {
    /// Every file of ClamAV's own test corpus wraps clam.exe in a format libclamav unpacks
    /// (packers, archives, installers, mail, documents); all must be found by the hash
    /// signature of clam.exe alone. The list is explicit so that any difference fails.
    static let corpusExpectedInfected: Set<String> = [
        "clam-aspack.exe", "clam-fsg.exe", "clam-mew.exe", "clam-nsis.exe", "clam-pespin.exe",
        "clam-petite.exe", "clam-upack.exe", "clam-upx.exe", "clam-wwpack.exe", "clam-yc.exe",
        "clam.7z", "clam.arj", "clam.bin-be.cpio", "clam.bin-le.cpio", "clam.bz2.zip", "clam.cab",
        "clam.chm", "clam.d64.zip", "clam.ea05.exe", "clam.ea06.exe", "clam.exe", "clam.exe.binhex",
        "clam.exe.bz2", "clam.exe.html", "clam.exe.mbox.base64", "clam.exe.mbox.uu", "clam.exe.rtf",
        "clam.exe.szdd", "clam.impl.zip", "clam.mail", "clam.newc.cpio", "clam.odc.cpio",
        "clam.ole.doc", "clam.pdf", "clam.ppt", "clam.sis", "clam.tar.gz", "clam.tnef", "clam.zip",
        "clam_IScab_ext.exe", "clam_IScab_int.exe", "clam_ISmsi_ext.exe", "clam_ISmsi_int.exe",
        "clam_cache_emax.tgz",
    ]

    @Test func clamAVTestCorpusIsInfectedExactlyAsListed() async throws {
        let engine = try await Fixtures.engine()
        let names = try FileManager.default.contentsOfDirectory(atPath: Fixtures.corpus)
        #expect(Set(names) == Self.corpusExpectedInfected, "the corpus holds files this test does not list, or lacks listed ones")
        var infected: Set<String> = []
        for name in names {
            let result = try await engine.scan(fileAtPath: "\(Fixtures.corpus)/\(name)")
            if result.verdict == .infected {
                #expect(result.signature == "Test.ClamExe.Hash.UNOFFICIAL", "\(name): \(result)")
                infected.insert(name)
            }
        }
        #expect(infected == Self.corpusExpectedInfected)
    }

    @Test(arguments: [
        ("eicar.com", "Test.EICAR.Body.UNOFFICIAL"),
        ("eicar.zip.tar.gz", "Test.EICAR.Body.UNOFFICIAL"),
        ("yara-canary.txt", "YARA.Test_YARA_Canary.UNOFFICIAL"),
    ])
    func generatedSignaturesDetect(file: String, signature: String) async throws {
        let result = try await Fixtures.engine().scan(fileAtPath: Fixtures.file(file))
        #expect((result.verdict, result.signature) == (.infected, signature))
    }

    @Test(arguments: ["clean.txt", "clean.png", "empty.bin", "random-2MiB.bin", "nested-12.zip"])
    func ordinaryFilesAreClean(file: String) async throws {
        let result = try await Fixtures.engine().scan(fileAtPath: Fixtures.file(file))
        #expect(result.verdict == .clean, "\(result)")
    }

    /// The file-type policy relies on libclamav's own detection of the content, whatever the
    /// name: real files of each type, and a PE and a zip under image names.
    @Test(arguments: [
        ("image.png", "PNG"), ("image.jpg", "JPEG"), ("image.gif", "GIF"), ("document.pdf", "PDF"), ("page.png", "HTML"),
        ("program.png", "MSEXE"), ("archive.jpg", "ZIP"),
    ])
    func typeIsDetectedFromTheContent(name: String, type: String) async throws {
        let folder = try temporaryFolder("types")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let samples: [String: Data] = [
            "image.png": FileSamples.png, "image.jpg": FileSamples.jpeg, "image.gif": FileSamples.gif, "document.pdf": FileSamples.pdf,
            "page.png": FileSamples.html, "program.png": try FileSamples.portableExecutable,
            "archive.jpg": FileSamples.zip,
        ]
        let path = "\(folder)/\(name)"
        try #require(samples[name]).write(to: URL(fileURLWithPath: path))
        let result = try await Fixtures.engine().scan(fileAtPath: path)
        #expect(result.verdict == .clean, "\(result)")
        #expect(result.fileType == type, "\(name): \(result)")
    }

    @Test func fileOverTheSizeLimitIsUnscannable() async throws {
        let engine = try await Fixtures.engine(.defaults { $0.maxFileSize = 1_048_576 })
        let result = try await engine.scan(fileAtPath: Fixtures.file("random-2MiB.bin"))
        #expect(result.verdict == .unscannable)
        #expect(result.reason == "scan limit exceeded: MaxFileSize")
    }

    @Test func nestingOverTheRecursionLimitIsUnscannable() async throws {
        let engine = try await Fixtures.engine(.defaults { $0.maxRecursion = 5 })
        let result = try await engine.scan(fileAtPath: Fixtures.file("nested-12.zip"))
        #expect(result.verdict == .unscannable)
        #expect(
            result.reason?.hasPrefix("scan limit exceeded: in level11.zip > level10.zip > level9.zip > level8.zip > level7.zip > level6.zip: ")
                == true, "\(result)")
        #expect(result.reason?.contains("max recursion (5)") == true, "\(result)")
    }

    /// libclamav trims a large zip entry to the max file size and scans only that part, with
    /// no alert; the engine must still not call it clean.
    @Test(arguments: ["bomb.zip", "bomb.gz"])
    func decompressionBombIsUnscannable(file: String) async throws {
        let result = try await Fixtures.engine().scan(fileAtPath: Fixtures.file(file))
        #expect(result.verdict == .unscannable, "\(result)")
        #expect(result.reason?.contains("max file size") == true || result.reason == "scan limit exceeded: MaxFileSize")
    }

    /// The engine's clean cache must not turn a second bomb with the same trimmed content clean.
    @Test func decompressionBombStaysUnscannableWhenScannedAgain() async throws {
        let engine = try await Fixtures.engine()
        for _ in 0..<2 {
            #expect(try await engine.scan(fileAtPath: Fixtures.file("bomb.zip")).verdict == .unscannable)
        }
    }

    @Test func encryptedZipIsUnscannableAndSaysWhy() async throws {
        let result = try await Fixtures.engine().scan(fileAtPath: Fixtures.file("encrypted.zip"))
        #expect(
            result
                == ScanResult(
                    verdict: .unscannable, signature: "Heuristics.Encrypted.Zip", reason: "encrypted content: member secret.txt is encrypted",
                    fileType: "ZIP"
                ))
    }

    @Test func realSignatureWinsOverLimitAlerts() {
        let result = ScanResult.classify(detections: ["Heuristics.Limits.Exceeded.MaxFiles", "Win.Test.EICAR_HDB-1"])
        #expect(result == ScanResult(verdict: .infected, signature: "Win.Test.EICAR_HDB-1"))
        #expect(ScanResult.classify(detections: []).verdict == .unscannable)
    }
}
