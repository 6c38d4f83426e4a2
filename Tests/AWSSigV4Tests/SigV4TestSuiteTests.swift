import AWSSigV4
import Foundation
import Testing

/// AWS's published Signature Version 4 test suite (header-signing cases), from a fixture.
@Suite struct SigV4TestSuiteTests {
    struct Fixture: Decodable {
        struct Case: Decodable, CustomTestStringConvertible {
            var name: String
            var method: String
            var path: String
            var query: String
            var headers: [[String]]
            var sessionToken: String?
            var canonicalRequest: String?
            var authorization: String
            var testDescription: String { name }
        }
        var cases: [Case]
    }

    static let cases: [Fixture.Case] = {
        let url = Bundle.module.url(forResource: "sigv4-test-suite", withExtension: "json", subdirectory: "Fixtures")!
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url)).cases
    }()

    /// 2015-08-30T12:36:00Z, the date of every case in the suite.
    static let date = Date(timeIntervalSince1970: 1_440_938_160)

    @Test(arguments: cases)
    func signsLikeTheTestSuite(_ testCase: Fixture.Case) {
        let signer = SigV4Signer(
            credentials: AWSCredentials(
                accessKeyID: "AKIDEXAMPLE",
                secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                sessionToken: testCase.sessionToken
            ),
            region: "us-east-1",
            service: "service"
        )
        let signed = signer.sign(
            method: testCase.method,
            host: "example.amazonaws.com",
            path: testCase.path,
            query: testCase.query,
            headers: testCase.headers.map { (name: $0[0], value: $0[1]) },
            payloadHash: SigV4Signer.emptyPayloadHash,
            date: Self.date
        )
        if let expected = testCase.canonicalRequest {
            #expect(signed.canonicalRequest == expected)
        }
        #expect(signed.authorization == testCase.authorization)
        if testCase.sessionToken != nil {
            #expect(signed.headers.contains { $0.name == "x-amz-security-token" && $0.value == testCase.sessionToken })
        }
    }

    @Test func signingDateIsTheInjectedOne() {
        let signer = SigV4Signer(credentials: AWSCredentials(accessKeyID: "A", secretAccessKey: "B"), region: "eu-west-1", service: "sqs")
        let signed = signer.sign(method: "GET", host: "h", path: "/", payloadHash: SigV4Signer.emptyPayloadHash, date: Date(timeIntervalSince1970: 0))
        #expect(signed.headers.contains { $0.name == "x-amz-date" && $0.value == "19700101T000000Z" })
        #expect(signed.authorization.contains("Credential=A/19700101/eu-west-1/sqs/aws4_request"))
    }

    @Test func encodesOnceForS3AndTwiceForOtherServices() {
        let credentials = AWSCredentials(accessKeyID: "A", secretAccessKey: "B")
        let wirePath = "/bucket/" + SigV4Signer.uriEncode("a b+c%d/ü", encodeSlash: false)
        #expect(wirePath == "/bucket/a%20b%2Bc%25d/%C3%BC")
        let s3 = SigV4Signer(credentials: credentials, region: "us-east-1", service: "s3")
            .sign(method: "GET", host: "h", path: wirePath, payloadHash: SigV4Signer.emptyPayloadHash, date: Date())
        #expect(s3.canonicalRequest.split(separator: "\n")[1] == "/bucket/a%20b%2Bc%25d/%C3%BC")
        let other = SigV4Signer(credentials: credentials, region: "us-east-1", service: "events")
            .sign(method: "GET", host: "h", path: wirePath, payloadHash: SigV4Signer.emptyPayloadHash, date: Date())
        #expect(other.canonicalRequest.split(separator: "\n")[1] == "/bucket/a%2520b%252Bc%2525d/%25C3%25BC")
    }
}

/// The worked examples of "Signature Calculations for the Authorization Header" in the S3
/// documentation (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html).
@Suite struct S3DocumentationExampleTests {
    static let signer = SigV4Signer(
        credentials: AWSCredentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1",
        service: "s3"
    )
    /// 2013-05-24T00:00:00Z.
    static let date = Date(timeIntervalSince1970: 1_369_353_600)
    static let host = "examplebucket.s3.amazonaws.com"

    func sign(
        _ method: String, _ path: String, query: String = "", headers: [(name: String, value: String)] = [],
        payloadHash: String = SigV4Signer.emptyPayloadHash
    ) -> String {
        Self.signer.sign(
            method: method,
            host: Self.host,
            path: path,
            query: query,
            headers: headers + [(name: "x-amz-content-sha256", value: payloadHash)],
            payloadHash: payloadHash,
            date: Self.date
        ).authorization
    }

    @Test func getObject() {
        #expect(
            sign("GET", "/test.txt", headers: [(name: "Range", value: "bytes=0-9")])
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        )
    }

    @Test func putObject() {
        let body = Data("Welcome to Amazon S3.".utf8)
        let hash = SigV4Signer.payloadHash(body)
        #expect(hash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let path = "/" + SigV4Signer.uriEncode("test$file.text", encodeSlash: false)
        #expect(
            sign(
                "PUT", path,
                headers: [
                    (name: "Date", value: "Fri, 24 May 2013 00:00:00 GMT"),
                    (name: "x-amz-storage-class", value: "REDUCED_REDUNDANCY"),
                ], payloadHash: hash)
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        )
    }

    @Test func getBucketLifecycle() {
        #expect(
            sign("GET", "/", query: "lifecycle")
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
        )
    }

    @Test func listObjects() {
        #expect(
            sign("GET", "/", query: "max-keys=2&prefix=J")
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        )
    }
}
