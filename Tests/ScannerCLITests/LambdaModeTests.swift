import Foundation
import LambdaTesting
import Testing

/// A stack on moto (from scripts/lib/local_stack.py) and the real scanner executable serving the
/// strict in-process Runtime API server.
struct LambdaHarness {
    let endpoint: String
    let prefix: String
    let environment: [String: String]
    let samples: String

    init() throws {
        guard let endpoint = ProcessInfo.processInfo.environment["MOTO_ENDPOINT"] else {
            throw HarnessError("MOTO_ENDPOINT is not set: run scripts/test.sh, which starts moto")
        }
        self.endpoint = endpoint
        prefix = "lambda-" + UUID().uuidString.prefix(8).lowercased()
        var environment: [String: String] = [:]
        for line in try Self.python(["scripts/lib/local_stack.py", endpoint, "setup", prefix]).split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { environment[parts[0]] = parts[1] }
        }
        self.environment = environment
        samples = FileManager.default.temporaryDirectory.appendingPathComponent(prefix).path
        try Self.run(ScanFolder.repositoryRoot.appendingPathComponent("Tests/fixtures/make-test-signatures.sh").path, ["\(samples)/db"])
    }

    func publish(_ database: String) throws {
        try Self.run(
            ScannerProcess.executable.deletingLastPathComponent().appendingPathComponent("definition-updater").path,
            ["publish", "--database", database], environment: environment)
    }

    func upload(_ key: String, _ text: String) throws -> String {
        let path = "\(samples)/\(UUID().uuidString)"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return try Self.python(["scripts/lib/local_stack.py", endpoint, "upload", prefix, key, path]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Uploads a file, with tags (`k=v&k=v`), to another bucket and with a declared content
    /// type when given; returns the version ID.
    func uploadFile(_ key: String, _ path: String, tagging: String = "", bucket: String? = nil, contentType: String? = nil) throws -> String {
        let arguments = ["scripts/lib/local_stack.py", endpoint, "upload", prefix, key, path, tagging, bucket ?? "", contentType ?? ""]
        return try Self.python(arguments).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs a local_stack.py command on this stack and returns its output, trimmed.
    func stack(_ command: String, _ arguments: String...) throws -> String {
        try Self.python(["scripts/lib/local_stack.py", endpoint, command, prefix] + arguments).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Writes `text` to a new file in the samples folder and returns its path.
    func sample(_ text: String) throws -> String {
        let path = "\(samples)/\(UUID().uuidString)"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The scanner's events on the bus so far (waiting `seconds` for more).
    func events(waiting seconds: Int = 2) throws -> [[String: Any]] {
        try Self.python(["scripts/lib/local_stack.py", endpoint, "events", prefix, "\(seconds)"]).split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
    }

    func tags(_ key: String) throws -> [String: String] {
        let json = try Self.python(["scripts/lib/local_stack.py", endpoint, "tags", prefix, key])
        return try JSONDecoder().decode([String: String].self, from: Data(json.utf8))
    }

    /// Starts the scanner in Lambda mode against `server`.
    func startScanner(server: RuntimeAPIServer, overrides: [String: String] = [:], removing: [String] = []) throws -> Process {
        let process = Process()
        process.executableURL = ScannerProcess.executable
        var env = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }.merging(overrides) { _, new in new }
        for name in removing { env[name] = nil }
        env["AWS_LAMBDA_RUNTIME_API"] = server.endpoint
        env["AWS_LAMBDA_FUNCTION_NAME"] = "scanner-test"
        process.environment = env
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    static func s3Event(bucket: String, key: String, versionID: String) -> String {
        s3Event(bucket: bucket, objects: [(key, versionID)])
    }

    /// A direct S3 notification with one record per object.
    static func s3Event(bucket: String, objects: [(key: String, versionID: String)]) -> String {
        let records = objects.map { object in
            let encoded = object.key.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!.replacingOccurrences(of: "%20", with: "+")
            return
                #"{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"\#(bucket)"},"object":{"key":"\#(encoded)","versionId":"\#(object.versionID)"}}}"#
        }
        return #"{"Records":[\#(records.joined(separator: ","))]}"#
    }

    struct HarnessError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = ScanFolder.repositoryRoot
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new } }
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw HarnessError("\(executable) \(arguments) exited with \(process.terminationStatus)") }
        return String(decoding: data, as: UTF8.self)
    }

    static func python(_ arguments: [String]) throws -> String {
        try run("/usr/bin/env", ["python3"] + arguments)
    }
}

func json(_ result: RuntimeAPIServer.InvocationResult) throws -> [String: Any] {
    guard case .response(let bytes) = result else { throw LambdaHarness.HarnessError("expected a response, got \(result)") }
    return try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
}

@Suite("scanner in Lambda mode", .serialized)
struct LambdaModeTests {
    @Test func directS3EventDeletesTheInfectedVersion() async throws {
        let harness = try LambdaHarness()
        try harness.publish("\(harness.samples)/db")
        let eicar = #"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"#
        let version = try harness.upload("in/eicar file.com", eicar)
        let server = try await RuntimeAPIServer.start()
        let scanner = try harness.startScanner(server: server)
        defer {
            scanner.terminate()
            scanner.waitUntilExit()
        }

        let id = server.enqueue(json: LambdaHarness.s3Event(bucket: "\(harness.prefix)-uploads", key: "in/eicar file.com", versionID: version))
        let report = try json(try await server.result(for: id))
        let units = try #require(report["units"] as? [[String: Any]])
        let object = try #require((units.first?["objects"] as? [[String: Any]])?.first)
        #expect(object["verdict"] as? String == "INFECTED")
        #expect(object["action"] as? String == "DELETED")
        #expect(object["versionID"] as? String == version)
        #expect(object["key"] as? String == "in/eicar file.com")
        try await server.shutdown()
        #expect(server.violations.isEmpty, "\(server.violations)")
    }

    @Test func sqsBatchReportsOnlyTheMalformedMessage() async throws {
        let harness = try LambdaHarness()
        try harness.publish("\(harness.samples)/db")
        let version = try harness.upload("ok/clean.txt", "just text\n")
        let server = try await RuntimeAPIServer.start()
        let scanner = try harness.startScanner(server: server)
        defer {
            scanner.terminate()
            scanner.waitUntilExit()
        }

        let notification = LambdaHarness.s3Event(bucket: "\(harness.prefix)-uploads", key: "ok/clean.txt", versionID: version)
        func message(_ id: String, _ body: String) throws -> [String: Any] {
            [
                "messageId": id, "receiptHandle": "rh-\(id)", "body": body, "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:scan", "awsRegion": "us-east-1", "attributes": [:], "messageAttributes": [:],
            ]
        }
        let batch = ["Records": [try message("good", notification), try message("bad", "{\"Records\":[{\"eventName\":\"ObjectCreated:Put\"}]}")]]
        let id = server.enqueue(try JSONSerialization.data(withJSONObject: batch))
        let response = try json(try await server.result(for: id))
        let failures = try #require(response["batchItemFailures"] as? [[String: String]])
        #expect(failures == [["itemIdentifier": "bad"]])
        #expect(try harness.tags("ok/clean.txt")["scan-status"] == "CLEAN")
        try await server.shutdown()
        #expect(server.violations.isEmpty, "\(server.violations)")
    }

    @Test func directEventWithABadRecordFailsTheInvocation() async throws {
        let harness = try LambdaHarness()
        try harness.publish("\(harness.samples)/db")
        let server = try await RuntimeAPIServer.start()
        let scanner = try harness.startScanner(server: server)
        defer {
            scanner.terminate()
            scanner.waitUntilExit()
        }
        let id = server.enqueue(json: #"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"}}}]}"#)
        guard case .error(let type, _) = try await server.result(for: id) else {
            Issue.record("expected an invocation error")
            return
        }
        #expect(type == "InvocationFailed")
        // The loop survives the failure and serves the next invocation.
        let next = server.enqueue(json: #"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}"#)
        #expect(try json(try await server.result(for: next))["units"] != nil)
        try await server.shutdown()
    }

    @Test func startUpFailureIsReportedAsAnInitError() async throws {
        let harness = try LambdaHarness()
        let server = try await RuntimeAPIServer.start()
        let scanner = try harness.startScanner(server: server, removing: ["DEFINITIONS_BUCKET"])
        let report = try await server.initError()
        scanner.waitUntilExit()
        #expect(scanner.terminationStatus != 0)
        #expect(report.errorDocument?.errorMessage?.contains("DEFINITIONS_BUCKET") == true, "\(String(describing: report.errorDocument))")
        try await server.shutdown()
    }

    @Test func newDefinitionsArePickedUpWithoutARestart() async throws {
        let harness = try LambdaHarness()
        try harness.publish("\(harness.samples)/db")
        let marker = "A-THREAT-ONLY-THE-NEW-DEFINITIONS-KNOW"
        let first = try harness.upload("new/sample.txt", "payload \(marker)\n")
        let server = try await RuntimeAPIServer.start()
        let scanner = try harness.startScanner(server: server, overrides: ["DEFINITIONS_CHECK_INTERVAL": "0"])
        defer {
            scanner.terminate()
            scanner.waitUntilExit()
        }
        func verdict(_ version: String) async throws -> String? {
            let id = server.enqueue(json: LambdaHarness.s3Event(bucket: "\(harness.prefix)-uploads", key: "new/sample.txt", versionID: version))
            let units = try json(try await server.result(for: id))["units"] as? [[String: Any]]
            return (units?.first?["objects"] as? [[String: Any]])?.first?["verdict"] as? String
        }
        #expect(try await verdict(first) == "CLEAN")

        let hex = marker.utf8.map { String(format: "%02x", $0) }.joined()
        try Data("Test.NewThreat:0:*:\(hex)\n".utf8).write(to: URL(fileURLWithPath: "\(harness.samples)/db/new.ndb"))
        try harness.publish("\(harness.samples)/db")
        let second = try harness.upload("new/sample.txt", "payload \(marker)\n")
        #expect(try await verdict(second) == "INFECTED")
        #expect(scanner.isRunning, "the same process serves both invocations")
        try await server.shutdown()
    }
}
