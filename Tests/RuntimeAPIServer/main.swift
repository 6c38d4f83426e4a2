import ArgumentParser
import Foundation
import LambdaTesting

/// The strict test Runtime API server as a process, for tests outside Swift (the container
/// image test): serves one event to a function started with
/// `AWS_LAMBDA_RUNTIME_API=<the printed endpoint>` and writes what the function answered.
@main
struct RuntimeAPIServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runtime-api-server",
        abstract: "Serve one Lambda invocation to a function and write its result as JSON.",
        discussion: """
            Prints the endpoint (127.0.0.1:PORT) on the first line of standard output, then \
            serves EVENT to the first `next` and writes the function's answer to RESULT: \
            {"kind": "response" | "error" | "init-error", "requestID": ..., "errorType": ..., "body": ...}, \
            the body parsed as JSON when it is JSON. Exits 0 then, 1 when nothing arrives within \
            --timeout seconds, 2 when the function broke the Runtime API protocol.
            """
    )

    @Option(help: ArgumentHelp("The event to serve.", valueName: "FILE"))
    var event: String

    @Option(help: ArgumentHelp("Where the function's answer is written.", valueName: "FILE"))
    var result: String

    @Option(help: "Seconds to wait for the answer.")
    var timeout: Double = 120

    func run() async throws {
        let payload = try Data(contentsOf: URL(fileURLWithPath: event))
        let server = try await RuntimeAPIServer.start()
        FileHandle.standardOutput.write(Data("\(server.endpoint)\n".utf8))
        let requestID = server.enqueue(Array(payload))

        enum Answer: Sendable {
            case result(RuntimeAPIServer.InvocationResult)
            case initError(RuntimeAPIServer.InitError)
        }
        let answer: Answer? = try await withThrowingTaskGroup(of: Answer?.self) { group in
            group.addTask { .result(try await server.result(for: requestID)) }
            group.addTask { .initError(try await server.initError()) }
            group.addTask {
                try await Task.sleep(for: .seconds(timeout))
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
        let violations = server.violations
        try await server.shutdown()

        var document: [String: Any] = ["requestID": requestID]
        switch answer {
        case .result(.response(let body)):
            document["kind"] = "response"
            document["body"] = Self.parsed(body)
        case .result(.error(let type, let body)):
            document["kind"] = "error"
            document["errorType"] = type as Any
            document["body"] = Self.parsed(body)
        case .initError(let report):
            document["kind"] = "init-error"
            document["errorType"] = report.type as Any
            document["body"] = report.errorDocument.map { ["errorType": $0.errorType as Any, "errorMessage": $0.errorMessage as Any] } as Any
        case nil:
            FileHandle.standardError.write(Data("runtime-api-server: no answer within \(timeout) s\n".utf8))
            throw ExitCode(1)
        }
        let data = try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes])
        try data.write(to: URL(fileURLWithPath: result))
        if !violations.isEmpty {
            FileHandle.standardError.write(Data("runtime-api-server: protocol violations: \(violations)\n".utf8))
            throw ExitCode(2)
        }
    }

    static func parsed(_ body: [UInt8]) -> Any {
        (try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])) ?? String(decoding: body, as: UTF8.self)
    }
}
