import Foundation
import LambdaTesting
import Testing

/// A verdict no one can forge, and no record lost, through the real path (the scanner binary,
/// moto): forged tags, a database caught mid-publish, KMS-encrypted buckets, a worker queue
/// without a redrive policy.
@Suite("scanner: verdicts no one can forge", .serialized)
struct VerdictLambdaTests {
    static let eicar = #"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"#

    func scan(
        _ harness: LambdaHarness, bucket: String? = nil, objects: [(key: String, versionID: String)],
        overrides: [String: String] = [:]
    ) async throws -> [[String: Any]] {
        let server = try await RuntimeAPIServer.start()
        let scanner = try harness.startScanner(server: server, overrides: overrides)
        defer {
            scanner.terminate()
            scanner.waitUntilExit()
        }
        let id = server.enqueue(json: LambdaHarness.s3Event(bucket: bucket ?? "\(harness.prefix)-uploads", objects: objects))
        let result = try await server.result(for: id)
        let units = try #require(try json(result)["units"] as? [[String: Any]], "the invocation failed: \(result)")
        let reports = units.compactMap { ($0["objects"] as? [[String: Any]])?.first }
        try await server.shutdown()
        return reports
    }

    /// An uploader tags EICAR with a final verdict and the current definitions (both public):
    /// it is scanned and deleted all the same.
    @Test(arguments: ["CLEAN", "UNSCANNABLE"])
    func forgedVerdictTagBuysNothing(status: String) async throws {
        let harness = try LambdaHarness()
        try harness.publish("\(harness.samples)/db")
        let manifest = try JSONSerialization.jsonObject(with: Data(try harness.stack("manifest").utf8)) as? [String: Any]
        let definitions = try #require(manifest?["version"] as? String)
        let version = try harness.uploadFile(
            "forged/eicar.com", try harness.sample(Self.eicar), tagging: "scan-status=\(status)&scan-definitions=\(definitions)"
        )
        let reports = try await scan(harness, objects: [("forged/eicar.com", version)])
        #expect(reports.first?["verdict"] as? String == "INFECTED", "\(reports)")
        #expect(reports.first?["action"] as? String == "DELETED", "\(reports)")
    }

    /// A cold scanner reads the manifest while the updater is uploading the next database's
    /// files over the same keys: it loads exactly the versions the manifest names.
    @Test func coldScannerDuringAPublishLoadsTheManifestsOwnFiles() async throws {
        let harness = try LambdaHarness()
        try harness.publish("\(harness.samples)/db")
        _ = try harness.stack("put-definition", "test.ndb", try harness.sample("Next.Database.Body:0:*:6e657874\n"))
        let version = try harness.upload("mid-publish/eicar.com", Self.eicar)
        let reports = try await scan(harness, objects: [("mid-publish/eicar.com", version)])
        #expect(reports.first?["verdict"] as? String == "INFECTED", "\(reports)")
    }

    /// Buckets encrypted by default with a customer-managed KMS key are scanned like others
    /// (their entity tags are not MD5s: the download must not be refused for it).
    @Test func kmsEncryptedBucketIsScanned() async throws {
        let harness = try LambdaHarness()
        try harness.publish("\(harness.samples)/db")
        let bucket = try harness.stack("kms-bucket")
        let infected = try harness.uploadFile("kms/eicar.com", try harness.sample(Self.eicar), bucket: bucket)
        let clean = try harness.uploadFile("kms/clean.txt", try harness.sample("an ordinary text\n"), bucket: bucket)
        let reports = try await scan(harness, bucket: bucket, objects: [("kms/eicar.com", infected), ("kms/clean.txt", clean)])
        let verdicts = Dictionary(
            uniqueKeysWithValues: reports.compactMap { report in
                (report["key"] as? String).map { ($0, report["verdict"] as? String ?? "-") }
            })
        #expect(verdicts == ["kms/eicar.com": "INFECTED", "kms/clean.txt": "CLEAN"], "\(reports)")
    }

    /// A worker on a queue without a redrive policy would retry a failing message forever:
    /// it refuses to start unless it has a dead-letter queue of its own.
    @Test func workerRefusesAQueueWithoutDeadLetters() async throws {
        let harness = try LambdaHarness()
        let queue = try harness.stack("queue", "plain")
        let process = Process()
        process.executableURL = ScannerProcess.executable
        process.arguments = ["worker", "--queue-url", queue]
        process.environment = ProcessInfo.processInfo.environment.merging(harness.environment) { $1 }
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 2)
        #expect(message.contains("has no redrive policy"), "\(message)")
    }
}
