import AWSClients
import AWSSigV4
import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

/// The client against a local server that throttles, cuts bodies short and resets connections:
/// it retries and succeeds, or fails with a clear error, and never leaves a truncated file.
@Suite struct FaultInjectionTests {
    static let fastRetries = RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(5), maxDelay: .milliseconds(50), maxTotalTime: .seconds(30))

    func makeS3(
        _ httpClient: HTTPClient, _ server: TestHTTPServer, retry: RetryPolicy = fastRetries,
        transfer: S3TransferOptions = S3TransferOptions(downloadThreshold: 1 << 20, downloadPartSize: 256 << 10, downloadConcurrency: 4)
    ) throws -> S3Client {
        let settings = try AWSSettings(environment: [
            "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "SECRET",
            "AWS_ENDPOINT_URL_S3": server.endpoint,
        ])
        return S3Client(
            settings: settings, credentialsProvider: settings.makeCredentialsProvider(httpClient: httpClient),
            httpClient: httpClient, retryPolicy: retry, transferOptions: transfer)
    }

    /// Serves one object with HEAD, GET and Range; `fault` may replace any answer.
    static func objectServer(
        _ data: Data, checksum: String? = nil, headChecksum: String? = nil,
        fault: @escaping @Sendable (TestHTTPServer.Request, Int) -> TestHTTPServer.Action? = { _, _ in nil }
    ) async throws -> TestHTTPServer {
        let bytes = ByteBuffer(bytes: data)
        return try await TestHTTPServer { request, index in
            if let action = fault(request, index) { return action }
            var headers: [(String, String)] = [
                ("ETag", "\"etag-1\""), ("x-amz-version-id", "v1"), ("Last-Modified", "Fri, 24 May 2013 00:00:00 GMT"),
            ]
            if request.method == .HEAD {
                headers.append(("Content-Length", String(data.count)))
                if let headChecksum { headers.append(("x-amz-checksum-crc32", headChecksum)) }
                return .respond(status: .ok, headers: headers, body: ByteBuffer())
            }
            if let range = request.headers.first(name: "Range") {
                let bounds = range.dropFirst("bytes=".count).split(separator: "-").compactMap { Int($0) }
                let slice = bytes.getSlice(at: bounds[0], length: bounds[1] - bounds[0] + 1)!
                headers.append(("Content-Range", "bytes \(bounds[0])-\(bounds[1])/\(data.count)"))
                return .respond(status: .partialContent, headers: headers, body: slice)
            }
            if let checksum { headers.append(("x-amz-checksum-crc32", checksum)) }
            return .respond(status: .ok, headers: headers, body: bytes)
        }
    }

    static let slowDown = ByteBuffer(
        string:
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>REQ503</RequestId></Error>"
    )

    @Test func retriesSlowDownThenSucceeds() async throws {
        let data = testBytes(count: 5000)
        let server = try await Self.objectServer(data) { request, index in
            index < 2 ? .respond(status: .serviceUnavailable, headers: [("x-amz-request-id", "REQ503")], body: Self.slowDown) : nil
        }
        try await withHTTPClient { httpClient in
            try await withTemporaryDirectory { directory in
                let s3 = try makeS3(httpClient, server)
                try await s3.getObject(bucket: "b", key: "k", to: "\(directory)/f")
                #expect(try Data(contentsOf: URL(fileURLWithPath: "\(directory)/f")) == data)
            }
        }
        #expect(server.received.count == 4)  // 2 × 503, HEAD, GET
        try await server.shutdown()
    }

    /// The scanner's single GET (no HeadObject): a throttled or failed answer before the body
    /// is retried like any other request, not reported as a failed download (found by
    /// bench/burst.sh: one 503 made the object's verdict ERROR).
    @Test func singleGetRetriesAFailedAnswerBeforeTheBody() async throws {
        let data = testBytes(count: 5000)
        let server = try await Self.objectServer(data) { _, index in
            switch index {
            case 0: .respond(status: .serviceUnavailable, headers: [("x-amz-request-id", "REQ503")], body: Self.slowDown)
            case 1: .respond(status: .internalServerError, headers: [("x-amz-request-id", "REQ500")], body: ByteBuffer())
            default: nil
            }
        }
        try await withHTTPClient { httpClient in
            try await withTemporaryDirectory { directory in
                let s3 = try makeS3(httpClient, server)
                let got = try await s3.getObject(bucket: "b", key: "k", versionID: nil, ifMatch: nil, maxSize: 1 << 20, to: "\(directory)/f")
                guard case .downloaded(let metadata) = got else {
                    Issue.record("expected the download, got \(got)")
                    return
                }
                #expect(metadata.size == Int64(data.count))
                #expect(try Data(contentsOf: URL(fileURLWithPath: "\(directory)/f")) == data)
            }
        }
        #expect(server.received.map(\.method) == [.GET, .GET, .GET])
        try await server.shutdown()
    }

    @Test func givesUpAfterTheRetryBudgetWithTheTypedError() async throws {
        let server = try await TestHTTPServer { _, _ in
            .respond(status: .serviceUnavailable, headers: [("x-amz-request-id", "REQ503")], body: Self.slowDown)
        }
        try await withHTTPClient { httpClient in
            let s3 = try makeS3(httpClient, server)
            let error = await #expect(throws: AWSError.self) { try await s3.getObject(bucket: "b", key: "k", ifNoneMatch: nil) }
            #expect(error == AWSError(code: "SlowDown", message: "Please reduce your request rate.", requestID: "REQ503", statusCode: 503))
            // HEAD answers carry no body: the code comes from the status.
            let head = await #expect(throws: AWSError.self) { try await s3.headObject(bucket: "b", key: "k") }
            #expect(head?.code == "ServiceUnavailable")
            #expect(head?.isRetryable == true)
        }
        #expect(server.received.count == 8)
        try await server.shutdown()
    }

    @Test func wholeDownloadCutShortIsRetried() async throws {
        let data = testBytes(count: 300_000)
        let getCount = Mutex(0)
        let server = try await Self.objectServer(data) { request, _ in
            guard request.method == .GET else { return nil }
            let count = getCount.withLock {
                $0 += 1
                return $0
            }
            return count == 1
                ? .truncate(
                    status: .ok, headers: [("ETag", "\"etag-1\"")], announced: data.count,
                    body: ByteBuffer(bytes: data.prefix(100_000))) : nil
        }
        try await withHTTPClient { httpClient in
            try await withTemporaryDirectory { directory in
                let s3 = try makeS3(httpClient, server)
                try await s3.getObject(bucket: "b", key: "k", to: "\(directory)/f")
                #expect(try Data(contentsOf: URL(fileURLWithPath: "\(directory)/f")) == data)
            }
        }
        #expect(getCount.withLock { $0 } == 2)
        try await server.shutdown()
    }

    /// A range broken off (by RST, or by a clean close short of its length) is resumed after the
    /// bytes that did arrive. After a clean close all 200,000 bytes were received, so the resume
    /// point is exact; an RST may drop some in flight.
    @Test(arguments: [true, false])
    func rangeBrokenMidBodyResumesWhereItStopped(reset: Bool) async throws {
        let data = testBytes(count: 3 << 20)  // 12 ranges of 256 KiB
        let resets = Mutex(0)
        let server = try await Self.objectServer(data) { request, _ in
            // Reset the connection of the range that starts at 1 MiB, once, after 200,000 bytes... more than 1 write of 64 KiB.
            guard request.headers.first(name: "Range") == "bytes=1048576-1310719" else { return nil }
            let first = resets.withLock {
                $0 += 1
                return $0 == 1
            }
            guard first else { return nil }
            let headers = [("Content-Range", "bytes 1048576-1310719/\(data.count)"), ("ETag", "\"etag-1\"")]
            let partial = ByteBuffer(bytes: data[1_048_576..<(1_048_576 + 200_000)])
            return reset
                ? .reset(status: .partialContent, headers: headers, announced: 262_144, body: partial)
                : .truncate(status: .partialContent, headers: headers, announced: 262_144, body: partial)
        }
        try await withHTTPClient { httpClient in
            try await withTemporaryDirectory { directory in
                let s3 = try makeS3(httpClient, server)
                try await s3.getObject(bucket: "b", key: "k", to: "\(directory)/f")
                #expect(try Data(contentsOf: URL(fileURLWithPath: "\(directory)/f")) == data)
            }
        }
        let ranges = server.received.compactMap { $0.headers.first(name: "Range") }
        #expect(ranges.count == 13)
        // The retry asks for the rest of the range only (or, when nothing was flushed yet, all of it).
        let retried = ranges.filter { $0.hasSuffix("-1310719") }
        #expect(retried.count == 2)
        let resumedAt = retried.last.flatMap { Int($0.dropFirst("bytes=".count).split(separator: "-")[0]) } ?? 0
        if reset {
            #expect(resumedAt >= 1_048_576 && resumedAt <= 1_048_576 + 200_000)
        } else {
            #expect(resumedAt == 1_048_576 + 200_000)
        }
        #expect(server.received.allSatisfy { $0.method == .HEAD || $0.headers.first(name: "If-Match") == "\"etag-1\"" })
        #expect(server.received.filter { $0.method == .GET }.allSatisfy { $0.uri.contains("versionId=v1") })
        try await server.shutdown()
    }

    @Test func persistentTruncationFailsAndLeavesNoFile() async throws {
        let data = testBytes(count: 3 << 20)
        let server = try await Self.objectServer(data) { request, _ in
            guard let range = request.headers.first(name: "Range"), range.hasPrefix("bytes=2") else { return nil }
            return .truncate(
                status: .partialContent, headers: [("Content-Range", "bytes \(range.dropFirst(6))/\(data.count)")],
                announced: 262_144, body: ByteBuffer(bytes: Data(count: 10)))
        }
        try await withHTTPClient { httpClient in
            try await withTemporaryDirectory { directory in
                let s3 = try makeS3(httpClient, server)
                let file = "\(directory)/f"
                await #expect(throws: (any Error).self) { try await s3.getObject(bucket: "b", key: "k", to: file) }
                #expect(!FileManager.default.fileExists(atPath: file))
            }
        }
        try await server.shutdown()
    }

    @Test func shortBodyWithoutCloseIsDetectedByLength() async throws {
        // Content-Length says 1000 but the server sends 600 and then closes cleanly.
        let server = try await TestHTTPServer { request, _ in
            if request.method == .HEAD {
                return .respond(status: .ok, headers: [("ETag", "\"e\""), ("Content-Length", "1000")], body: ByteBuffer())
            }
            return .truncate(status: .ok, headers: [("ETag", "\"e\"")], announced: 1000, body: ByteBuffer(bytes: Data(count: 600)))
        }
        try await withHTTPClient { httpClient in
            try await withTemporaryDirectory { directory in
                let s3 = try makeS3(httpClient, server)
                let file = "\(directory)/f"
                await #expect(throws: (any Error).self) { try await s3.getObject(bucket: "b", key: "k", to: file) }
                #expect(!FileManager.default.fileExists(atPath: file))
                let inMemory = await #expect(throws: (any Error).self) { try await s3.getObject(bucket: "b", key: "k", ifNoneMatch: nil) }
                #expect(inMemory != nil)
            }
        }
        #expect(server.received.filter { $0.method == .GET }.count == 8)  // 4 attempts each
        try await server.shutdown()
    }

    @Test func checksumMismatchIsAnErrorNotAFile() async throws {
        let data = testBytes(count: 4096)
        var crc = ChecksumProbe.crc32(data)
        let good = crc
        crc = "AAAAAA=="
        let server = try await Self.objectServer(data, checksum: crc)
        try await withHTTPClient { httpClient in
            try await withTemporaryDirectory { directory in
                let s3 = try makeS3(httpClient, server)
                let file = "\(directory)/f"
                let error = await #expect(throws: AWSClientError.self) { try await s3.getObject(bucket: "b", key: "k", to: file) }
                #expect(error?.isChecksumMismatch == true)
                #expect(!FileManager.default.fileExists(atPath: file))
            }
        }
        try await server.shutdown()
        // And the right checksum passes.
        let goodServer = try await Self.objectServer(data, checksum: good)
        try await withHTTPClient { httpClient in
            try await withTemporaryDirectory { directory in
                let s3 = try makeS3(httpClient, goodServer)
                let metadata = try await s3.getObject(bucket: "b", key: "k", to: "\(directory)/f")
                #expect(try Data(contentsOf: URL(fileURLWithPath: "\(directory)/f")) == data)
                #expect(metadata.eTag == "etag-1")
            }
        }
        try await goodServer.shutdown()
    }

    @Test func rangedDownloadIsCheckedAgainstTheFullObjectChecksum() async throws {
        let data = testBytes(count: 2 << 20)  // 8 ranges
        for (announced, shouldPass) in [(ChecksumProbe.crc32(data), true), ("AAAAAA==", false)] {
            let server = try await Self.objectServer(data, headChecksum: announced)
            try await withHTTPClient { httpClient in
                try await withTemporaryDirectory { directory in
                    let s3 = try makeS3(httpClient, server)
                    let file = "\(directory)/f"
                    if shouldPass {
                        let metadata = try await s3.getObject(bucket: "b", key: "k", to: file)
                        #expect(metadata.checksum == S3Checksum(algorithm: .crc32, value: announced))
                        #expect(try Data(contentsOf: URL(fileURLWithPath: file)) == data)
                    } else {
                        let error = await #expect(throws: AWSClientError.self) { try await s3.getObject(bucket: "b", key: "k", to: file) }
                        #expect(error?.isChecksumMismatch == true)
                        #expect(!FileManager.default.fileExists(atPath: file))
                    }
                }
            }
            // A mismatch found after the last range restarts the download, within the retry policy.
            let ranges = server.received.filter { $0.headers.contains(name: "Range") }.count
            #expect(ranges == (shouldPass ? 8 : 8 * Self.fastRetries.maxAttempts))
            try await server.shutdown()
        }
    }

    @Test func eventBridgePartialFailureIsAnError() async throws {
        let server = try await TestHTTPServer { request, index in
            let entries = (try? JSONSerialization.jsonObject(with: Data(buffer: request.body)) as? [String: Any])?["Entries"] as? [Any] ?? []
            // First call: entry 1 throttled (retryable), entry 2 invalid (not retryable). Later calls: all accepted.
            var results: [[String: String]] = []
            for position in entries.indices {
                if index == 0 && position == 1 {
                    results.append(["ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"])
                } else if index == 0 && position == 2 {
                    results.append(["ErrorCode": "ValidationException", "ErrorMessage": "bad detail"])
                } else {
                    results.append(["EventId": "id-\(index)-\(position)"])
                }
            }
            let failed = results.filter { $0["ErrorCode"] != nil }.count
            let body = try! JSONSerialization.data(withJSONObject: ["FailedEntryCount": failed, "Entries": results])
            return .respond(status: .ok, headers: [("Content-Type", "application/x-amz-json-1.1")], body: ByteBuffer(bytes: body))
        }
        try await withHTTPClient { httpClient in
            let settings = try AWSSettings(environment: [
                "AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "S",
                "AWS_ENDPOINT_URL_EVENTBRIDGE": server.endpoint,
            ])
            let client = EventBridgeClient(
                settings: settings, credentialsProvider: settings.makeCredentialsProvider(httpClient: httpClient),
                httpClient: httpClient, retryPolicy: Self.fastRetries)
            let entries = (0..<4).map { EventBridgeEntry(eventBusName: "bus", source: "s", detailType: "d", detail: "{\"n\":\($0)}") }
            let error = await #expect(throws: EventBridgePutEventsError.self) { try await client.putEvents(entries) }
            #expect(error?.failures == [.init(index: 2, errorCode: "ValidationException", errorMessage: "bad detail")])
            #expect(error?.eventIDs == ["id-0-0", "id-1-0", nil, "id-0-3"])
        }
        #expect(server.received.count == 2)
        #expect(server.received.allSatisfy { $0.headers.first(name: "X-Amz-Target") == "AWSEvents.PutEvents" })
        try await server.shutdown()
    }

    @Test func sqsBatchPartialFailureNamesTheHandles() async throws {
        let server = try await TestHTTPServer { request, _ in
            let body =
                #"{"Successful":[{"Id":"m0"}],"Failed":[{"Id":"m1","Code":"ReceiptHandleIsInvalid","Message":"bad handle","SenderFault":true}]}"#
            return .respond(status: .ok, headers: [("Content-Type", "application/x-amz-json-1.0")], body: ByteBuffer(string: body))
        }
        try await withHTTPClient { httpClient in
            let settings = try AWSSettings(environment: [
                "AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "S",
                "AWS_ENDPOINT_URL_SQS": server.endpoint,
            ])
            let sqs = SQSClient(
                settings: settings, credentialsProvider: settings.makeCredentialsProvider(httpClient: httpClient), httpClient: httpClient)
            let error = await #expect(throws: SQSBatchError.self) { try await sqs.deleteMessageBatch(queueURL: "q", receiptHandles: ["h0", "h1"]) }
            #expect(error?.failures == [.init(receiptHandle: "h1", code: "ReceiptHandleIsInvalid", message: "bad handle", senderFault: true)])
        }
        let request = try #require(server.received.first)
        #expect(request.headers.first(name: "X-Amz-Target") == "AmazonSQS.DeleteMessageBatch")
        #expect(request.headers.first(name: "Content-Type") == "application/x-amz-json-1.0")
        try await server.shutdown()
    }

    @Test func requestsAreSignedWithContainerCredentials() async throws {
        let server = try await TestHTTPServer { request, _ in
            if request.uri == "/creds" {
                let body = #"{"AccessKeyId":"ASIACONTAINER","SecretAccessKey":"s","Token":"session-token","Expiration":"2099-01-01T00:00:00Z"}"#
                return .respond(status: .ok, headers: [], body: ByteBuffer(string: body))
            }
            return .respond(status: .ok, headers: [("ETag", "\"e\""), ("Content-Length", "3")], body: ByteBuffer())
        }
        try await withHTTPClient { httpClient in
            let settings = try AWSSettings(environment: [
                "AWS_REGION": "eu-west-1", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "\(server.endpoint)/creds",
                "AWS_ENDPOINT_URL": server.endpoint,
            ])
            let s3 = S3Client(
                settings: settings, credentialsProvider: settings.makeCredentialsProvider(httpClient: httpClient), httpClient: httpClient)
            #expect(try await s3.headObject(bucket: "b", key: "a b").size == 3)
        }
        let head = try #require(server.received.last)
        #expect(head.uri == "/b/a%20b")
        #expect(head.headers.first(name: "x-amz-security-token") == "session-token")
        #expect(head.headers.first(name: "x-amz-content-sha256") == SigV4Signer.emptyPayloadHash)
        let authorization = head.headers.first(name: "Authorization") ?? ""
        #expect(authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=ASIACONTAINER/"))
        #expect(authorization.contains("/eu-west-1/s3/aws4_request"))
        #expect(authorization.contains("x-amz-security-token"))
        try await server.shutdown()
    }

    @Test func jsonErrorsAreDecoded() async throws {
        let server = try await TestHTTPServer { _, _ in
            .respond(
                status: .badRequest, headers: [("x-amzn-RequestId", "JSON-REQ"), ("Content-Type", "application/x-amz-json-1.0")],
                body: ByteBuffer(string: #"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#))
        }
        try await withHTTPClient { httpClient in
            let settings = try AWSSettings(environment: [
                "AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "S",
                "AWS_ENDPOINT_URL_SQS": server.endpoint,
            ])
            let sqs = SQSClient(
                settings: settings, credentialsProvider: settings.makeCredentialsProvider(httpClient: httpClient), httpClient: httpClient)
            let error = await #expect(throws: AWSError.self) { try await sqs.receiveMessages(queueURL: "q", waitTimeSeconds: 0) }
            #expect(
                error == AWSError(code: "QueueDoesNotExist", message: "The specified queue does not exist.", requestID: "JSON-REQ", statusCode: 400))
        }
        #expect(server.received.count == 1)  // a 400 is not retried
        try await server.shutdown()
    }
}

/// CRC-32 computed bit by bit, independently of the client's table-driven code.
enum ChecksumProbe {
    static func crc32(_ data: Data) -> String {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        crc = ~crc
        return withUnsafeBytes(of: crc.bigEndian) { Data($0).base64EncodedString() }
    }
}
