import AWSClients
import BusEvents
import Definitions
import Environment
import Foundation
import Logging

/// Which buckets are rescanned after a definitions update (`RESCAN_BUCKETS`,
/// `RESCAN_WINDOW`); unset, `Definitions Updated` queues nothing.
public struct RescanSettings: Sendable, Equatable {
    /// A bucket, or a prefix of one.
    public struct Target: Sendable, Equatable {
        public var bucket: String
        public var prefix: String
    }

    /// `RESCAN_BUCKETS`: comma-separated `BUCKET[/PREFIX]`.
    public var targets: [Target]
    /// `RESCAN_WINDOW`: only objects last modified this many hours before the update are
    /// rescanned (default a week).
    public var windowHours: Int

    init?(_ reader: EnvironmentReader) throws(ConfigurationError) {
        guard let text = reader.optional("RESCAN_BUCKETS") else { return nil }
        targets = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.map { item in
            let parts = item.split(separator: "/", maxSplits: 1).map(String.init)
            return Target(bucket: parts[0], prefix: parts.count > 1 ? parts[1] : "")
        }
        guard !targets.isEmpty else { throw ConfigurationError("RESCAN_BUCKETS", "names no bucket") }
        windowHours = try reader.integer("RESCAN_WINDOW", default: 168, in: 1...87_600)
    }
}

/// The new definitions, from the updater's `Definitions Updated` event.
public struct DefinitionsUpdate: Sendable, Equatable, Hashable {
    public var version: String
    public var publishedAt: Date

    public init(version: String, publishedAt: Date) {
        self.version = version
        self.publishedAt = publishedAt
    }

    init?(_ detail: JSONValue?) {
        guard let version = detail?["version"]?.string, let publishedAt = detail?["publishedAt"]?.string.flatMap(Timestamp.date) else {
            return nil
        }
        self.version = version
        self.publishedAt = publishedAt
    }

    /// Whether a loaded manifest is these definitions or newer ones (publication times have
    /// whole seconds: a manifest of the same second is newer only when it is this one).
    func isMetBy(_ manifest: DefinitionsManifest) -> Bool {
        manifest.version == version || manifest.publishedAt > publishedAt
    }

    /// As the messages carry it.
    struct Wire: Encodable {
        var version: String
        var publishedAt: String
    }

    var wire: Wire { Wire(version: version, publishedAt: Timestamp.string(publishedAt)) }
}

/// One bucket (or prefix) to list for a rescan, from a position: the message the scanner
/// sends itself to its own queue, first one per target when definitions are updated, then one
/// to go on where a run that ran out of time stopped.
public struct RescanRequest: Sendable, Equatable {
    /// Its `detail-type`.
    static let detailType = "Rescan Requested"

    public var bucket: String
    public var prefix: String
    /// The definitions the rescan is for.
    public var definitions: DefinitionsUpdate
    /// Only objects last modified at or after this time.
    public var modifiedSince: Date
    /// Where the listing goes on; `nil` from the start.
    public var continuationToken: String?

    init(bucket: String, prefix: String, definitions: DefinitionsUpdate, modifiedSince: Date, continuationToken: String?) {
        self.bucket = bucket
        self.prefix = prefix
        self.definitions = definitions
        self.modifiedSince = modifiedSince
        self.continuationToken = continuationToken
    }

    init?(_ detail: JSONValue?) {
        guard let bucket = detail?["bucket"]?.string, !bucket.isEmpty, let definitions = DefinitionsUpdate(detail?["definitions"]),
            let since = detail?["modifiedSince"]?.string.flatMap(Timestamp.date)
        else { return nil }
        self.init(
            bucket: bucket, prefix: detail?["prefix"]?.string ?? "", definitions: definitions, modifiedSince: since,
            continuationToken: detail?["continuationToken"]?.string)
    }

    /// The message: shaped like an EventBridge event from this product, so that the scanner
    /// reads it from its queue as it reads the bus's events.
    var message: String {
        struct Detail: Encodable {
            var bucket: String
            var prefix: String
            var definitions: DefinitionsUpdate.Wire
            var modifiedSince: String
            var continuationToken: String?
        }
        struct Message: Encodable {
            var source = BusEvent.source
            var detailType = RescanRequest.detailType
            var detail: Detail
            enum CodingKeys: String, CodingKey {
                case source, detail
                case detailType = "detail-type"
            }
        }
        let message = Message(
            detail: Detail(
                bucket: bucket, prefix: prefix,
                definitions: definitions.wire,
                modifiedSince: Timestamp.string(modifiedSince), continuationToken: continuationToken))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(message)) ?? Data(), as: UTF8.self)
    }
}

/// Runs the rescan after new definitions through the enqueue path: `Definitions Updated`
/// becomes one ``RescanRequest`` per configured target on the scan queue; each request lists
/// its bucket and queues the objects that were `CLEAN` with older definitions and were
/// modified within the window (as `ObjectCreated:Rescan` records that name the definitions
/// they need). A request that runs out of time queues its own continuation, so that no
/// invocation, Lambda's included, needs to outlast its deadline.
public struct Rescanner: Sendable {
    let configuration: ScannerConfiguration
    let store: any ObjectStore
    let sender: any MessageSender
    let logger: Logger
    /// How long one request lists before it hands over to its continuation.
    let slice: Duration

    public init(
        configuration: ScannerConfiguration, store: any ObjectStore, sender: any MessageSender, logger: Logger, slice: Duration = .seconds(300)
    ) {
        self.configuration = configuration
        self.store = store
        self.sender = sender
        self.logger = logger
        self.slice = slice
    }

    /// What a handled item did, for the report.
    public typealias Summary = String

    /// Queues one request per target; `nil` when the rescan is off.
    func handle(_ update: DefinitionsUpdate, logger: Logger) async throws -> Summary? {
        guard let settings = configuration.rescan, let queueURL = configuration.scanQueueURL else { return nil }
        let since = update.publishedAt.addingTimeInterval(-Double(settings.windowHours) * 3600)
        let requests = settings.targets.map {
            RescanRequest(bucket: $0.bucket, prefix: $0.prefix, definitions: update, modifiedSince: since, continuationToken: nil).message
        }
        for batch in stride(from: 0, to: requests.count, by: 10) {
            try await sender.sendMessageBatch(queueURL: queueURL, bodies: Array(requests[batch..<min(batch + 10, requests.count)]))
        }
        let summary =
            "rescan of \(settings.targets.count) target(s) requested for definitions \(update.version), objects modified since \(Timestamp.string(since))"
        logger.notice("definitions updated: rescan requested", metadata: ["version": "\(update.version)", "targets": "\(settings.targets.count)"])
        return summary
    }

    /// Lists one request's bucket until the listing ends or the time is up (the invocation's
    /// deadline less the action reserve, and at most ``slice``), then queues the continuation.
    func handle(_ request: RescanRequest, deadline: ContinuousClock.Instant?, logger: Logger) async throws -> Summary {
        guard let queueURL = configuration.scanQueueURL else {
            throw EnqueueError("a \(RescanRequest.detailType) message arrived but SCAN_QUEUE_URL is not set")
        }
        // The published manifest holds the proof key; the versions compared are the request's.
        let location = configuration.definitions
        let published = try await DefinitionsBucket(store: store, bucket: location.bucket, prefix: location.prefix, logger: logger)
            .publishedManifest()
        guard let published else {
            throw EnqueueError("s3://\(location.bucket)/\(location.prefix)manifest.json is missing: no proof key to check verdicts with")
        }
        let definitions = DefinitionsManifest(
            version: request.definitions.version, publishedAt: request.definitions.publishedAt, databaseTime: nil, signatureCount: 0, files: [],
            proofKey: published.proofKey)
        let enqueuer = Enqueuer(store: store, sender: sender, tagKeys: configuration.tagKeys, definitions: definitions, logger: logger)
        var options = Enqueuer.Options(
            bucket: request.bucket, prefix: request.prefix, selection: .rescan, queueURL: queueURL, modifiedSince: request.modifiedSince)
        options.startAfterToken = request.continuationToken
        options.definitionsNeeded = request.definitions
        options.filters = configuration.filters
        var until = ContinuousClock.now + slice
        if let deadline { until = min(until, deadline - ObjectScanWorkflow.actionReserve) }
        let progress = try await enqueuer.run(options, until: until)
        var summary = "s3://\(request.bucket)/\(request.prefix): \(progress.listed) listed, \(progress.queued) queued for a rescan"
        if !progress.finished, let token = progress.continuationToken {
            var next = request
            next.continuationToken = token
            try await sender.sendMessageBatch(queueURL: queueURL, bodies: [next.message])
            summary += "; the listing goes on in a new request"
        }
        logger.notice("rescan listing", metadata: ["summary": "\(summary)"])
        return summary
    }
}
