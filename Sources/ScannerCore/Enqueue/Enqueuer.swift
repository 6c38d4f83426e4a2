import AWSClients
import BusEvents
import ClamAV
import Definitions
import Foundation
import Logging

/// Where queued messages go: the seam in front of SQS. `SQSClient` is the production conformer.
public protocol MessageSender: Sendable {
    /// Sends up to 10 message bodies to the queue.
    func sendMessageBatch(queueURL: String, bodies: [String]) async throws
}

extension SQSClient: MessageSender {}

/// Queues existing objects for scanning (`scanner enqueue`, and the rescan after new
/// definitions): lists the bucket's current objects with ListObjectsV2, keeps those the
/// selection asks for, and sends S3-notification-shaped messages to the scan queue with
/// SendMessageBatch, several batches in flight, while the next page is being listed.
///
/// After every page whose messages are all sent, the listing position is written to the
/// checkpoint file (when there is one), so an interrupted run resumes where it stopped
/// without sending a page twice... or losing one: a page is checkpointed only once sent.
public struct Enqueuer: Sendable {
    /// Which objects are queued.
    public enum Selection: String, Sendable, CaseIterable {
        /// Every object.
        case all
        /// Objects without a final verdict the scanner proves its own (``VerdictProof``), with
        /// any definitions.
        case unscanned
        /// Objects without a final verdict the scanner proves its own with the current definitions.
        case stale
        /// Objects tagged `CLEAN` without a proven verdict from the current definitions: the
        /// rescan after an update.
        case rescan
    }

    /// What one run does.
    public struct Options: Sendable {
        public var bucket: String
        public var prefix: String
        public var selection: Selection
        /// The scan queue; `nil` with `dryRun` only.
        public var queueURL: String?
        /// Count what would be queued, send nothing.
        public var dryRun: Bool
        /// Only objects last modified at or after this time (the rescan window).
        public var modifiedSince: Date?
        /// At most this many objects queued per second.
        public var maxRate: Double?
        /// The file the listing position is kept in, to resume after an interruption.
        public var checkpoint: String?
        /// Where the listing starts (a continuation token), when there is no checkpoint.
        public var startAfterToken: String?
        /// For a rescan: the definitions the scans need.
        public var definitionsNeeded: DefinitionsUpdate?
        /// Objects these filters exclude are never queued.
        public var filters: ScanFilters?

        public init(
            bucket: String, prefix: String = "", selection: Selection = .all, queueURL: String?, dryRun: Bool = false,
            modifiedSince: Date? = nil, maxRate: Double? = nil, checkpoint: String? = nil
        ) {
            self.bucket = bucket
            self.prefix = prefix
            self.selection = selection
            self.queueURL = queueURL
            self.dryRun = dryRun
            self.modifiedSince = modifiedSince
            self.maxRate = maxRate
            self.checkpoint = checkpoint
        }
    }

    /// The counts so far.
    public struct Progress: Sendable, Equatable, Codable {
        public var listed = 0
        public var queued = 0
        public var skipped = 0
        /// Bytes of the queued objects.
        public var bytes: Int64 = 0
        /// Where the next page starts; `nil` before the first page and after the last.
        public var continuationToken: String?
        /// Whether the listing reached its end.
        public var finished = false

        public init() {}
    }

    let store: any ObjectStore
    let sender: (any MessageSender)?
    let tagKeys: TagKeys
    /// The current definitions version as the scanner tags it, for `stale` and `rescan`.
    let definitionsTag: String?
    /// The key the scanner's verdicts are proven with (the manifest's); without it no verdict
    /// counts as the scanner's own.
    let proofKey: String?
    let logger: Logger
    /// Batches in flight at once.
    let concurrency: Int

    /// Creates an enqueuer; `definitions` is the published manifest (its version and proof key).
    public init(
        store: any ObjectStore, sender: (any MessageSender)?, tagKeys: TagKeys, definitions: DefinitionsManifest?, logger: Logger,
        concurrency: Int = 8
    ) {
        self.store = store
        self.sender = sender
        self.tagKeys = tagKeys
        self.definitionsTag = definitions.map { ObjectTags.sanitize($0.version) }
        self.proofKey = definitions?.proofKey
        self.logger = logger
        self.concurrency = max(1, concurrency)
    }

    /// Runs until the listing ends, or until `deadline` (then the progress says where it
    /// stopped and `finished` is false). `report` is called after every page.
    public func run(_ options: Options, until deadline: ContinuousClock.Instant? = nil, report: @Sendable (Progress) -> Void = { _ in })
        async throws -> Progress
    {
        guard options.dryRun || (options.queueURL != nil && sender != nil) else {
            throw EnqueueError("a queue URL is needed unless it is a dry run")
        }
        guard options.selection == .all || definitionsTag != nil else {
            throw EnqueueError(
                "no definitions are published: --only \(options.selection.rawValue) needs the current manifest (its version and proof key)")
        }
        var progress = try Checkpoint.load(options) ?? Progress()
        if progress.continuationToken == nil, progress.listed == 0 { progress.continuationToken = options.startAfterToken }
        if progress.finished { return progress }
        let limiter = RateLimiter(perSecond: options.maxRate)
        let listing = pages(options, from: progress.continuationToken)
        for try await page in listing {
            let selected = try await select(page.objects, options)
            progress.listed += page.objects.count
            progress.skipped += page.objects.count - selected.count
            if !options.dryRun, let queueURL = options.queueURL, let sender {
                try await send(selected, options: options, to: queueURL, sender: sender, limiter: limiter)
            }
            progress.queued += selected.count
            progress.bytes += selected.reduce(0) { $0 + $1.size }
            progress.continuationToken = page.nextContinuationToken
            progress.finished = page.nextContinuationToken == nil
            if !options.dryRun { try Checkpoint.save(progress, options) }
            report(progress)
            if let deadline, ContinuousClock.now >= deadline, !progress.finished { break }
        }
        return progress
    }

    /// The pages, listed ahead of the queueing (one page buffered).
    private func pages(_ options: Options, from token: String?) -> AsyncThrowingStream<S3ListPage, any Error> {
        let (stream, continuation) = AsyncThrowingStream<S3ListPage, any Error>.makeStream(bufferingPolicy: .bufferingOldest(2))
        let store = self.store
        let task = Task {
            var next = token
            repeat {
                do {
                    let page = try await store.listObjectsV2(
                        bucket: options.bucket, prefix: options.prefix.isEmpty ? nil : options.prefix, delimiter: nil,
                        continuationToken: next, maxKeys: 1000)
                    // Wait while the consumer is a page behind: a listing may not run ahead unbounded.
                    while case .dropped = continuation.yield(page) {
                        try await Task.sleep(for: .milliseconds(5))
                    }
                    next = page.nextContinuationToken
                } catch {
                    continuation.finish(throwing: error)
                    return
                }
            } while next != nil && !Task.isCancelled
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// The objects of a page that the selection keeps.
    private func select(_ objects: [S3ObjectSummary], _ options: Options) async throws -> [S3ObjectSummary] {
        let recent = objects.filter { object in
            if let filters = options.filters, filters.exclusion(bucket: options.bucket, key: object.key, size: object.size) != nil { return false }
            guard let since = options.modifiedSince else { return true }
            return (object.lastModified ?? .distantPast) >= since
        }
        guard options.selection != .all else { return recent }
        // One GetObjectTagging per object, several at once.
        return try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            var keep = [Bool](repeating: false, count: recent.count)
            var next = 0
            func add() {
                let index = next
                next += 1
                group.addTask { (index, try await wanted(recent[index], options)) }
            }
            for _ in 0..<min(16, recent.count) { add() }
            while let (index, wanted) = try await group.next() {
                keep[index] = wanted
                if next < recent.count { add() }
            }
            return recent.indices.filter { keep[$0] }.map { recent[$0] }
        }
    }

    private func wanted(_ object: S3ObjectSummary, _ options: Options) async throws -> Bool {
        let tagging: S3Tagging
        do {
            tagging = try await store.currentTagging(bucket: options.bucket, key: object.key)
        } catch let error as AWSError where error.isNotFound {
            return false  // deleted since it was listed
        }
        func tag(_ key: String) -> String? { tagging.tags.first { $0.key == key }?.value }
        // A verdict counts only when its proof verifies (a tag an uploader wrote does not); if
        // the object was replaced since the listing, the listed entity tag fails the proof too.
        let version = ObjectRef(bucket: options.bucket, key: object.key, versionID: tagging.versionID, eTag: object.eTag)
        var proven: String?  // the definitions of a proven final verdict
        if let key = VerdictProof.key(base64: proofKey), let status = tag(tagKeys.status), ScanVerdict(rawValue: status)?.isFinal == true,
            let definitions = tag(tagKeys.definitions), let proof = tag(tagKeys.proof),
            VerdictProof.isValid(proof, key: key, object: version, status: status, definitions: definitions)
        {
            proven = definitions
        }
        switch options.selection {
        case .all: return true
        case .unscanned: return proven == nil
        case .stale: return proven == nil || proven != definitionsTag
        case .rescan: return tag(tagKeys.status) == ScanVerdict.clean.rawValue && proven != definitionsTag
        }
    }

    private func send(_ objects: [S3ObjectSummary], options: Options, to queueURL: String, sender: any MessageSender, limiter: RateLimiter)
        async throws
    {
        let trigger = options.selection == .rescan ? "rescan" : "backfill"
        let batches = stride(from: 0, to: objects.count, by: 10).map { Array(objects[$0..<min($0 + 10, objects.count)]) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for batch in batches {
                if inFlight >= concurrency {
                    try await group.next()
                    inFlight -= 1
                }
                await limiter.take(batch.count)
                let bodies = batch.map {
                    ObjectRef(
                        bucket: options.bucket, key: $0.key, eTag: $0.eTag, size: $0.size, trigger: trigger,
                        definitionsNeeded: options.definitionsNeeded
                    ).notification
                }
                group.addTask { try await sender.sendMessageBatch(queueURL: queueURL, bodies: bodies) }
                inFlight += 1
            }
            try await group.waitForAll()
        }
    }

    /// The listing position and counts of a run, kept in the checkpoint file.
    enum Checkpoint {
        struct Stored: Codable {
            var bucket: String
            var prefix: String
            var selection: String
            var progress: Progress
        }

        static func load(_ options: Options) throws -> Progress? {
            guard let path = options.checkpoint, let data = FileManager.default.contents(atPath: path) else { return nil }
            let stored = try JSONDecoder().decode(Stored.self, from: data)
            guard stored.bucket == options.bucket, stored.prefix == options.prefix, stored.selection == options.selection.rawValue else {
                throw EnqueueError("the checkpoint \(path) is for s3://\(stored.bucket)/\(stored.prefix) (\(stored.selection)), not this run")
            }
            return stored.progress
        }

        static func save(_ progress: Progress, _ options: Options) throws {
            guard let path = options.checkpoint else { return }
            let stored = Stored(bucket: options.bucket, prefix: options.prefix, selection: options.selection.rawValue, progress: progress)
            try JSONEncoder().encode(stored).write(to: URL(fileURLWithPath: path), options: .atomic)
        }
    }
}

/// At most `perSecond` objects a second (a token bucket refilled continuously).
actor RateLimiter {
    private let perSecond: Double?
    private var available: Double
    private var last = ContinuousClock.now

    init(perSecond: Double?) {
        self.perSecond = perSecond
        self.available = perSecond ?? 0
    }

    func take(_ count: Int) async {
        guard let perSecond, perSecond > 0 else { return }
        let now = ContinuousClock.now
        available = min(perSecond, available + perSecond * Double((now - last) / .seconds(1)))
        last = now
        available -= Double(count)
        if available < 0 {
            try? await Task.sleep(for: .seconds(-available / perSecond))
        }
    }
}

/// A run that cannot start or go on.
public struct EnqueueError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
