import AWSClients
import ArgumentParser
import AsyncHTTPClient
import Foundation
import LambdaTesting
import Logging

/// `scanner-bench lambda-poller`: Lambda's SQS event source in miniature, for bench/burst.sh.
/// One `scanner` in Lambda mode behind the test Runtime API server (one instance, one
/// invocation at a time, as Lambda runs it) is fed batches received from the queue; a batch's
/// messages are deleted unless the answer names them in `batchItemFailures`, and a failed
/// invocation deletes none (they come back after their visibility timeout, as in Lambda).
/// Ends when the queue holds nothing, visible or in flight, and prints what it did as JSON.
struct LambdaPoller: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lambda-poller", abstract: "Drain an SQS queue through the scanner in Lambda mode, in batches (see bench/burst.sh).")

    @Option(help: "The queue URL.")
    var queueURL: String

    @Option(help: ArgumentHelp("The scanner executable.", valueName: "PATH"))
    var scanner: String

    @Option(help: "Messages per invocation (the event source's batch size).")
    var batchSize: Int = 10

    @Option(help: "Seconds a received batch stays invisible (the function's timeout, as Lambda sets it).")
    var visibilityTimeout: Int = 300

    @Option(help: "Seconds before giving up.")
    var timeout: Int = 3600

    @Option(help: ArgumentHelp("AWS_ENDPOINT_URL for the function only (a fault proxy); the poller talks to SQS directly.", valueName: "URL"))
    var functionEndpoint: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let logger = Logger(label: "lambda-poller")
        let settings = try AWSSettings(environment: environment)
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .forAWSClients())
        let sqs = SQSClient(
            settings: settings, credentialsProvider: settings.makeCredentialsProvider(httpClient: httpClient, logger: logger),
            httpClient: httpClient, logger: logger)
        let server = try await RuntimeAPIServer.start()
        let function = Process()
        function.executableURL = URL(fileURLWithPath: scanner)
        var functionEnvironment = environment.merging(
            ["AWS_LAMBDA_RUNTIME_API": server.endpoint, "AWS_LAMBDA_FUNCTION_NAME": "burst-scanner", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "3008"]
        ) { _, new in new }
        if let functionEndpoint { functionEnvironment["AWS_ENDPOINT_URL"] = functionEndpoint }
        function.environment = functionEnvironment
        try function.run()

        let queueARN = "arn:aws:sqs:\(settings.region):123456789012:\(URL(string: queueURL)?.lastPathComponent ?? "queue")"
        var figures = (invocations: 0, messages: 0, deleted: 0, batchItemFailures: 0, failedInvocations: 0)
        let started = ContinuousClock.now
        do {
            while ContinuousClock.now - started < .seconds(timeout) {
                let batch = try await sqs.receiveMessages(
                    queueURL: queueURL, maxMessages: batchSize, waitTimeSeconds: 1, visibilityTimeout: visibilityTimeout)
                if batch.isEmpty {
                    let depth = try await sqs.queueAttributes(
                        queueURL: queueURL, names: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
                    if depth["ApproximateNumberOfMessages"] == "0" && depth["ApproximateNumberOfMessagesNotVisible"] == "0" { break }
                    continue
                }
                let records: [[String: Any]] = batch.map { message in
                    [
                        "messageId": message.messageID, "receiptHandle": message.receiptHandle, "body": message.body,
                        "attributes": message.attributes, "messageAttributes": [String: Any](), "eventSource": "aws:sqs",
                        "eventSourceARN": queueARN, "awsRegion": settings.region,
                    ]
                }
                let payload = try JSONSerialization.data(withJSONObject: ["Records": records])
                let requestID = server.enqueue(.init(payload: Array(payload), deadline: Date().addingTimeInterval(Double(visibilityTimeout))))
                figures.invocations += 1
                figures.messages += batch.count
                guard case .response(let body) = try await server.result(for: requestID) else {
                    figures.failedInvocations += 1
                    continue
                }
                let answer = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
                let failures = Set((answer?["batchItemFailures"] as? [[String: String]] ?? []).compactMap { $0["itemIdentifier"] })
                let done = batch.filter { !failures.contains($0.messageID) }
                figures.batchItemFailures += failures.count
                if !done.isEmpty { try await sqs.deleteMessageBatch(queueURL: queueURL, receiptHandles: done.map(\.receiptHandle)) }
                figures.deleted += done.count
            }
        } catch {
            function.terminate()
            function.waitUntilExit()
            try? await server.shutdown()
            try? await httpClient.shutdown()
            throw error
        }
        let seconds = (ContinuousClock.now - started) / .seconds(1)
        function.terminate()
        function.waitUntilExit()
        try await server.shutdown()
        try await httpClient.shutdown()
        let output: [String: Any] = [
            "invocations": figures.invocations, "messages": figures.messages, "deleted": figures.deleted,
            "batchItemFailures": figures.batchItemFailures, "failedInvocations": figures.failedInvocations,
            "seconds": seconds, "violations": server.violations.count,
        ]
        print(String(decoding: try JSONSerialization.data(withJSONObject: output, options: [.sortedKeys]), as: UTF8.self))
    }
}
