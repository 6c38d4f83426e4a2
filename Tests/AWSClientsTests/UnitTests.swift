import AWSSigV4
import AsyncHTTPClient
import Environment
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

@testable import AWSClients

@Suite struct XMLTests {
    @Test func parsesS3Responses() throws {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <!-- a comment -->
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Name>bucket</Name><IsTruncated>true</IsTruncated>
              <Contents><Key>a &amp; b &lt;c&gt; &#x65E5;&#26412;</Key><Size>12</Size><ETag>&quot;abc&quot;</ETag></Contents>
              <Contents><Key><![CDATA[raw <cdata> & stuff]]></Key><Size>0</Size></Contents>
              <Empty/>
              <NextContinuationToken>tok+/=</NextContinuationToken>
            </ListBucketResult>
            """
        let root = try XMLTree.parse(Array(xml.utf8))
        #expect(root.name == "ListBucketResult")
        #expect(root.all("Contents").map { $0.string("Key") } == ["a & b <c> 日本", "raw <cdata> & stuff"])
        #expect(root.all("Contents").first?.string("ETag") == "\"abc\"")
        #expect(root.child("Empty")?.text == "")
        #expect(root.string("NextContinuationToken") == "tok+/=")
    }

    @Test func rejectsMalformedXML() {
        #expect(throws: AWSClientError.self) { try XMLTree.parse(Array("<a><b></a>".utf8)) }
        #expect(throws: AWSClientError.self) { try XMLTree.parse(Array("<a>".utf8)) }
        #expect(throws: AWSClientError.self) { try XMLTree.parse(Array("no xml".utf8)) }
    }

    @Test func escapesRoundTrip() throws {
        let text = "a & b < c > d \" e ' f ü"
        let root = try XMLTree.parse(Array(XMLTree.element("v", text).utf8))
        #expect(root.text == text)
    }
}

@Suite struct ErrorDecodingTests {
    @Test func s3XMLError() {
        let body = ByteBuffer(
            string:
                "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>a b</Key><RequestId>4442587FB7D0A2F9</RequestId></Error>"
        )
        let error = AWSServiceClient.decodeError(status: .notFound, headers: ["x-amz-request-id": "4442587FB7D0A2F9"], body: body)
        #expect(error == AWSError(code: "NoSuchKey", message: "The specified key does not exist.", requestID: "4442587FB7D0A2F9", statusCode: 404))
        #expect(error.isNotFound)
        #expect(!error.isRetryable)
    }

    @Test func queryProtocolError() {
        let body = ByteBuffer(
            string:
                "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>no</Message></Error><RequestId>R1</RequestId></ErrorResponse>"
        )
        let error = AWSServiceClient.decodeError(status: .forbidden, headers: [:], body: body)
        #expect(error == AWSError(code: "AccessDenied", message: "no", requestID: "R1", statusCode: 403))
        #expect(error.isAccessDenied)
    }

    @Test func jsonErrors() {
        let events = AWSServiceClient.decodeError(
            status: .badRequest, headers: ["x-amzn-RequestId": "E1"],
            body: ByteBuffer(string: #"{"__type":"ResourceNotFoundException","message":"Event bus nope does not exist."}"#))
        #expect(events == AWSError(code: "ResourceNotFoundException", message: "Event bus nope does not exist.", requestID: "E1", statusCode: 400))
        let throttled = AWSServiceClient.decodeError(
            status: .badRequest, headers: [:],
            body: ByteBuffer(string: #"{"__type":"com.amazon.coral.availability#ThrottlingException","Message":"Rate exceeded"}"#))
        #expect(throttled.code == "ThrottlingException")
        #expect(throttled.message == "Rate exceeded")
        #expect(throttled.isRetryable)
    }

    @Test func bodilessStatuses() {
        #expect(AWSServiceClient.decodeError(status: .preconditionFailed, headers: [:], body: ByteBuffer()).isPreconditionFailed)
        #expect(AWSServiceClient.decodeError(status: .notFound, headers: [:], body: ByteBuffer()).code == "NotFound")
        #expect(AWSServiceClient.decodeError(status: .notModified, headers: [:], body: ByteBuffer()).code == "NotModified")
        let raw = AWSServiceClient.decodeError(status: .badGateway, headers: [:], body: ByteBuffer(string: "<html>bad gateway</html>"))
        #expect(raw.statusCode == 502)
        #expect(raw.message == "<html>bad gateway</html>")
        #expect(raw.isRetryable)
    }
}

@Suite struct SettingsTests {
    @Test func lambdaEnvironment() throws {
        let settings = try AWSSettings(environment: [
            "AWS_REGION": "eu-central-1", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "ASIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token",
        ])
        #expect(settings.region == "eu-central-1")
        #expect(
            settings.credentialsSource == .environment(AWSCredentials(accessKeyID: "ASIAEXAMPLE", secretAccessKey: "secret", sessionToken: "token")))
        #expect(settings.s3Endpoint.description == "https://s3.eu-central-1.amazonaws.com")
        #expect(settings.sqsEndpoint.description == "https://sqs.eu-central-1.amazonaws.com")
        #expect(settings.eventBridgeEndpoint.description == "https://events.eu-central-1.amazonaws.com")
        #expect(!settings.s3UsePathStyle)
    }

    @Test func endpointOverridesUsePathStyle() throws {
        let settings = try AWSSettings(environment: [
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_ENDPOINT_URL_SQS": "http://localhost:9324/",
        ])
        #expect(settings.s3Endpoint.description == "http://127.0.0.1:5000")
        #expect(settings.eventBridgeEndpoint.description == "http://127.0.0.1:5000")
        #expect(settings.sqsEndpoint.description == "http://localhost:9324")
        #expect(settings.s3UsePathStyle)
    }

    @Test func containerCredentials() throws {
        let relative = try AWSSettings(environment: ["AWS_REGION": "us-east-1", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc"])
        #expect(
            relative.credentialsSource
                == .container(url: "http://169.254.170.2/v2/credentials/abc", authorizationToken: nil, authorizationTokenFile: nil))
        let full = try AWSSettings(environment: [
            "AWS_REGION": "us-east-1", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:8080/creds",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Bearer x",
        ])
        #expect(full.credentialsSource == .container(url: "http://127.0.0.1:8080/creds", authorizationToken: "Bearer x", authorizationTokenFile: nil))
    }

    @Test(arguments: [
        (["AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"], "AWS_REGION"),
        (["AWS_REGION": "eu west", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"], "AWS_REGION"),
        (["AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "a"], "AWS_SECRET_ACCESS_KEY"),
        (["AWS_REGION": "us-east-1"], "AWS_ACCESS_KEY_ID"),
        (
            ["AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "AWS_ENDPOINT_URL": "localhost:4566"],
            "AWS_ENDPOINT_URL"
        ),
        (
            ["AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "AWS_ENDPOINT_URL_S3": "ftp://x"],
            "AWS_ENDPOINT_URL_S3"
        ),
        (["AWS_REGION": "us-east-1", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://10.0.0.1/creds"], "AWS_CONTAINER_CREDENTIALS_FULL_URI"),
        (["AWS_REGION": "us-east-1", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "v2/x"], "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
    ])
    func errorsNameTheVariable(environment: [String: String], variable: String) {
        #expect(throws: ConfigurationError.self) { try AWSSettings(environment: environment) }
        do {
            _ = try AWSSettings(environment: environment)
        } catch {
            #expect(error.variable == variable)
            #expect(error.description.hasPrefix(variable))
        }
    }
}

@Suite struct BatchingAndRetryTests {
    @Test func eventBridgeBatchesByCountAndSize() {
        let small = (0..<25).map { EventBridgeEntry(eventBusName: nil, source: "s", detailType: "d", detail: "{\"i\":\($0)}") }
        #expect(EventBridgeClient.batches(of: Array(small.indices), entries: small).map(\.count) == [10, 10, 5])
        let big = String(repeating: "x", count: 100 * 1024)
        let large = (0..<5).map { _ in EventBridgeEntry(eventBusName: nil, source: "s", detailType: "d", detail: "{\"x\":\"\(big)\"}") }
        #expect(EventBridgeClient.batches(of: Array(large.indices), entries: large).map(\.count) == [2, 2, 1])
    }

    @Test func backoffIsJitteredAndBounded() {
        let policy = RetryPolicy(maxAttempts: 10, baseDelay: .milliseconds(100), maxDelay: .seconds(2))
        for retry in 1...9 {
            let ceiling = min(Duration.seconds(2), .milliseconds(100) * (1 << (retry - 1)))
            for _ in 0..<50 {
                let delay = policy.delay(beforeRetry: retry)
                #expect(delay >= .zero && delay <= ceiling)
            }
        }
    }

    @Test func retriesStopAtMaxAttempts() async {
        let policy = RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(1))
        let calls = Mutex(0)
        await #expect(throws: AWSError.self) {
            try await policy.run { _ -> Int in
                calls.withLock { $0 += 1 }
                throw AWSError(code: "SlowDown", message: "", requestID: nil, statusCode: 503)
            }
        }
        #expect(calls.withLock { $0 } == 3)
        calls.withLock { $0 = 0 }
        await #expect(throws: AWSError.self) {
            try await policy.run { _ -> Int in
                calls.withLock { $0 += 1 }
                throw AWSError(code: "AccessDenied", message: "", requestID: nil, statusCode: 403)
            }
        }
        #expect(calls.withLock { $0 } == 1)
    }

    @Test func checksums() {
        let data = Data("The quick brown fox jumps over the lazy dog".utf8)
        func compute(_ algorithm: S3Checksum.Algorithm) -> String {
            var computer = ChecksumComputer(algorithm)
            data.withUnsafeBytes { computer.update($0) }
            return computer.finalize()
        }
        // Reference values: zlib.crc32 = 0x414FA339, CRC-32C = 0x22620404.
        #expect(compute(.crc32) == Data([0x41, 0x4F, 0xA3, 0x39]).base64EncodedString())
        #expect(compute(.crc32c) == Data([0x22, 0x62, 0x04, 0x04]).base64EncodedString())
        #expect(compute(.sha256) == "16j7swfXgJRpypq8sAguT41WUeRtPNt2LQLQvzfJ5ZI=")
    }
}

@Suite struct ContainerCredentialsTests {
    @Test func fetchesCachesAndRefreshesBeforeExpiry() async throws {
        let now = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
        let server = try await TestHTTPServer { request, index in
            let expiration = Date(timeIntervalSince1970: 1_800_000_000 + 3600)
            let body = """
                {"AccessKeyId":"ASIA\(index)","SecretAccessKey":"secret\(index)","Token":"token\(index)","Expiration":"\(expiration.ISO8601Format())"}
                """
            return .respond(status: .ok, headers: [("Content-Type", "application/json")], body: ByteBuffer(string: body))
        }
        try await withHTTPClient { httpClient in
            let settings = try AWSSettings(environment: [
                "AWS_REGION": "us-east-1",
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": "\(server.endpoint)/creds",
                "AWS_CONTAINER_AUTHORIZATION_TOKEN": "secret-token",
            ])
            guard case .container(let url, let token, let file) = settings.credentialsSource else {
                Issue.record("expected container credentials")
                return
            }
            let provider = ContainerCredentialsProvider(
                url: url, authorizationToken: token, authorizationTokenFile: file,
                httpClient: httpClient, now: { now.withLock { $0 } })
            async let a = provider.credentials()
            async let b = provider.credentials()
            let (first, second) = try await (a, b)
            #expect(first == second)
            #expect(first.accessKeyID == "ASIA0")
            #expect(first.sessionToken == "token0")
            #expect(try await provider.credentials().accessKeyID == "ASIA0")  // cached
            now.withLock { $0 = $0.addingTimeInterval(3600 - 200) }  // within the 5-minute margin
            #expect(try await provider.credentials().accessKeyID == "ASIA1")
        }
        #expect(server.received.count == 2)
        #expect(server.received.allSatisfy { $0.headers.first(name: "Authorization") == "secret-token" && $0.uri == "/creds" })
        try await server.shutdown()
    }
}
