import AWSClients
import BusEvents
import ClamAV
import Definitions
import Foundation
import Logging
import Synchronization
import TestSupport
import Testing

@testable import ScannerCore

/// The per-object workflow against an in-memory S3 that can change between its steps: nothing
/// an uploader writes buys a skip, and no verdict lands on content that was not scanned.
@Suite("Object workflow: verdicts no one can forge or race")
struct WorkflowTests {
    static let eicar = Data(#"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"#.utf8)
    static let clean = Data("an ordinary text\n".utf8)

    /// A workflow over an in-memory store holding a published database (EICAR signature).
    struct Harness {
        let store = InMemoryObjectStore()
        let workflow: ObjectScanWorkflow
        let manifest: DefinitionsManifest
        let keys = TagKeys()

        init(versioned: Bool, environment: [String: String] = [:]) async throws {
            store.createBucket("defs", versioned: true)
            store.createBucket("uploads", versioned: versioned)
            store.createBucket("jail", versioned: true)
            let database = try PrivateDirectory.create(in: nil, prefix: "workflow-db")
            let hex = WorkflowTests.eicar.map { String(format: "%02x", $0) }.joined()
            try Data("Test.EICAR.Body:0:*:\(hex)\n".utf8).write(to: URL(fileURLWithPath: "\(database)/test.ndb"))
            let engine = try await ClamAVEngine.load(databaseDirectory: database)
            let files = try DefinitionsBucket.describe(engine.database)
            for file in files {
                store.put("defs", "clamav/\(file.name)", try Data(contentsOf: URL(fileURLWithPath: "\(database)/\(file.name)")))
            }
            manifest = DefinitionsManifest(
                version: DefinitionsBucket.version(of: engine.database, files: files), publishedAt: Date(), databaseTime: nil,
                signatureCount: engine.database.signatureCount, files: files, proofKey: DefinitionsManifest.makeProofKey()
            )
            store.put("defs", "clamav/manifest.json", try manifest.encoded())

            let configuration = try ScannerConfiguration(
                environment: ["DEFINITIONS_BUCKET": "defs", "QUARANTINE_BUCKET": "jail"].merging(environment) { $1 })
            let work = try PrivateDirectory.create(in: nil, prefix: "workflow-work")
            let logger = Logger(label: "workflow-tests")
            let events = EventBusPublisher(busName: nil, publisher: nil, logger: logger)
            let metrics = ScanMetrics(emitter: nil)
            let definitions = DefinitionsProvider(
                configuration: configuration, workDirectory: work, store: store, events: events, metrics: metrics, logger: logger
            )
            workflow = ObjectScanWorkflow(
                configuration: configuration, workDirectory: work, store: store, definitions: definitions, events: events, metrics: metrics,
                logger: logger
            )
        }

        func scan(_ key: String, version: String? = nil) async -> ObjectOutcome {
            await workflow.process(ObjectRef(bucket: "uploads", key: key, versionID: version))
        }

        func tags(_ key: String) -> [String: String] {
            Dictionary((store.current("uploads", key)?.tags ?? []).map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
        }

        /// The tags an uploader forges: a final verdict with the current definitions (which
        /// are public: on every scanned object and in every event).
        func forged(_ status: String, proof: String? = nil) -> [S3Tag] {
            var tags = [S3Tag(key: keys.status, value: status), S3Tag(key: keys.definitions, value: ObjectTags.sanitize(manifest.version))]
            if let proof { tags.append(S3Tag(key: keys.proof, value: proof)) }
            return tags
        }
    }

    @Test(
        arguments: [
            ("CLEAN", nil), ("UNSCANNABLE", nil), ("CLEAN", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        ] as [(String, String?)])
    func forgedVerdictTagsAreNeverTrusted(status: String, proof: String?) async throws {
        for versioned in [true, false] {
            let harness = try await Harness(versioned: versioned)
            let version = harness.store.put("uploads", "forged.com", Self.eicar, tags: harness.forged(status, proof: proof))
            let outcome = await harness.scan("forged.com", version: version)
            #expect(outcome.verdict == .infected, "\(outcome)")
            #expect(outcome.action == .deleted)
            #expect(harness.store.current("uploads", "forged.com") == nil)
        }
    }

    /// A verdict the scanner wrote is trusted for the same content only.
    @Test func ownVerdictIsTrustedForTheSameContentOnly() async throws {
        let harness = try await Harness(versioned: false)
        harness.store.put("uploads", "doc.txt", Self.clean)
        #expect(await harness.scan("doc.txt").verdict == .clean)
        #expect(harness.tags("doc.txt")[harness.keys.proof] != nil)
        let second = await harness.scan("doc.txt")
        #expect(second.skipped?.contains("proven the scanner's own") == true, "\(second)")

        // New content under the key, its tags copied over: the proof does not fit it.
        let copied = harness.store.current("uploads", "doc.txt")!.tags
        harness.store.put("uploads", "doc.txt", Self.eicar, tags: copied)
        let third = await harness.scan("doc.txt")
        #expect(third.verdict == .infected, "\(third)")
    }

    /// Unversioned bucket: new content arrives between the tag write and its confirmation.
    /// The CLEAN meant for the old content is taken back off the new one.
    @Test func verdictIsTakenBackWhenTheObjectIsReplacedDuringTagging() async throws {
        let harness = try await Harness(versioned: false)
        harness.store.put("uploads", "race.txt", Self.clean)
        let replaced = Mutex(false)
        harness.store.hook.withLock { hook in
            hook = { call, key, store in
                // Right after the tags are written, before the confirming HeadObject.
                let due =
                    call == .head && store.calls(.putTags) == 1
                    && replaced.withLock { flag in
                        defer { flag = true }
                        return !flag
                    }
                if due {
                    let tags = store.current("uploads", key)!.tags
                    store.put("uploads", key, WorkflowTests.eicar, tags: tags)
                }
            }
        }
        let outcome = await harness.scan("race.txt")
        #expect(outcome.skipped?.contains("replaced") == true, "\(outcome)")
        #expect(harness.store.current("uploads", "race.txt")?.data == Self.eicar)
        #expect(harness.tags("race.txt")[harness.keys.status] == nil, "a stale verdict is left on the new content: \(harness.tags("race.txt"))")
    }

    /// Unversioned bucket: new content arrives just before an infected object is deleted. The
    /// delete is conditional on the scanned entity tag, so the new content stays.
    @Test(arguments: ["delete", "quarantine"])
    func replacementJustBeforeTheDeleteIsKept(action: String) async throws {
        let harness = try await Harness(versioned: false, environment: ["INFECTED_ACTION": action])
        harness.store.put("uploads", "swap.com", Self.eicar)
        harness.store.hook.withLock { hook in
            hook = { call, key, store in
                if call == (action == "delete" ? .delete : .copy), store.calls(call) == 1 {
                    store.put("uploads", key, WorkflowTests.clean)
                }
            }
        }
        let outcome = await harness.scan("swap.com")
        #expect(outcome.skipped?.contains("replaced") == true, "\(outcome)")
        #expect(harness.store.current("uploads", "swap.com")?.data == Self.clean, "the new, clean content was deleted")
    }

    /// Without s3:ListBucket, S3 answers 403 for a missing key: that is a failure to retry,
    /// never a skip (and never a verdict).
    @Test func readDeniedIsAnErrorThatSaysWhy() async throws {
        let harness = try await Harness(versioned: true)
        let version = harness.store.put("uploads", "denied.txt", Self.clean)
        harness.store.hook.withLock { hook in
            hook = { call, key, _ in
                if call == .get, key == "denied.txt" { throw InMemoryObjectStore.error(403, "Forbidden") }
            }
        }
        let outcome = await harness.scan("denied.txt", version: version)
        #expect(outcome.verdict == .error)
        #expect(outcome.reasons.first?.contains("s3:ListBucket") == true, "\(outcome.reasons)")
    }

    /// A manifest written before proofs existed: nothing is trusted, everything is scanned.
    @Test func withoutAProofKeyNothingIsSkipped() async throws {
        let harness = try await Harness(versioned: true)
        let old = DefinitionsManifest(
            version: harness.manifest.version, publishedAt: harness.manifest.publishedAt, databaseTime: nil,
            signatureCount: harness.manifest.signatureCount, files: harness.manifest.files
        )
        harness.store.put("defs", "clamav/manifest.json", try old.encoded())
        let version = harness.store.put("uploads", "again.txt", Self.clean)
        #expect(await harness.scan("again.txt", version: version).verdict == .clean)
        #expect(await harness.scan("again.txt", version: version).verdict == .clean)
    }

    /// Three requests per object in a versioned bucket, two in sequence (the GET with the tag
    /// read beside it, then the tag write); an unversioned one adds the confirmation.
    @Test(arguments: [true, false])
    func requestsPerObject(versioned: Bool) async throws {
        let harness = try await Harness(versioned: versioned)
        let version = harness.store.put("uploads", "count.txt", Self.clean)
        let outcome = await harness.scan("count.txt", version: version)
        #expect(outcome.verdict == .clean)
        let counts = [InMemoryObjectStore.Call.head, .get, .getTags, .putTags].map { harness.store.calls($0, key: "count.txt") }
        #expect(counts == (versioned ? [0, 1, 1, 1] : [1, 1, 1, 1]), "head, get, tag read, tag write: \(counts)")
    }
}
