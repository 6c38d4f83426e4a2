import AWSClients
import ClamAV
import Definitions
import Foundation
import Synchronization
import TestSupport
import Testing

@testable import ScannerCore

/// Messages sent to a queue, kept in memory.
final class SentMessages: MessageSender {
    private let sent = Mutex<[String]>([])
    /// Fails the batch that would bring the count over this many messages.
    let failAfter: Int?

    init(failAfter: Int? = nil) { self.failAfter = failAfter }

    func sendMessageBatch(queueURL: String, bodies: [String]) async throws {
        try sent.withLock { sent in
            if let failAfter, sent.count + bodies.count > failAfter { throw EnqueueError("the queue went away") }
            sent += bodies
        }
    }

    var bodies: [String] { sent.withLock { $0 } }

    /// The objects of the S3 notifications sent, in order.
    var objects: [ObjectRef] {
        bodies.flatMap(InvocationEvent.items(inMessageBody:)).compactMap { item in
            if case .object(let object) = item { return object }
            return nil
        }
    }

    /// The rescan requests sent.
    var rescans: [RescanRequest] {
        bodies.flatMap(InvocationEvent.items(inMessageBody:)).compactMap { item in
            if case .rescan(let request) = item { return request }
            return nil
        }
    }
}

extension WorkflowTests.Harness {
    /// Publishes the next database (EICAR and `extra` body signatures), carrying the proof key.
    @discardableResult
    func publishNext(detecting extra: Data, publishedAt: Date) async throws -> DefinitionsManifest {
        let database = try PrivateDirectory.create(in: nil, prefix: "workflow-db2")
        let lines = [WorkflowTests.eicar, extra].enumerated().map { index, data in
            "Test.Body.\(index):0:*:\(data.map { String(format: "%02x", $0) }.joined())"
        }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: "\(database)/next.ndb"))
        let engine = try await ClamAVEngine.load(databaseDirectory: database)
        let files = try DefinitionsBucket.describe(engine.database)
        for file in files {
            store.put("defs", "clamav/\(file.name)", try Data(contentsOf: URL(fileURLWithPath: "\(database)/\(file.name)")))
        }
        let next = DefinitionsManifest(
            version: DefinitionsBucket.version(of: engine.database, files: files), publishedAt: publishedAt, databaseTime: nil,
            signatureCount: engine.database.signatureCount, files: files, proofKey: manifest.proofKey)
        store.put("defs", "clamav/manifest.json", try next.encoded())
        return next
    }

    func enqueuer(_ sender: SentMessages?, definitions: DefinitionsManifest?) -> Enqueuer {
        Enqueuer(store: store, sender: sender, tagKeys: keys, definitions: definitions, logger: .init(label: "enqueue-tests"), concurrency: 3)
    }
}

@Suite("Every object: file types, filters, backfill, rescan")
struct CoverageTests {
    typealias Harness = WorkflowTests.Harness

    // MARK: File-type policy

    @Test func fileTypePolicyBlocksByDetectedTypeNotByName() async throws {
        let harness = try await Harness(
            versioned: true, environment: ["FILE_TYPE_POLICY": "uploads/images/=PNG,JPEG,GIF; uploads/images/docs/=PDF"])
        let samples: [(String, Data, ScanVerdict, String?)] = [
            ("images/a.png", FileSamples.png, .clean, nil),
            ("images/b.jpg", FileSamples.jpeg, .clean, nil),
            ("images/c.gif", FileSamples.gif, .clean, nil),
            ("images/docs/d.pdf", FileSamples.pdf, .clean, nil),
            ("images/docs/e.png", FileSamples.png, .blocked, "PNG"),  // the longer prefix's rule applies
            ("images/f.png", try FileSamples.portableExecutable, .blocked, "MSEXE"),
            ("images/g.jpg", FileSamples.zip, .blocked, "ZIP"),
            ("images/h.png", FileSamples.html, .blocked, "HTML"),
            ("images/eicar.png", WorkflowTests.eicar, .infected, nil),  // infected wins over blocked
            ("elsewhere/i.exe", try FileSamples.portableExecutable, .clean, nil),  // no rule: every type
        ]
        for (key, data, verdict, type) in samples {
            let version = harness.store.put("uploads", key, data)
            let outcome = await harness.scan(key, version: version)
            #expect(outcome.verdict == verdict, "\(key): \(outcome)")
            #expect(verdict == .infected || harness.tags(key)[harness.keys.time]?.hasSuffix("Z") == true, "scan-time is UTC")
            if verdict == .blocked {
                #expect(outcome.action == .tagged, "BLOCKED_ACTION defaults to tag")
                #expect(outcome.fileType == type, "\(key): \(outcome)")
                #expect(harness.tags(key)[harness.keys.status] == "BLOCKED")
                #expect(harness.tags(key)[harness.keys.fileType] == type)
                #expect(outcome.reasons.first?.contains("not allowed") == true, "\(outcome.reasons)")
            }
        }
    }

    @Test(arguments: [("delete", ScanAction.deleted), ("quarantine", .quarantined)])
    func blockedActionIsConfigurable(action: String, expected: ScanAction) async throws {
        let harness = try await Harness(versioned: true, environment: ["FILE_TYPE_POLICY": "uploads=PNG", "BLOCKED_ACTION": action])
        let version = harness.store.put("uploads", "photo.png", FileSamples.html)
        let outcome = await harness.scan("photo.png", version: version)
        #expect(outcome.verdict == .blocked && outcome.action == expected, "\(outcome)")
        #expect(harness.store.current("uploads", "photo.png") == nil)
        if expected == .quarantined {
            #expect(harness.store.current("jail", "photo.png")?.tags.contains(S3Tag(key: "scan-file-type", value: "HTML")) == true)
        }
    }

    // MARK: Filters

    @Test func filteredObjectsGetNoVerdictAndNoTag() async throws {
        let filters = #"{"uploads": {"include_prefixes": ["in/"], "exclude_prefixes": ["in/tmp/"], "exclude_suffixes": [".part"], "min_size": 10}}"#
        let harness = try await Harness(versioned: false, environment: ["SCAN_FILTERS": filters])
        for key in ["out/eicar.com", "in/tmp/eicar.com", "in/eicar.com.part", "in/tiny.txt"] {
            harness.store.put("uploads", key, key == "in/tiny.txt" ? Data("tiny".utf8) : WorkflowTests.eicar)
            let outcome = await harness.scan(key)
            #expect(outcome.verdict == nil && outcome.skipped?.contains("SCAN_FILTERS") == true, "\(key): \(outcome)")
            #expect(harness.tags(key).isEmpty, "an excluded object carries no status tag: \(key)")
        }
        harness.store.put("uploads", "in/eicar.com", WorkflowTests.eicar)
        #expect(await harness.scan("in/eicar.com").verdict == .infected)
    }

    // MARK: Backfill selection

    /// Proven verdicts keep objects out of `unscanned`; forged ones do not; `stale` also
    /// takes verdicts from older definitions; the messages name every key exactly.
    @Test func selectionTrustsOnlyProvenVerdicts() async throws {
        let harness = try await Harness(versioned: true)
        let awkward = ["plain.txt", "with space.txt", "plus+sign.txt", "ünï/cødé.txt", "percent%2F.txt", "quote\"back\\slash.txt"]
        for key in awkward { harness.store.put("uploads", key, WorkflowTests.clean) }
        harness.store.put("uploads", "scanned.txt", WorkflowTests.clean)
        #expect(await harness.scan("scanned.txt").verdict == .clean)
        harness.store.put("uploads", "forged.com", WorkflowTests.eicar, tags: harness.forged("CLEAN", proof: "AAAA"))

        let sent = SentMessages()
        let unscanned = try await harness.enqueuer(sent, definitions: harness.manifest).run(
            .init(bucket: "uploads", selection: .unscanned, queueURL: "queue"))
        #expect(unscanned.listed == awkward.count + 2 && unscanned.skipped == 1 && unscanned.finished, "\(unscanned)")
        #expect(Set(sent.objects.map(\.key)) == Set(awkward + ["forged.com"]))
        #expect(sent.objects.allSatisfy { $0.trigger == "backfill" && $0.bucket == "uploads" })

        // New definitions: the proven verdict is now stale, but still not unscanned.
        let next = try await harness.publishNext(detecting: Data("never".utf8), publishedAt: Date())
        let stale = SentMessages()
        _ = try await harness.enqueuer(stale, definitions: next).run(.init(bucket: "uploads", selection: .stale, queueURL: "queue"))
        #expect(stale.objects.contains { $0.key == "scanned.txt" })
        let stillUnscanned = SentMessages()
        _ = try await harness.enqueuer(stillUnscanned, definitions: next).run(.init(bucket: "uploads", selection: .unscanned, queueURL: "queue"))
        #expect(!stillUnscanned.objects.contains { $0.key == "scanned.txt" }, "the proof key carries over: older verdicts stay provable")
    }

    @Test func dryRunCountsAndSendsNothing() async throws {
        let harness = try await Harness(versioned: false)
        for index in 0..<25 { harness.store.put("uploads", "f\(index)", Data(repeating: 1, count: index)) }
        let progress = try await harness.enqueuer(nil, definitions: nil).run(.init(bucket: "uploads", queueURL: nil, dryRun: true))
        #expect(progress.queued == 25 && progress.bytes == Int64((0..<25).reduce(0, +)))
        await #expect(throws: EnqueueError.self) {
            try await harness.enqueuer(nil, definitions: nil).run(.init(bucket: "uploads", queueURL: nil))
        }
    }

    /// A run that dies part-way resumes from its checkpoint: every object is queued, at most
    /// the page in flight twice, and the finished run is not repeated.
    @Test func interruptedRunResumesFromItsCheckpoint() async throws {
        let harness = try await Harness(versioned: false)
        let keys = (0..<2_500).map { String(format: "k%05d", $0) }
        for key in keys { harness.store.put("uploads", key, Data(key.utf8)) }
        let folder = try temporaryFolder("checkpoint")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let options = Enqueuer.Options(bucket: "uploads", queueURL: "queue", checkpoint: "\(folder)/position.json")

        let failing = SentMessages(failAfter: 1_300)
        await #expect(throws: EnqueueError.self) { try await harness.enqueuer(failing, definitions: nil).run(options) }
        let resumed = SentMessages()
        let progress = try await harness.enqueuer(resumed, definitions: nil).run(options)
        #expect(progress.finished && progress.listed == keys.count, "\(progress)")
        #expect(Set(failing.objects.map(\.key) + resumed.objects.map(\.key)) == Set(keys))
        #expect(resumed.objects.count <= keys.count - 1_000, "the first page was checkpointed and not sent again")

        let again = SentMessages()
        _ = try await harness.enqueuer(again, definitions: nil).run(options)
        #expect(again.bodies.isEmpty, "a finished checkpoint sends nothing")
        var other = options
        other.prefix = "k1"
        await #expect(throws: EnqueueError.self) { try await harness.enqueuer(again, definitions: nil).run(other) }
    }

    // MARK: Rescan

    /// `Definitions Updated` becomes one request per target; the request queues only objects
    /// CLEAN with older definitions (a forged CLEAN too) and modified within the window; an
    /// ObjectCreated:Rescan record loads the new definitions before scanning.
    @Test func rescanAfterNewDefinitionsFindsWhatTheyDetect() async throws {
        let harness = try await Harness(
            versioned: true, environment: ["RESCAN_BUCKETS": "uploads,other/sub/", "SCAN_QUEUE_URL": "queue", "RESCAN_WINDOW": "24"])
        let threat = Data("a threat the first definitions do not know\n".utf8)
        let version = harness.store.put("uploads", "later.bin", threat)
        #expect(await harness.scan("later.bin", version: version).verdict == .clean)
        harness.store.put("uploads", "forged.bin", threat, tags: harness.forged("CLEAN"))
        harness.store.put("uploads", "never-scanned.txt", WorkflowTests.clean)

        let next = try await harness.publishNext(detecting: threat, publishedAt: harness.manifest.publishedAt)  // within the same second
        let sender = SentMessages()
        let configuration = try ScannerConfiguration(
            environment: ["DEFINITIONS_BUCKET": "defs", "RESCAN_BUCKETS": "uploads,other/sub/", "SCAN_QUEUE_URL": "queue"])
        let rescanner = Rescanner(configuration: configuration, store: harness.store, sender: sender, logger: .init(label: "rescan"))
        let update = try #require(
            DefinitionsUpdate(.object(["version": .string(next.version), "publishedAt": .string(Timestamp.string(next.publishedAt))])))
        _ = try await rescanner.handle(update, logger: .init(label: "rescan"))
        #expect(sender.rescans.map { "\($0.bucket)/\($0.prefix)" } == ["uploads/", "other/sub/"])
        let request = try #require(sender.rescans.first)

        let queued = SentMessages()
        let listing = Rescanner(configuration: configuration, store: harness.store, sender: queued, logger: .init(label: "rescan"))
        _ = try await listing.handle(request, deadline: nil, logger: .init(label: "rescan"))
        #expect(Set(queued.objects.map(\.key)) == ["later.bin", "forged.bin"], "\(queued.objects)")
        let record = try #require(queued.objects.first { $0.key == "later.bin" })
        #expect(record.trigger == "rescan" && record.definitionsNeeded?.version == next.version)

        // The workflow still holds the first definitions (checked every 300 s): the record makes it load the new ones.
        let outcome = await harness.workflow.process(record)
        #expect(outcome.verdict == .infected && outcome.action == .deleted, "\(outcome)")

        // A window that ends before the objects were written queues nothing.
        var old = request
        old.modifiedSince = Date().addingTimeInterval(3600)
        let none = SentMessages()
        _ = try await Rescanner(configuration: configuration, store: harness.store, sender: none, logger: .init(label: "rescan"))
            .handle(old, deadline: nil, logger: .init(label: "rescan"))
        #expect(none.objects.isEmpty)
    }

    /// A rescan record for definitions not yet published is an ERROR (retried), never a scan
    /// with the old definitions.
    @Test func rescanNeverUsesOlderDefinitions() async throws {
        let harness = try await Harness(versioned: true)
        let version = harness.store.put("uploads", "doc.txt", WorkflowTests.clean)
        let record = ObjectRef(
            bucket: "uploads", key: "doc.txt", versionID: version, trigger: "rescan",
            definitionsNeeded: DefinitionsUpdate(version: "daily:99999", publishedAt: Date().addingTimeInterval(3600)))
        let outcome = await harness.workflow.process(record)
        #expect(outcome.verdict == .error, "\(outcome)")
        #expect(outcome.reasons.first?.contains("needs definitions daily:99999") == true, "\(outcome.reasons)")
    }

    /// A listing that runs out of time hands over to a continuation request.
    @Test func rescanListingContinuesInANewRequest() async throws {
        let harness = try await Harness(versioned: false, environment: ["RESCAN_BUCKETS": "uploads", "SCAN_QUEUE_URL": "queue"])
        for index in 0..<1_500 { harness.store.put("uploads", "k\(index)", WorkflowTests.clean, tags: harness.forged("CLEAN")) }
        let configuration = try ScannerConfiguration(environment: [
            "DEFINITIONS_BUCKET": "defs", "RESCAN_BUCKETS": "uploads", "SCAN_QUEUE_URL": "queue",
        ])
        let sender = SentMessages()
        let rescanner = Rescanner(configuration: configuration, store: harness.store, sender: sender, logger: .init(label: "rescan"), slice: .zero)
        let update = DefinitionsUpdate(version: "daily:2", publishedAt: Date())
        let first = RescanRequest(bucket: "uploads", prefix: "", definitions: update, modifiedSince: .distantPast, continuationToken: nil)
        _ = try await rescanner.handle(first, deadline: nil, logger: .init(label: "rescan"))
        #expect(sender.objects.count == 1_000, "one page, then the time was up")
        let next = try #require(sender.rescans.first)
        #expect(next.continuationToken != nil && next.definitions.version == update.version)
        _ = try await rescanner.handle(next, deadline: nil, logger: .init(label: "rescan"))
        #expect(Set(sender.objects.map(\.key)).count == 1_500 && sender.rescans.count == 1)
    }
}
