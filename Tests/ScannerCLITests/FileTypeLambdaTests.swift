import Foundation
import LambdaTesting
import TestSupport
import Testing

/// The file-type policy through the real path (the scanner binary in Lambda mode, moto): the
/// type libclamav detects in the content decides, never the name or the declared type.
@Suite("scanner: file-type policy", .serialized)
struct FileTypeLambdaTests {
    @Test func onlyAllowedTypesAreCleanWhateverTheirNames() async throws {
        let harness = try LambdaHarness()
        try harness.publish("\(harness.samples)/db")
        let uploads = "\(harness.prefix)-uploads"
        let samples: [(key: String, data: Data, contentType: String, verdict: String, type: String?)] = [
            ("avatars/a.png", FileSamples.png, "image/png", "CLEAN", nil),
            ("avatars/b.jpg", FileSamples.jpeg, "image/jpeg", "CLEAN", nil),
            ("avatars/c.gif", FileSamples.gif, "image/gif", "CLEAN", nil),
            ("invoices/d.pdf", FileSamples.pdf, "application/pdf", "CLEAN", nil),
            ("avatars/e.png", try FileSamples.portableExecutable, "image/png", "BLOCKED", "MSEXE"),
            ("avatars/f.jpg", FileSamples.zip, "image/jpeg", "BLOCKED", "ZIP"),
            ("avatars/g.png", FileSamples.html, "image/png", "BLOCKED", "HTML"),
            ("invoices/h.pdf", FileSamples.png, "application/pdf", "BLOCKED", "PNG"),
        ]
        var objects: [(key: String, versionID: String)] = []
        for sample in samples {
            let path = "\(harness.samples)/\(UUID().uuidString)"
            try sample.data.write(to: URL(fileURLWithPath: path))
            objects.append((sample.key, try harness.uploadFile(sample.key, path, bucket: uploads, contentType: sample.contentType)))
        }
        let server = try await RuntimeAPIServer.start()
        let scanner = try harness.startScanner(
            server: server, overrides: ["FILE_TYPE_POLICY": "\(uploads)/avatars/=PNG,JPEG,GIF;\(uploads)/invoices/=PDF"])
        defer {
            scanner.terminate()
            scanner.waitUntilExit()
        }
        let id = server.enqueue(json: LambdaHarness.s3Event(bucket: uploads, objects: objects))
        let result = try await server.result(for: id)
        try await server.shutdown()
        let units = try #require(try json(result)["units"] as? [[String: Any]], "\(result)")
        let verdicts = Dictionary(
            uniqueKeysWithValues: units.compactMap { ($0["objects"] as? [[String: Any]])?.first }.compactMap { report in
                (report["key"] as? String).map { ($0, report["verdict"] as? String ?? "-") }
            })
        #expect(verdicts == Dictionary(uniqueKeysWithValues: samples.map { ($0.key, $0.verdict) }), "\(units)")

        let events = try harness.events()
        for sample in samples where sample.verdict == "BLOCKED" {
            let tags = try harness.tags(sample.key)
            #expect(tags["scan-status"] == "BLOCKED" && tags["scan-file-type"] == sample.type, "\(sample.key): \(tags)")
            let detail = events.compactMap { $0["detail"] as? [String: Any] }.first {
                ($0["s3ObjectDetails"] as? [String: Any])?["objectKey"] as? String == sample.key
            }
            #expect(detail?["verdict"] as? String == "BLOCKED" && detail?["fileType"] as? String == sample.type, "\(String(describing: detail))")
            #expect(detail?["scanStatus"] as? String == "COMPLETED")
        }
    }
}
