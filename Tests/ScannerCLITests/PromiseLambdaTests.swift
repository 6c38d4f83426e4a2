import Foundation
import LambdaTesting
import Testing

/// The product's first promise through its real path (the scanner binary in Lambda mode,
/// real libclamav, objects on moto) at the default limits: nothing that was not scanned
/// completely is ever `CLEAN`, and every object ends before the invocation's deadline.
@Suite("scanner in Lambda mode: nothing unscanned is clean", .serialized)
struct PromiseLambdaTests {
    @Test func hostileArchivesAreNeverCleanAtTheDefaultLimits() async throws {
        let harness = try LambdaHarness()
        try harness.publish("\(harness.samples)/db")
        let folder = "\(harness.samples)/hostile"
        try LambdaHarness.python(["Tests/fixtures/make-hostile-archives.py", folder, "--large"])
        let expected = try JSONDecoder().decode([String: String].self, from: Data(contentsOf: URL(fileURLWithPath: "\(folder)/expected.json")))
        var objects: [(key: String, versionID: String)] = []
        for name in expected.keys.sorted() {
            objects.append(("hostile/\(name)", try harness.uploadFile("hostile/\(name)", "\(folder)/\(name)")))
        }

        let server = try await RuntimeAPIServer.start()
        let scanner = try harness.startScanner(server: server)
        defer {
            scanner.terminate()
            scanner.waitUntilExit()
        }
        let id = server.enqueue(json: LambdaHarness.s3Event(bucket: "\(harness.prefix)-uploads", objects: objects))
        let units = try #require(try json(try await server.result(for: id))["units"] as? [[String: Any]])
        let reports = units.compactMap { ($0["objects"] as? [[String: Any]])?.first }
        #expect(reports.count == expected.count)
        for report in reports {
            let key = try #require(report["key"] as? String)
            let verdict = report["verdict"] as? String
            let name = String(key.dropFirst("hostile/".count))
            switch expected[name] {
            case "INFECTED":
                #expect(verdict == "INFECTED", "\(name): \(report)")
                #expect(report["action"] as? String == "DELETED", "\(name): \(report)")
            case "NOT_CLEAN", "UNSCANNABLE":
                #expect(verdict == "UNSCANNABLE" || verdict == "INFECTED", "\(name): \(report)")
            default:
                #expect(verdict == "CLEAN", "\(name): \(report)")
            }
        }
        try await server.shutdown()
    }

    /// An object whose scan outlasts the invocation ends in ERROR (a retry gets a full
    /// budget), tagged and published before the deadline, and its files are removed.
    @Test func slowScanEndsBeforeTheDeadlineWithItsVerdictAndEvent() async throws {
        let harness = try LambdaHarness()
        try harness.publish("\(harness.samples)/db")
        // 1.5 GB of zeros deflated to 1.5 MB: unpacking it takes far longer than the 4 s the
        // invocation leaves for scanning.
        let zip = "\(harness.samples)/slow.zip"
        try LambdaHarness.python([
            "-c",
            """
            import zipfile
            with zipfile.ZipFile('\(zip)', 'w', compression=zipfile.ZIP_DEFLATED) as archive:
                with archive.open('zeros.bin', 'w', force_zip64=True) as member:
                    chunk = bytes(1 << 24)
                    for _ in range(90):
                        member.write(chunk)
            """,
        ])
        let version = try harness.uploadFile("slow/zeros.zip", zip)
        let work = "\(harness.samples)/work"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)

        let server = try await RuntimeAPIServer.start()
        let scanner = try harness.startScanner(server: server, overrides: ["SCANNER_WORK_DIRECTORY": work])
        defer {
            scanner.terminate()
            scanner.waitUntilExit()
        }
        // Load the definitions first, so that the deadline measures the scan alone.
        _ = try await server.result(for: server.enqueue(json: #"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}"#))

        let deadline = Date().addingTimeInterval(14)
        let event = LambdaHarness.s3Event(bucket: "\(harness.prefix)-uploads", key: "slow/zeros.zip", versionID: version)
        let id = server.enqueue(RuntimeAPIServer.Invocation(payload: Array(event.utf8), deadline: deadline))
        let result = try await server.result(for: id)
        #expect(Date() < deadline, "the response came after the invocation's deadline")
        guard case .error(let type, _) = result else {
            Issue.record("a direct event with an ERROR fails the invocation: \(result)")
            return
        }
        #expect(type == "InvocationFailed")
        #expect(try harness.tags("slow/zeros.zip")["scan-status"] == "ERROR")
        let failures = try harness.events().filter { $0["detail-type"] as? String == "Object Scan Failed" }
        let reasons = failures.compactMap { ($0["detail"] as? [String: Any])?["statusReasons"] as? [String] }.flatMap { $0 }
        #expect(reasons.contains { $0.contains("deadline") }, "\(failures)")

        // What the scan unpacked is removed once it stops: only the database stays.
        var leftovers: [String] = []
        for _ in 0..<60 {
            leftovers = try Self.files(under: work).filter { !$0.contains("/definitions-") }
            if leftovers.isEmpty { break }
            try await Task.sleep(for: .seconds(1))
        }
        #expect(leftovers.isEmpty, "\(leftovers)")
        try await server.shutdown()
    }

    /// A runtime killed at its deadline leaves its downloads behind; the next one removes them.
    @Test func startUpRemovesWhatAKilledRuntimeLeft() async throws {
        let harness = try LambdaHarness()
        try harness.publish("\(harness.samples)/db")
        let work = "\(harness.samples)/work"
        // A process ID that is not running: the highest possible one.
        let stale = "\(work)/s3-clamav-scanner-4194304-AbCdEf"
        try FileManager.default.createDirectory(atPath: "\(stale)/scan-XyZ123", withIntermediateDirectories: true)
        try Data("half a download".utf8).write(to: URL(fileURLWithPath: "\(stale)/object-1"))
        let unrelated = "\(work)/someone-else"
        try FileManager.default.createDirectory(atPath: unrelated, withIntermediateDirectories: true)

        let server = try await RuntimeAPIServer.start()
        let scanner = try harness.startScanner(server: server, overrides: ["SCANNER_WORK_DIRECTORY": work])
        defer {
            scanner.terminate()
            scanner.waitUntilExit()
        }
        _ = try await server.result(for: server.enqueue(json: #"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}"#))
        #expect(!FileManager.default.fileExists(atPath: stale))
        #expect(FileManager.default.fileExists(atPath: unrelated))
        let own = try FileManager.default.contentsOfDirectory(atPath: work).filter { $0.hasPrefix("s3-clamav-scanner-") }
        #expect(own.count == 1)
        var status = stat()
        #expect(lstat("\(work)/\(own[0])", &status) == 0 && status.st_mode & 0o777 == 0o700, "the scanner's folder is private")
        try await server.shutdown()
    }

    static func files(under folder: String) throws -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: folder) else { return [] }
        return enumerator.compactMap { $0 as? String }.filter { path in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: "\(folder)/\(path)", isDirectory: &isDirectory) && !isDirectory.boolValue
        }
    }
}
