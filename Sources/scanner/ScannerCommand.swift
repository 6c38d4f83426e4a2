import AWSClients
import ArgumentParser
import Environment
import Foundation
import Lambda
import Logging
import NIOCore
import NIOFoundationCompat
import Observability
import ScannerCore
import ServiceLifecycle

@main
struct ScannerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scanner",
        abstract: "Scans S3 objects and local files for malware with an in-process ClamAV engine.",
        discussion: """
            With no subcommand inside AWS Lambda (AWS_LAMBDA_RUNTIME_API set), serves invocations. \
            Configuration comes from the environment (DEFINITIONS_BUCKET, EVENT_BUS_NAME, ...; see the README).
            """,
        subcommands: [ScanCommand.self, InvokeCommand.self, WorkerCommand.self, EnqueueCommand.self, CheckConfigCommand.self]
    )

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard LambdaRuntime.isInsideLambda(environment) else {
            throw ValidationError("AWS_LAMBDA_RUNTIME_API is not set: outside Lambda, use a subcommand (scan, invoke, worker)")
        }
        let logger = try StartUp.logger(environment)
        let runtime = try LambdaRuntime(
            environment: environment, logger: logger,
            start: { logger in
                let service = try ScannerService(environment: environment, logger: logger, emitsMetrics: true)
                // Load the definitions during the init phase, so that the first invocation is fast
                // and a missing database shows in the logs at once (scans would end in ERROR).
                _ = await service.definitions.current()
                return service
            },
            handler: { service in
                { event, context in
                    var logger = context.logger
                    if let traceID = context.traceID { logger[metadataKey: "traceID"] = "\(traceID)" }
                    logger[metadataKey: "deadline"] = "\(context.deadline.formatted(.iso8601))"
                    let deadline = ContinuousClock.now + context.remainingTime()
                    let report = try await service.handle(Data(buffer: event), logger: logger, deadline: deadline)
                    return ByteBuffer(data: try report.lambdaResponse())
                }
            },
            shutdown: { service in try await service.shutdown() })
        try await ServiceGroup(services: [runtime], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
    }
}

/// `scanner invoke --event FILE`: one Lambda event against the configured AWS endpoints.
struct InvokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "invoke",
        abstract: "Handle one Lambda event (any accepted input shape) and print the results as JSON.",
        discussion: "Exit status: 0 when every record succeeded, 1 when any failed (Lambda would retry it)."
    )

    @Option(name: .long, help: ArgumentHelp("The event file, or - for standard input.", valueName: "FILE"))
    var event: String

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let logger = try StartUp.logger(environment)
        let payload: Data
        do {
            payload = event == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: event))
        } catch {
            throw ValidationError("cannot read the event file \(event): \(error.localizedDescription)")
        }
        let service = try StartUp.service { try ScannerService(environment: environment, logger: logger, emitsMetrics: false) }
        let report: InvocationReport
        var failed = false
        do {
            report = try await service.handle(payload)
            failed = report.failed
        } catch let error as InvocationFailed {
            report = error.report
            failed = true
        } catch {
            try await service.shutdown()
            FileHandle.standardError.write(Data("scanner: \(error)\n".utf8))
            throw ExitCode(1)
        }
        try await service.shutdown()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(report), as: UTF8.self))
        if failed { throw ExitCode(1) }
    }
}

/// `scanner worker --queue-url URL`: poll an SQS queue until SIGTERM.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Poll an SQS queue of S3 notifications until SIGTERM or SIGINT, then finish what is in flight."
    )

    @Option(name: .long, help: "The queue URL.")
    var queueURL: String

    @Option(name: .long, help: "How many messages are scanned at once (default: SCAN_CONCURRENCY).")
    var concurrency: Int?

    @Option(name: .long, help: "Seconds a received message stays invisible; extended while it is scanned.")
    var visibilityTimeout: Int = 60

    @Option(
        name: .long,
        help: ArgumentHelp(
            "For a queue without a redrive policy: where a message goes after --max-receives failed receives.", valueName: "URL"
        ))
    var deadLetterQueueURL: String?

    @Option(name: .long, help: "Failed receives before the worker moves a message to --dead-letter-queue-url.")
    var maxReceives: Int = 5

    func validate() throws {
        if let concurrency, concurrency <= 0 { throw ValidationError("--concurrency must be positive, got \(concurrency)") }
        guard maxReceives > 0 else { throw ValidationError("--max-receives must be positive, got \(maxReceives)") }
        guard (6...43_200).contains(visibilityTimeout) else {
            throw ValidationError("--visibility-timeout must be between 6 and 43200 seconds, got \(visibilityTimeout)")
        }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let logger = try StartUp.logger(environment)
        let service = try StartUp.service { try ScannerService(environment: environment, logger: logger, emitsMetrics: true) }
        // The service is closed however the worker ends (its HTTP client, its private folder).
        var failure: (any Error)?
        do {
            try await work(service, logger: logger)
        } catch {
            failure = error
        }
        try await service.shutdown()
        if let failure { throw failure }
    }

    private func work(_ service: ScannerService, logger: Logger) async throws {
        // A message that keeps failing must end somewhere: in the queue's dead-letter queue,
        // or in the one given here. Without either it would be retried forever.
        var deadLettering: SQSWorker.DeadLettering?
        if try await !SQSWorker.hasRedrivePolicy(queueURL: queueURL, sqs: service.sqs) {
            guard let deadLetterQueueURL else {
                FileHandle.standardError.write(
                    Data(
                        "scanner: \(queueURL) has no redrive policy: give --dead-letter-queue-url (or set one), or a message that keeps failing would be retried forever\n"
                            .utf8
                    ))
                throw ExitCode(2)
            }
            deadLettering = SQSWorker.DeadLettering(queueURL: deadLetterQueueURL, maxReceives: maxReceives)
        }
        _ = await service.definitions.current()
        let worker = SQSWorker(
            processor: service.processor, sqs: service.sqs, queueURL: queueURL,
            concurrency: concurrency ?? service.configuration.scanConcurrency, visibilityTimeout: visibilityTimeout,
            deadLettering: deadLettering, logger: logger
        )
        // SIGTERM (ECS stopping the task) and SIGINT stop the polling; the scans in flight finish.
        try await ServiceGroup(services: [worker], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
    }
}

/// Start-up shared by the commands: a configuration error ends the process with status 2 and
/// a message naming the variable.
enum StartUp {
    /// JSON log lines on standard error at `LOG_LEVEL`.
    static func logger(_ environment: [String: String]) throws -> Logger {
        try configuration { try LoggingConfiguration(EnvironmentReader(environment)) }.bootstrap(label: "scanner")
    }

    /// Builds the service.
    static func service(_ make: () throws -> ScannerService) throws -> ScannerService {
        try configuration(make)
    }

    static func configuration<T>(_ read: () throws -> T) throws -> T {
        do {
            return try read()
        } catch {
            FileHandle.standardError.write(Data("scanner: configuration: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}

/// `scanner check-config`: the configuration start-up would read, or the variable at fault.
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Read the configuration from the environment as start-up does and print it as JSON.",
        discussion: "Exit status: 0 when it is valid, 2 with a message naming the variable when it is not."
    )

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        let configuration = try StartUp.configuration {
            _ = try LoggingConfiguration(EnvironmentReader(environment))
            _ = try AWSSettings(environment: environment)
            return try ScannerConfiguration(environment: environment)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(configuration), as: UTF8.self))
    }
}
