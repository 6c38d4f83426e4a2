import AWSClients
import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import ScannerCore

/// `scanner-bench enqueue`: the backfill's listing and queueing, measured apart and together
/// on one bucket of `--objects` objects in moto, so that the overlap shows: listing alone
/// (ListObjectsV2 pages, a dry run), queueing alone (the same messages sent without listing),
/// and listing plus queueing (`scanner enqueue`'s path). The queue is ``SQSSink`` with a
/// per-call delay; a smaller run against moto's own SQS shows why.
struct EnqueueCosts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue", abstract: "Objects per second of the backfill: listing alone, queueing alone, both overlapped (JSON).")

    @Option(help: "The bucket (created and filled when it holds fewer objects).")
    var bucket = "bench-enqueue"

    @Option(help: "Objects in the bucket.")
    var objects = 100_000

    @Option(help: "SendMessageBatch calls in flight.")
    var concurrency = 8

    @Option(help: "Milliseconds the queue takes to answer one SendMessageBatch (a model of SQS's round trip).")
    var latency = 20

    @Option(help: "Objects also queued to moto's own SQS (0: none).")
    var motoObjects = 2_000

    func run() async throws {
        var environment = ProcessInfo.processInfo.environment
        var logger = Logger(label: "scanner-bench")
        logger.logLevel = .error
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .forAWSClients(maxConnectionsPerHost: max(16, concurrency)))
        do {
            let settings = try AWSSettings(environment: environment)
            let credentials = settings.makeCredentialsProvider(httpClient: httpClient)
            let s3 = S3Client(settings: settings, credentialsProvider: credentials, httpClient: httpClient, logger: logger)
            try await fill(s3, prefix: "n/", count: objects)
            if motoObjects > 0 { try await fill(s3, prefix: "m/", count: motoObjects) }

            let clock = ContinuousClock()
            func timed(_ work: () async throws -> Enqueuer.Progress) async throws -> (Double, Enqueuer.Progress) {
                let start = clock.now
                let progress = try await work()
                return (Double((clock.now - start) / .milliseconds(1)) / 1000, progress)
            }
            let enqueuer = { (sender: (any MessageSender)?) in
                Enqueuer(store: s3, sender: sender, tagKeys: TagKeys(), definitions: nil, logger: logger, concurrency: concurrency)
            }
            let listing = Enqueuer.Options(bucket: bucket, prefix: "n/", queueURL: nil, dryRun: true)
            let (listSeconds, listed) = try await timed { try await enqueuer(nil).run(listing) }

            let sink = try await SQSSink.start(delay: .milliseconds(Int64(latency)))
            environment["AWS_ENDPOINT_URL_SQS"] = sink.endpoint
            let sinkSQS = SQSClient(
                settings: try AWSSettings(environment: environment), credentialsProvider: credentials, httpClient: httpClient, logger: logger)
            let queueURL = "\(sink.endpoint)/000000000000/bench"
            var both = listing
            both.dryRun = false
            both.queueURL = queueURL
            let (bothSeconds, queued) = try await timed { try await enqueuer(sinkSQS).run(both) }
            let afterBoth = sink.messages

            // The same number of messages, sent without listing.
            let bodies = (0..<objects).map {
                ObjectRef(bucket: bucket, key: String(format: "n/%08d", $0), size: 16, trigger: "backfill").notification
            }
            let start = clock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                var inFlight = 0
                for batch in stride(from: 0, to: bodies.count, by: 10) {
                    if inFlight >= concurrency {
                        try await group.next()
                        inFlight -= 1
                    }
                    let slice = Array(bodies[batch..<min(batch + 10, bodies.count)])
                    group.addTask { try await sinkSQS.sendMessageBatch(queueURL: queueURL, bodies: slice) }
                    inFlight += 1
                }
                try await group.waitForAll()
            }
            let queueSeconds = Double((clock.now - start) / .milliseconds(1)) / 1000
            try await sink.shutdown()

            var moto: [String: Double] = [:]
            if motoObjects > 0 {
                let motoSQS = SQSClient(settings: settings, credentialsProvider: credentials, httpClient: httpClient, logger: logger)
                let queue = try await motoSQS.createQueue(name: "bench-enqueue-\(UUID().uuidString.prefix(8))")
                var options = Enqueuer.Options(bucket: bucket, prefix: "m/", queueURL: queue)
                options.dryRun = false
                let (seconds, progress) = try await timed { try await enqueuer(motoSQS).run(options) }
                moto = ["objects": Double(progress.queued), "seconds": seconds, "objectsPerSecond": Double(progress.queued) / seconds]
            }

            struct Report: Encodable {
                var objects: Int
                var concurrency: Int
                var sinkLatencyMs: Int
                var listSeconds, queueSeconds, listAndQueueSeconds: Double
                var listObjectsPerSecond, queueObjectsPerSecond, listAndQueueObjectsPerSecond: Double
                var listAndQueueOverList: Double
                var listAndQueueOverSum: Double
                var messagesReceived: Int
                var motoSQS: [String: Double]
            }
            let report = Report(
                objects: listed.listed, concurrency: concurrency, sinkLatencyMs: latency,
                listSeconds: listSeconds, queueSeconds: queueSeconds, listAndQueueSeconds: bothSeconds,
                listObjectsPerSecond: Double(listed.listed) / listSeconds, queueObjectsPerSecond: Double(objects) / queueSeconds,
                listAndQueueObjectsPerSecond: Double(queued.queued) / bothSeconds,
                listAndQueueOverList: bothSeconds / listSeconds, listAndQueueOverSum: bothSeconds / (listSeconds + queueSeconds),
                messagesReceived: afterBoth, motoSQS: moto)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            try await httpClient.shutdown()
        } catch {
            try? await httpClient.shutdown()
            throw error
        }
    }

    /// Creates the bucket and uploads tiny objects under `prefix` until it holds `count`.
    private func fill(_ s3: S3Client, prefix: String, count: Int) async throws {
        _ = try? await s3.createBucket(bucket)
        var present = 0
        var token: String?
        repeat {
            let page = try await s3.listObjectsV2(bucket: bucket, prefix: prefix, continuationToken: token)
            present += page.objects.count
            token = page.nextContinuationToken
        } while token != nil
        guard present < count else { return }
        FileHandle.standardError.write(Data("filling s3://\(bucket)/\(prefix) with \(count - present) objects\n".utf8))
        try await withThrowingTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for index in present..<count {
                if inFlight >= 32 {
                    try await group.next()
                    inFlight -= 1
                }
                group.addTask {
                    _ = try await s3.putObject(bucket: bucket, key: String(format: "\(prefix)%08d", index), data: Data("object \(index)\n".utf8))
                }
                inFlight += 1
            }
            try await group.waitForAll()
        }
    }
}
