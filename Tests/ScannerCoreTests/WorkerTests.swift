import AWSClients
import AsyncHTTPClient
import BusEvents
import ClamAV
import Definitions
import Foundation
import Logging
import Testing

@testable import ScannerCore

/// The real S3 client, with downloads slowed down to make a scan outlast the visibility timeout.
struct SlowStore: ObjectStore {
    let base: S3Client
    let delay: Duration

    func headObject(bucket: String, key: String, versionID: String?, ifMatch: String?) async throws -> S3ObjectMetadata {
        try await base.headObject(bucket: bucket, key: key, versionID: versionID, ifMatch: ifMatch)
    }
    func getObject(bucket: String, key: String, versionID: String?, ifMatch: String?, to path: String) async throws -> S3ObjectMetadata {
        try await Task.sleep(for: delay)
        return try await base.getObject(bucket: bucket, key: key, versionID: versionID, ifMatch: ifMatch, to: path)
    }
    func getObject(bucket: String, key: String, headed metadata: S3ObjectMetadata, to path: String) async throws -> S3ObjectMetadata {
        try await Task.sleep(for: delay)
        return try await base.getObject(bucket: bucket, key: key, headed: metadata, to: path)
    }
    func getObject(bucket: String, key: String, versionID: String?, ifMatch: String?, maxSize: Int64, to path: String) async throws -> S3DirectGet {
        try await Task.sleep(for: delay)
        return try await base.getObject(bucket: bucket, key: key, versionID: versionID, ifMatch: ifMatch, maxSize: maxSize, to: path)
    }
    func getObject(bucket: String, key: String, versionID: String?, ifNoneMatch: String?, maxSize: Int) async throws -> S3ConditionalGetResult {
        try await base.getObject(bucket: bucket, key: key, versionID: versionID, ifNoneMatch: ifNoneMatch, maxSize: maxSize)
    }
    func listObjectsV2(bucket: String, prefix: String?, delimiter: String?, continuationToken: String?, maxKeys: Int?) async throws -> S3ListPage {
        try await base.listObjectsV2(bucket: bucket, prefix: prefix, delimiter: delimiter, continuationToken: continuationToken, maxKeys: maxKeys)
    }
    func currentTagging(bucket: String, key: String) async throws -> S3Tagging {
        try await base.currentTagging(bucket: bucket, key: key)
    }
    func getObjectTagging(bucket: String, key: String, versionID: String?) async throws -> [S3Tag] {
        try await base.getObjectTagging(bucket: bucket, key: key, versionID: versionID)
    }
    func putObjectTagging(bucket: String, key: String, versionID: String?, tags: [S3Tag]) async throws {
        try await base.putObjectTagging(bucket: bucket, key: key, versionID: versionID, tags: tags)
    }
    func deleteObject(bucket: String, key: String, versionID: String?, ifMatch: String?) async throws -> S3DeleteResult {
        try await base.deleteObject(bucket: bucket, key: key, versionID: versionID, ifMatch: ifMatch)
    }
    func putObject(bucket: String, key: String, fileAt path: String, contentType: String?, tags: [S3Tag]) async throws -> S3WriteResult {
        try await base.putObject(bucket: bucket, key: key, fileAt: path, contentType: contentType, tags: tags)
    }
    func putObject(bucket: String, key: String, data: Data, contentType: String?, tags: [S3Tag]) async throws -> S3WriteResult {
        try await base.putObject(bucket: bucket, key: key, data: data, contentType: contentType, tags: tags)
    }
    func copyObject(
        sourceBucket: String, sourceKey: String, sourceVersionID: String?, sourceIfMatch: String?,
        destinationBucket: String, destinationKey: String, tags: [S3Tag]?
    ) async throws -> S3WriteResult {
        try await base.copyObject(
            sourceBucket: sourceBucket, sourceKey: sourceKey, sourceVersionID: sourceVersionID, sourceIfMatch: sourceIfMatch,
            destinationBucket: destinationBucket, destinationKey: destinationKey, tags: tags)
    }
}

@Suite("SQS worker")
struct WorkerTests {
    @Test func visibilityIsExtendedWhileALongScanRuns() async throws {
        let endpoint = try #require(
            ProcessInfo.processInfo.environment["MOTO_ENDPOINT"], "MOTO_ENDPOINT is not set: run scripts/test.sh, which starts moto")
        let name = "worker-\(UUID().uuidString.prefix(8).lowercased())"
        let environment = [
            "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing", "DEFINITIONS_BUCKET": "\(name)-definitions",
        ]
        let settings = try AWSSettings(environment: environment)
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .forAWSClients())
        let credentials = settings.makeCredentialsProvider(httpClient: httpClient)
        let s3 = S3Client(settings: settings, credentialsProvider: credentials, httpClient: httpClient)
        let sqs = SQSClient(settings: settings, credentialsProvider: credentials, httpClient: httpClient)
        let logger = Logger(label: "worker-test")

        // A published database with the EICAR body signature, and one object to scan.
        try await s3.createBucket("\(name)-definitions")
        try await s3.createBucket("\(name)-uploads")
        let database = FileManager.default.temporaryDirectory.appendingPathComponent(name).path
        try FileManager.default.createDirectory(atPath: database, withIntermediateDirectories: true)
        let eicar = #"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"#
        try Data("Test.EICAR.Body:0:*:\(eicar.utf8.map { String(format: "%02x", $0) }.joined())\n".utf8)
            .write(to: URL(fileURLWithPath: "\(database)/test.ndb"))
        let engine = try await ClamAVEngine.load(databaseDirectory: database)
        _ = try await DefinitionsBucket(store: s3, bucket: "\(name)-definitions", prefix: "clamav/", logger: logger).publish(engine.database)
        _ = try await s3.putObject(bucket: "\(name)-uploads", key: "slow.txt", data: Data("clean text\n".utf8))

        let queueURL = try await sqs.createQueue(name: name)
        _ = try await sqs.sendMessage(
            queueURL: queueURL,
            body: #"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"\#(name)-uploads"},"object":{"key":"slow.txt"}}}]}"#)

        let configuration = try ScannerConfiguration(environment: environment)
        let store = SlowStore(base: s3, delay: .seconds(10))
        let events = EventBusPublisher(busName: nil, publisher: nil, logger: logger)
        let metrics = ScanMetrics(emitter: nil)
        let workDirectory = try PrivateDirectory.create(in: nil, prefix: "worker-test")
        defer { try? FileManager.default.removeItem(atPath: workDirectory) }
        let definitions = DefinitionsProvider(
            configuration: configuration, workDirectory: workDirectory, store: store, events: events, metrics: metrics, logger: logger
        )
        let workflow = ObjectScanWorkflow(
            configuration: configuration, workDirectory: workDirectory, store: store, definitions: definitions,
            events: events, metrics: metrics, logger: logger
        )
        let worker = SQSWorker(
            processor: InvocationProcessor(workflow: workflow, events: events, logger: logger),
            sqs: sqs, queueURL: queueURL, concurrency: 1, visibilityTimeout: 6, logger: logger)

        let received = try #require(try await sqs.receiveMessages(queueURL: queueURL, maxMessages: 1, waitTimeSeconds: 5, visibilityTimeout: 6).first)
        let scan = Task { await worker.handle(received) }
        // The scan takes 10 s; without the heartbeat the message would be visible again after 6 s.
        try await Task.sleep(for: .seconds(8))
        let meanwhile = try await sqs.receiveMessages(queueURL: queueURL, maxMessages: 1, waitTimeSeconds: 0)
        #expect(meanwhile.isEmpty, "the message became visible to another consumer during the scan")
        await scan.value
        let tags = try await s3.getObjectTagging(bucket: "\(name)-uploads", key: "slow.txt", versionID: nil)
        #expect(tags.contains(S3Tag(key: "scan-status", value: "CLEAN")))
        let after = try await sqs.receiveMessages(queueURL: queueURL, maxMessages: 1, waitTimeSeconds: 7)
        #expect(after.isEmpty, "the scanned message was deleted")
        try await httpClient.shutdown()
    }

    /// A queue without a redrive policy: a message that fails on every receive moves to the
    /// worker's dead-letter queue after --max-receives, sent there before it is deleted here.
    @Test func messageThatKeepsFailingMovesToTheDeadLetterQueue() async throws {
        let endpoint = try #require(
            ProcessInfo.processInfo.environment["MOTO_ENDPOINT"], "MOTO_ENDPOINT is not set: run scripts/test.sh, which starts moto")
        let name = "dead-\(UUID().uuidString.prefix(8).lowercased())"
        let environment = [
            "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing", "DEFINITIONS_BUCKET": "\(name)-definitions",
        ]
        let settings = try AWSSettings(environment: environment)
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .forAWSClients())
        let credentials = settings.makeCredentialsProvider(httpClient: httpClient)
        let s3 = S3Client(settings: settings, credentialsProvider: credentials, httpClient: httpClient)
        let sqs = SQSClient(settings: settings, credentialsProvider: credentials, httpClient: httpClient)
        let logger = Logger(label: "worker-test")
        let queueURL = try await sqs.createQueue(name: name)
        let deadLetterURL = try await sqs.createQueue(name: "\(name)-dead")
        #expect(try await !SQSWorker.hasRedrivePolicy(queueURL: queueURL, sqs: sqs))
        // A record that can never succeed.
        let body = #"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"}}}]}"#
        try await sqs.sendMessage(queueURL: queueURL, body: body)

        let configuration = try ScannerConfiguration(environment: environment)
        let workDirectory = try PrivateDirectory.create(in: nil, prefix: "worker-test")
        defer { try? FileManager.default.removeItem(atPath: workDirectory) }
        let events = EventBusPublisher(busName: nil, publisher: nil, logger: logger)
        let metrics = ScanMetrics(emitter: nil)
        let definitions = DefinitionsProvider(
            configuration: configuration, workDirectory: workDirectory, store: s3, events: events, metrics: metrics, logger: logger
        )
        let workflow = ObjectScanWorkflow(
            configuration: configuration, workDirectory: workDirectory, store: s3, definitions: definitions, events: events, metrics: metrics,
            logger: logger
        )
        let worker = SQSWorker(
            processor: InvocationProcessor(workflow: workflow, events: events, logger: logger), sqs: sqs, queueURL: queueURL,
            concurrency: 1, visibilityTimeout: 6, deadLettering: .init(queueURL: deadLetterURL, maxReceives: 3), logger: logger)
        for receive in 1...3 {
            let message = try #require(
                try await sqs.receiveMessages(queueURL: queueURL, maxMessages: 1, waitTimeSeconds: 5, visibilityTimeout: 6).first)
            #expect(message.attributes["ApproximateReceiveCount"] == "\(receive)")
            await worker.handle(message)
            // Let the next receive see it at once instead of after the visibility timeout.
            if receive < 3 { try? await sqs.changeMessageVisibility(queueURL: queueURL, receiptHandle: message.receiptHandle, visibilityTimeout: 0) }
        }
        let dead = try await sqs.receiveMessages(queueURL: deadLetterURL, maxMessages: 10, waitTimeSeconds: 2)
        #expect(dead.map(\.body) == [body])
        let left = try await sqs.receiveMessages(queueURL: queueURL, maxMessages: 10, waitTimeSeconds: 1)
        #expect(left.isEmpty, "the message was sent to the dead-letter queue but not deleted")
        try await httpClient.shutdown()
    }
}
