import AWSSigV4
import Foundation
import Testing

/// Signs a set of requests, odd S3 keys included, with our signer and with botocore
/// (through Tests/AWSSigV4Tests/botocore-sigv4.py) and expects the same `Authorization` header.
@Suite struct BotocoreCrossCheckTests {
    struct Sample {
        var service: String
        var method: String
        var host: String
        var path: String
        var query: [(name: String, value: String)]
        var headers: [(name: String, value: String)]
        var body: [UInt8]
        var sessionToken: String?
    }

    static let oddKeys = [
        "plain.txt", "a b c.pdf", "plus+sign", "percent%20literal", "unicode/ü/日本語.txt",
        "reserved !#$&'()*,:;=?@[]", "tilde~and-dash_.", "double//slash", "trailing/", "emoji 🦠.bin",
    ]

    static var samples: [Sample] {
        var samples = oddKeys.map { key in
            Sample(
                service: "s3", method: "GET", host: "127.0.0.1:4566",
                path: "/my-bucket/" + SigV4Signer.uriEncode(key, encodeSlash: false),
                query: [(name: "versionId", value: "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY")],
                headers: [(name: "If-Match", value: "\"abc\""), (name: "Range", value: "bytes=0-1023")],
                body: [], sessionToken: nil)
        }
        samples.append(
            Sample(
                service: "s3", method: "PUT", host: "bucket.s3.eu-west-1.amazonaws.com",
                path: "/" + SigV4Signer.uriEncode("tags on a b+c", encodeSlash: false),
                query: [(name: "tagging", value: "")],
                headers: [(name: "Content-Type", value: "application/xml")],
                body: Array("<Tagging><TagSet></TagSet></Tagging>".utf8), sessionToken: "FQoGZXIvYXdzEXAMPLE//token+/="))
        samples.append(
            Sample(
                service: "s3", method: "GET", host: "s3.amazonaws.com",
                path: "/bucket",
                query: [(name: "list-type", value: "2"), (name: "prefix", value: "a b/ü+"), (name: "continuation-token", value: "1/2+3=")],
                headers: [], body: [], sessionToken: nil))
        samples.append(
            Sample(
                service: "events", method: "POST", host: "events.eu-west-1.amazonaws.com", path: "/",
                query: [],
                headers: [(name: "Content-Type", value: "application/x-amz-json-1.1"), (name: "X-Amz-Target", value: "AWSEvents.PutEvents")],
                body: Array(#"{"Entries":[]}"#.utf8), sessionToken: "token"))
        samples.append(
            Sample(
                service: "sqs", method: "POST", host: "sqs.eu-west-1.amazonaws.com", path: "/",
                query: [],
                headers: [(name: "Content-Type", value: "application/x-amz-json-1.0"), (name: "X-Amz-Target", value: "AmazonSQS.ReceiveMessage")],
                body: Array(#"{"QueueUrl":"https://x/1/q"}"#.utf8), sessionToken: nil))
        samples.append(
            Sample(
                service: "events", method: "GET", host: "example.amazonaws.com",
                path: "/" + SigV4Signer.uriEncode("a b/c+d", encodeSlash: false), query: [], headers: [], body: [], sessionToken: nil))
        return samples
    }

    @Test func agreesWithBotocore() throws {
        let date = Date(timeIntervalSince1970: 1_764_000_000)
        let samples = Self.samples
        var input: [[String: Any]] = []
        var ours: [String] = []
        for sample in samples {
            let credentials = AWSCredentials(
                accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: sample.sessionToken)
            let signer = SigV4Signer(credentials: credentials, region: "eu-west-1", service: sample.service)
            let hash = SigV4Signer.payloadHash(sample.body)
            var headers = sample.headers
            if sample.service == "s3" { headers.append((name: "x-amz-content-sha256", value: hash)) }
            let query = SigV4Signer.queryString(sample.query)
            let signed = signer.sign(
                method: sample.method, host: sample.host, path: sample.path, query: query,
                headers: headers, payloadHash: hash, date: date)
            ours.append(signed.authorization)
            let scheme = sample.host.hasPrefix("127.") ? "http" : "https"
            input.append([
                "service": sample.service, "region": "eu-west-1",
                "accessKeyID": credentials.accessKeyID, "secretAccessKey": credentials.secretAccessKey,
                "sessionToken": sample.sessionToken as Any,
                "method": sample.method,
                "url": "\(scheme)://\(sample.host)\(sample.path)" + (query.isEmpty ? "" : "?\(query)"),
                "headers": sample.headers.map { [$0.name, $0.value] },
                "bodyHex": SigV4Signer.hex(sample.body),
                "date": date.timeIntervalSince1970,
            ])
        }
        let theirs = try Self.runBotocore(input)
        #expect(theirs.count == ours.count)
        for (index, pair) in zip(ours, theirs).enumerated() {
            #expect(pair.0 == pair.1, "sample \(index): \(samples[index].method) \(samples[index].path)")
        }
    }

    static func runBotocore(_ input: [[String: Any]]) throws -> [String] {
        let script = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Tests/AWSSigV4Tests/botocore-sigv4.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path]
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        stdin.fileHandleForWriting.write(try JSONSerialization.data(withJSONObject: input))
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(
            process.terminationStatus == 0, "python3 Tests/AWSSigV4Tests/botocore-sigv4.py failed (is botocore installed? run scripts/setup.sh)")
        let decoded = try #require(try JSONSerialization.jsonObject(with: output) as? [[String: String]])
        return decoded.map { $0["authorization"] ?? "" }
    }
}
