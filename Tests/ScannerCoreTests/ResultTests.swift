import Definitions
import Foundation
import Testing

@testable import ScannerCore

@Suite("Tags, manifest and result events")
struct ResultTests {
    let keys = TagKeys()

    @Test func statusTagAlwaysWinsAndExistingTagsAreKept() {
        let existing = (1...9).map { (key: "k\($0)", value: "v\($0)") } + [(key: "scan-status", value: "OLD")]
        let merged = ObjectTags.merge(
            existing: existing, status: "CLEAN", proof: nil, definitions: nil, signature: nil, time: "2026-11-26T19:40:00Z", keys: keys)
        #expect(merged.tags.count == 10)
        #expect(merged.tags[0] == (key: "scan-status", value: "CLEAN"))
        #expect(merged.tags.map { $0.key } == ["scan-status"] + (1...9).map { "k\($0)" })
        #expect(merged.dropped.isEmpty)
    }

    @Test func fullTagSetDropsTheLastUserTagForTheStatus() {
        let existing = (1...10).map { (key: "k\($0)", value: "v\($0)") }
        let merged = ObjectTags.merge(
            existing: existing, status: "INFECTED", proof: nil, definitions: nil, signature: "Win.Test.EICAR_HDB-1", time: "t", keys: keys)
        #expect(merged.tags.count == 10)
        #expect(merged.tags.prefix(2).map { $0.key } == ["scan-status", "scan-signature"])
        #expect(merged.dropped == ["k9", "k10"])
    }

    /// The proof and the definitions it stands on come right after the status: a verdict the
    /// scanner can prove its own must not lose them to the object's tags.
    @Test func proofAndDefinitionsOutrankTheObjectsTags() {
        let existing = (1...10).map { (key: "k\($0)", value: "v\($0)") } + [(key: "scan-proof", value: "forged")]
        let merged = ObjectTags.merge(existing: existing, status: "CLEAN", proof: "p", definitions: "daily:1", signature: nil, time: "t", keys: keys)
        #expect(merged.tags.prefix(3).map { $0.key } == ["scan-status", "scan-proof", "scan-definitions"])
        #expect(merged.tags[1].value == "p")
        #expect(merged.tags.count == 10)
    }

    @Test func roomyTagSetGetsEveryScannerTag() {
        let merged = ObjectTags.merge(
            existing: [(key: "owner", value: "team a")], status: "CLEAN", proof: "p", definitions: "main:62+daily:27461",
            signature: nil, time: "2026-11-26T19:40:00Z", keys: keys)
        #expect(merged.tags.map { $0.key } == ["scan-status", "scan-proof", "scan-definitions", "owner", "scan-time"])
        #expect(merged.tags[2].value == "main:62+daily:27461")
    }

    @Test func tagValuesAreSanitised() {
        #expect(ObjectTags.sanitize("a,b;c(d)") == "a_b_c_d_")
        #expect(ObjectTags.sanitize(String(repeating: "x", count: 300)).count == 256)
        #expect(ObjectTags.sanitize("Win.Test.EICAR_HDB-1") == "Win.Test.EICAR_HDB-1")
    }

    @Test func manifestRoundTripsAndRejectsUnsafeContent() throws {
        let file = DefinitionsManifest.File(name: "daily.cld", sha256: String(repeating: "a", count: 64), size: 10, version: 27461)
        let manifest = DefinitionsManifest(
            version: "daily:27461", publishedAt: Date(timeIntervalSince1970: 1_795_234_200), databaseTime: nil, signatureCount: 5, files: [file])
        #expect(try DefinitionsManifest.decode(manifest.encoded()) == manifest)

        for (bad, message) in [
            (#"{"schemaVersion":2,"version":"x","publishedAt":"2026-11-22T04:10:00Z","signatureCount":1,"files":[]}"#, "schema version 2"),
            (#"{"schemaVersion":1,"version":"x","publishedAt":"2026-11-22T04:10:00Z","signatureCount":1,"files":[]}"#, "lists no database file"),
            (
                #"{"schemaVersion":1,"version":"x","publishedAt":"2026-11-22T04:10:00Z","signatureCount":1,"files":[{"name":"../etc/passwd","sha256":"\#(String(repeating: "a", count: 64))","size":1}]}"#,
                "unsafe file"
            ),
            (
                #"{"schemaVersion":1,"version":"x","publishedAt":"2026-11-22T04:10:00Z","signatureCount":1,"files":[{"name":"a.hdb","sha256":"zz","size":1}]}"#,
                "malformed hash"
            ),
            ("[]", "not a valid manifest"),
        ] {
            let error = #expect(throws: ManifestError.self) { try DefinitionsManifest.decode(Data(bad.utf8)) }
            #expect(error?.description.contains(message) == true, "\(String(describing: error))")
        }
    }

    @Test func resultDetailFollowsGuardDutyShape() throws {
        let object = ObjectRef(bucket: "uploads", key: "a/b c.zip", versionID: "v1", eTag: "e", size: 184)
        let detail = ScanResultDetail(
            object: object, verdict: .infected, action: .deleted, signature: "Win.Test.EICAR_HDB-1", reasons: [],
            definitions: .init(version: "daily:27461", publishedAt: Date(timeIntervalSince1970: 1_795_320_600)), durationMs: 41
        )
        let json = try #require(try JSONSerialization.jsonObject(with: detail.encoded()) as? [String: Any])
        #expect(json["schemaVersion"] as? String == "1.0")
        #expect(json["scanStatus"] as? String == "COMPLETED")
        #expect(json["verdict"] as? String == "INFECTED")
        #expect(json["action"] as? String == "DELETED")
        let s3 = try #require(json["s3ObjectDetails"] as? [String: Any])
        #expect(s3["bucketName"] as? String == "uploads")
        #expect(s3["objectKey"] as? String == "a/b c.zip")
        #expect(s3["versionId"] as? String == "v1")
        #expect((json["threats"] as? [[String: String]]) == [["name": "Win.Test.EICAR_HDB-1"]])
        let definitions = try #require(json["definitions"] as? [String: Any])
        #expect(definitions["publishedAt"] as? String == "2026-11-22T04:10:00Z")
        #expect(json["durationMs"] as? Int == 41)
        #expect(
            ScanResultDetail(object: object, verdict: .unscannable, action: .tagged, signature: nil, reasons: ["r"], definitions: nil, durationMs: 1)
                .scanStatus == "SKIPPED")
        #expect(
            ScanResultDetail(object: nil, verdict: .error, action: .none, signature: nil, reasons: ["r"], definitions: nil, durationMs: 1).scanStatus
                == "FAILED")
    }
}
