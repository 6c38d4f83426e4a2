import AWSClients
import AWSSigV4
import AsyncHTTPClient
import Crypto
import Foundation
import Testing

/// Every call of the AWS layer against moto_server with signature checking on
/// (scripts/test.sh starts it and exports MOTO_AUTH_*).
@Suite(.serialized) struct MotoIntegrationTests {
    /// Keys whose signatures moto's checker verifies correctly (it re-encodes `+`, `%`, reserved
    /// characters and non-ASCII differently from AWS, and rejects botocore's signatures for them
    /// too, as seen with `aws s3api put-object`); these run against the signature-checking moto.
    static let verifiableKeys = [
        "plain.txt",
        "a b c.txt",
        "tilde~dash-under_score.dot",
        "deep/nested/path/with space/file",
    ]

    /// Every odd key: against the moto without signature checks (their signatures are checked
    /// offline against botocore in AWSSigV4Tests).
    static let oddKeys = [
        "plain.txt",
        "a b c.txt",
        "plus+sign.bin",
        "percent%41literal",
        "unicode/ü/日本語 ファイル.txt",
        "reserved!$&'()*,;=@:[].txt",
        "tilde~dash-under_score.dot",
        "deep/nested/path/with space/file",
        "emoji 🦠.bin",
        "q=1&x=2?y#z",
        "a%2Bb+c d",
    ]

    func makeS3(_ httpClient: HTTPClient, _ environment: MotoAuthEnvironment, transfer: S3TransferOptions = S3TransferOptions()) throws -> S3Client {
        let settings = try environment.settings()
        return S3Client(
            settings: settings, credentialsProvider: settings.makeCredentialsProvider(httpClient: httpClient),
            httpClient: httpClient, transferOptions: transfer)
    }

    static func uniqueName(_ prefix: String) -> String {
        "\(prefix)-\(UUID().uuidString.lowercased().prefix(12))"
    }

    @Test func signatureCheckingIsOn() async throws {
        let environment = try MotoAuthEnvironment.load()
        try await withHTTPClient { httpClient in
            var wrong = environment
            wrong.secretAccessKey = "not-the-secret"
            let s3 = try makeS3(httpClient, wrong)
            let error = await #expect(throws: AWSError.self) { try await s3.createBucket(Self.uniqueName("denied")) }
            #expect(error?.code == "SignatureDoesNotMatch")
            #expect(error?.statusCode == 403)
        }
    }

    @Test(arguments: [true, false])
    func objectCallsWithOddKeys(signatureChecked: Bool) async throws {
        var environment = try MotoAuthEnvironment.load()
        let keys = signatureChecked ? Self.verifiableKeys : Self.oddKeys
        if !signatureChecked { environment = try MotoAuthEnvironment.loadUnauthenticated() }
        try await withHTTPClient { httpClient in
            let s3 = try makeS3(httpClient, environment)
            let bucket = Self.uniqueName("odd-keys")
            let quarantine = Self.uniqueName("quarantine")
            try await s3.createBucket(bucket)
            try await s3.createBucket(quarantine)
            try await s3.putBucketVersioning(bucket, enabled: true)

            try await withTemporaryDirectory { directory in
                for (index, key) in keys.enumerated() {
                    let data = testBytes(count: 1000 + index * 37, seed: UInt64(index + 1))
                    let written = try await s3.putObject(bucket: bucket, key: key, data: data, contentType: "application/x-test")
                    #expect(written.versionID != nil, "key \(key)")

                    let head = try await s3.headObject(bucket: bucket, key: key, versionID: written.versionID)
                    #expect(head.size == Int64(data.count), "key \(key)")
                    #expect(head.eTag == written.eTag)
                    #expect(head.versionID == written.versionID)
                    #expect(head.lastModified != nil)

                    let file = "\(directory)/\(index)"
                    let got = try await s3.getObject(bucket: bucket, key: key, versionID: written.versionID, ifMatch: written.eTag, to: file)
                    #expect(got.eTag == written.eTag)
                    #expect(try Data(contentsOf: URL(fileURLWithPath: file)) == data, "key \(key)")

                    let unchanged = try await s3.getObject(bucket: bucket, key: key, ifNoneMatch: written.eTag)
                    #expect(unchanged == .notModified, "key \(key)")
                    guard case .modified(let body, let metadata) = try await s3.getObject(bucket: bucket, key: key, ifNoneMatch: "\"0123\"") else {
                        Issue.record("expected the object for a different entity tag, key \(key)")
                        continue
                    }
                    #expect(body == data)
                    #expect(metadata.versionID == written.versionID)

                    let tags = [
                        S3Tag(key: "scan-status", value: "CLEAN"), S3Tag(key: "scan-time", value: "2026-11-26T12:00:00Z"),
                        S3Tag(key: "scan-signature", value: "Win.Test.EICAR_HDB-1 +=:/@"),
                    ]
                    try await s3.putObjectTagging(bucket: bucket, key: key, versionID: written.versionID, tags: tags)
                    #expect(Set(try await s3.getObjectTagging(bucket: bucket, key: key, versionID: written.versionID)) == Set(tags))

                    let copy = try await s3.copyObject(
                        sourceBucket: bucket, sourceKey: key, sourceVersionID: written.versionID,
                        destinationBucket: quarantine, destinationKey: "q/" + key,
                        tags: [S3Tag(key: "scan-status", value: "INFECTED")])
                    #expect(!copy.eTag.isEmpty)
                    #expect(try await s3.getObjectTagging(bucket: quarantine, key: "q/" + key) == [S3Tag(key: "scan-status", value: "INFECTED")])
                    #expect(try await s3.headObject(bucket: quarantine, key: "q/" + key).size == Int64(data.count))
                }
            }

            // Listing with pagination: 2 keys a page.
            var listed: [String] = []
            var token: String? = nil
            var pages = 0
            repeat {
                let page = try await s3.listObjectsV2(bucket: bucket, continuationToken: token, maxKeys: 2)
                listed += page.objects.map(\.key)
                token = page.nextContinuationToken
                pages += 1
            } while token != nil
            #expect(pages == (keys.count + 1) / 2)
            #expect(listed.sorted() == keys.sorted())
            // moto's signature checker also rejects a `/` in a query value (botocore's too), so the
            // checked run lists with a prefix without one.
            if signatureChecked {
                #expect(try await s3.listAllObjects(bucket: quarantine, prefix: "q").map(\.key).sorted() == keys.map { "q/" + $0 }.sorted())
            } else {
                #expect(try await s3.listAllObjects(bucket: quarantine, prefix: "q/deep/").map(\.key) == ["q/deep/nested/path/with space/file"])
            }

            // Delete each version for good.
            for key in keys {
                let head = try await s3.headObject(bucket: bucket, key: key)
                let deleted = try await s3.deleteObject(bucket: bucket, key: key, versionID: head.versionID)
                #expect(deleted.versionID == head.versionID)
                let error = await #expect(throws: AWSError.self) { try await s3.headObject(bucket: bucket, key: key, versionID: head.versionID) }
                #expect(error?.isNotFound == true, "key \(key)")
            }
        }
    }

    @Test func typedErrors() async throws {
        let environment = try MotoAuthEnvironment.load()
        try await withHTTPClient { httpClient in
            let s3 = try makeS3(httpClient, environment)
            let bucket = Self.uniqueName("errors")
            try await s3.createBucket(bucket)
            let written = try await s3.putObject(bucket: bucket, key: "k", data: Data("hello".utf8))

            let missing = await #expect(throws: AWSError.self) { try await s3.getObject(bucket: bucket, key: "missing", ifNoneMatch: nil) }
            #expect(missing?.code == "NoSuchKey")
            #expect(missing?.statusCode == 404)
            #expect(missing?.isNotFound == true)

            try await withTemporaryDirectory { directory in
                let file = "\(directory)/out"
                let stale = await #expect(throws: AWSError.self) {
                    try await s3.getObject(bucket: bucket, key: "k", ifMatch: "\"00000000000000000000000000000000\"", to: file)
                }
                #expect(stale?.isPreconditionFailed == true)
                #expect(!FileManager.default.fileExists(atPath: file))
                try await s3.getObject(bucket: bucket, key: "k", ifMatch: written.eTag, to: file)
                #expect(try String(contentsOfFile: file, encoding: .utf8) == "hello")
            }

            let noBucket = await #expect(throws: AWSError.self) { try await s3.listObjectsV2(bucket: Self.uniqueName("nobucket")) }
            #expect(noBucket?.code == "NoSuchBucket")
        }
    }

    @Test func largeObjectThroughMultipartUploadAndParallelRangedDownload() async throws {
        let environment = try MotoAuthEnvironment.load()
        try await withHTTPClient { httpClient in
            let s3 = try makeS3(httpClient, environment)
            let bucket = Self.uniqueName("large")
            try await s3.createBucket(bucket)
            try await withTemporaryDirectory { directory in
                let size = 200 << 20
                let source = "\(directory)/source"
                let data = testBytes(count: size, seed: 42)
                try data.write(to: URL(fileURLWithPath: source))
                let sourceHash = SHA256.hash(data: data)

                let written = try await s3.putObject(bucket: bucket, key: "big object with space.bin", fileAt: source)
                #expect(written.eTag.hasSuffix("-25"), "200 MiB in 8 MiB parts is 25 parts, eTag \(written.eTag)")

                let target = "\(directory)/target"
                let metadata = try await s3.getObject(bucket: bucket, key: "big object with space.bin", to: target)
                #expect(metadata.size == Int64(size))
                let downloaded = try Data(contentsOf: URL(fileURLWithPath: target))
                #expect(downloaded.count == size)
                #expect(SHA256.hash(data: downloaded) == sourceHash)
            }
        }
    }

    /// Copies above the copy threshold (5 GiB in production, 5 MiB here) go part by part with
    /// UploadPartCopy, pinned to the source version and entity tag: the copy is the exact
    /// bytes of that version, and a replaced source stops it.
    @Test func largeCopyThroughUploadPartCopyPinnedToTheVersion() async throws {
        let environment = try MotoAuthEnvironment.load()
        try await withHTTPClient { httpClient in
            let s3 = try makeS3(httpClient, environment, transfer: S3TransferOptions(copyThreshold: 5 << 20, copyPartSize: 5 << 20))
            let bucket = Self.uniqueName("copy-source")
            let quarantine = Self.uniqueName("copy-target")
            try await s3.createBucket(bucket)
            try await s3.createBucket(quarantine)
            try await s3.putBucketVersioning(bucket, enabled: true)
            let data = testBytes(count: (12 << 20) + 12_345, seed: 42)
            let first = try await s3.putObject(bucket: bucket, key: "big.bin", data: data, contentType: "application/x-big")
            _ = try await s3.putObject(bucket: bucket, key: "big.bin", data: testBytes(count: 6 << 20, seed: 7))  // a newer version

            let copied = try await s3.copyObject(
                sourceBucket: bucket, sourceKey: "big.bin", sourceVersionID: first.versionID, sourceIfMatch: first.eTag,
                destinationBucket: quarantine, destinationKey: "q/big.bin", tags: [S3Tag(key: "scan-status", value: "INFECTED")])
            #expect(copied.eTag.hasSuffix("-3"), "three parts: \(copied.eTag)")
            guard case .modified(let body, let metadata) = try await s3.getObject(bucket: quarantine, key: "q/big.bin", ifNoneMatch: nil) else {
                Issue.record("the copy is missing")
                return
            }
            #expect(body == data, "the pinned version's bytes, not the newer version's")
            #expect(metadata.contentType == "application/x-big")
            #expect(try await s3.getObjectTagging(bucket: quarantine, key: "q/big.bin") == [S3Tag(key: "scan-status", value: "INFECTED")])

            let stale = await #expect(throws: AWSError.self) {
                try await s3.copyObject(
                    sourceBucket: bucket, sourceKey: "big.bin", sourceVersionID: nil, sourceIfMatch: first.eTag,
                    destinationBucket: quarantine, destinationKey: "q/stale.bin", tags: [])
            }
            #expect(stale?.isPreconditionFailed == true, "\(String(describing: stale))")
        }
    }

    @Test func eventBridgePutEvents() async throws {
        let environment = try MotoAuthEnvironment.load()
        try await withHTTPClient { httpClient in
            let settings = try environment.settings()
            let events = EventBridgeClient(
                settings: settings, credentialsProvider: settings.makeCredentialsProvider(httpClient: httpClient),
                httpClient: httpClient)
            let entries = (0..<23).map { index in
                EventBridgeEntry(
                    eventBusName: "default", source: "s3-clamav-scanner", detailType: "Object Scan Result",
                    detail: #"{"verdict":"CLEAN","index":\#(index),"key":"a b+c/ü"}"#,
                    resources: ["arn:aws:s3:::bucket"], time: Date())
            }
            let ids = try await events.putEvents(entries)
            #expect(ids.count == 23)
            #expect(ids.allSatisfy { !$0.isEmpty })
        }
    }

    @Test func sqsReceiveDeleteAndVisibility() async throws {
        let environment = try MotoAuthEnvironment.load()
        try await withHTTPClient { httpClient in
            let settings = try environment.settings()
            let sqs = SQSClient(
                settings: settings, credentialsProvider: settings.makeCredentialsProvider(httpClient: httpClient),
                httpClient: httpClient)
            let queue = try await sqs.createQueue(name: Self.uniqueName("scan-queue"))
            let bodies = (0..<12).map { #"{"Records":[{"s3":{"object":{"key":"a+b%20c-\#($0)"}}}]}"# }
            for body in bodies { try await sqs.sendMessage(queueURL: queue, body: body) }

            var received: [SQSMessage] = []
            for _ in 0..<10 where received.count < bodies.count {
                received += try await sqs.receiveMessages(queueURL: queue, maxMessages: 10, waitTimeSeconds: 1, visibilityTimeout: 60)
            }
            #expect(Set(received.map(\.body)) == Set(bodies))
            #expect(received.allSatisfy { $0.attributes["ApproximateReceiveCount"] == "1" })

            // Make one visible again at once, and receive it a second time.
            let first = received[0]
            try await sqs.changeMessageVisibility(queueURL: queue, receiptHandle: first.receiptHandle, visibilityTimeout: 0)
            let again = try await sqs.receiveMessages(queueURL: queue, maxMessages: 1, waitTimeSeconds: 2)
            #expect(again.map(\.body) == [first.body])

            try await sqs.deleteMessage(queueURL: queue, receiptHandle: again[0].receiptHandle)
            try await sqs.deleteMessageBatch(queueURL: queue, receiptHandles: received.dropFirst().map(\.receiptHandle))
            #expect(try await sqs.receiveMessages(queueURL: queue, maxMessages: 10, waitTimeSeconds: 1).isEmpty)

            let missing = await #expect(throws: AWSError.self) {
                try await sqs.receiveMessages(queueURL: queue + "-missing", waitTimeSeconds: 0)
            }
            #expect(missing?.isNotFound == true)
        }
    }
}
