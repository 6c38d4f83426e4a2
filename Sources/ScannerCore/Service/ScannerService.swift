import AWSClients
import AsyncHTTPClient
import BusEvents
import ClamAV
import Foundation
import Logging

/// The scanner's parts wired together from the environment: one HTTP client, the AWS
/// clients, the definitions provider, the workflow and the event processor.
public struct ScannerService: Sendable {
    /// The configuration read at start-up.
    public let configuration: ScannerConfiguration
    /// Runs events through the workflow.
    public let processor: InvocationProcessor
    /// Keeps the engine in step with the definitions bucket.
    public let definitions: DefinitionsProvider
    /// The SQS client, for the worker and `scanner enqueue`.
    public let sqs: SQSClient
    /// The S3 client.
    public let store: S3Client
    /// The shared HTTP client; ``shutdown()`` closes it.
    let httpClient: HTTPClient
    public let logger: Logger

    /// The folder private to this process: downloads, database folders, unpacked members.
    public let workDirectory: String

    /// Folders in the configured work directory are named `s3-clamav-scanner-PID-XXXXXX`.
    static let folderPrefix = "s3-clamav-scanner"

    /// Reads the configuration and builds every part; throws an error naming the variable
    /// when one is missing or malformed. Removes what a killed process left in the work
    /// directory, then makes a private folder of its own there. `emitsMetrics` writes EMF
    /// lines on standard output (Lambda and the worker; not the local CLI).
    public init(environment: [String: String], logger: Logger, emitsMetrics: Bool) throws {
        let configuration = try ScannerConfiguration(environment: environment)
        let settings = try AWSSettings(environment: environment)
        let swept = PrivateDirectory.sweep(in: configuration.workDirectory, prefix: Self.folderPrefix)
        if !swept.isEmpty {
            logger.notice("removed what an earlier process left in the work directory", metadata: ["folders": "\(swept)"])
        }
        let workDirectory = try PrivateDirectory.create(
            in: configuration.workDirectory, prefix: PrivateDirectory.processPrefix(Self.folderPrefix)
        )
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .forAWSClients())
        let credentials = settings.makeCredentialsProvider(httpClient: httpClient, logger: logger)
        let store = S3Client(
            settings: settings, credentialsProvider: credentials, httpClient: httpClient,
            transferOptions: S3TransferOptions(copyThreshold: configuration.multipartCopyThreshold), logger: logger)
        let eventBridge = EventBridgeClient(settings: settings, credentialsProvider: credentials, httpClient: httpClient, logger: logger)
        let events = EventBusPublisher(busName: configuration.eventBusName, publisher: eventBridge, logger: logger)
        let scanMetrics = ScanMetrics(emitter: emitsMetrics ? ScanMetrics.emitter(service: configuration.serviceName) : nil)
        let definitions = DefinitionsProvider(
            configuration: configuration, workDirectory: workDirectory, store: store, events: events, metrics: scanMetrics, logger: logger
        )
        let sqs = SQSClient(settings: settings, credentialsProvider: credentials, httpClient: httpClient, logger: logger)
        let workflow = ObjectScanWorkflow(
            configuration: configuration, workDirectory: workDirectory, store: store, definitions: definitions,
            events: events, metrics: scanMetrics, logger: logger, sender: sqs
        )
        self.configuration = configuration
        self.workDirectory = workDirectory
        self.definitions = definitions
        let rescanner = configuration.scanQueueURL.map { _ in Rescanner(configuration: configuration, store: store, sender: sqs, logger: logger) }
        self.processor = InvocationProcessor(
            workflow: workflow, rescanner: rescanner, events: events, logger: logger, concurrency: configuration.scanConcurrency)
        self.store = store
        self.sqs = sqs
        self.httpClient = httpClient
        self.logger = logger
    }

    /// Handles one Lambda event payload: the SQS partial batch response for SQS events, the
    /// report otherwise. Throws (so that Lambda retries) when a direct event had a failure;
    /// the report is still returned through the error. `deadline` is the invocation's: every
    /// object ends, with its verdict applied and published, before it.
    public func handle(_ payload: Data, logger requestLogger: Logger? = nil, deadline: ContinuousClock.Instant? = nil) async throws
        -> InvocationReport
    {
        let event: InvocationEvent
        do {
            event = try InvocationEvent.decode(payload)
        } catch let error as EventShapeError {
            await processor.reject(error.description, messageID: nil, logger: requestLogger)
            throw error
        }
        let report = await processor.process(event, logger: requestLogger, deadline: deadline)
        if report.failed && !report.isSQSBatch {
            throw InvocationFailed(report: report)
        }
        return report
    }

    /// Closes the HTTP client and removes the private folder.
    public func shutdown() async throws {
        try await httpClient.shutdown()
        try? FileManager.default.removeItem(atPath: workDirectory)
    }
}

/// A direct event in which some record failed: Lambda retries the invocation, and its
/// on-failure destination receives the event when the retries are exhausted.
public struct InvocationFailed: Error, CustomStringConvertible {
    /// What happened to every record.
    public let report: InvocationReport

    public var description: String {
        let failed = report.units.filter(\.failed)
        let reasons = failed.flatMap { $0.rejected + $0.objects.filter { $0.verdict == .error }.flatMap(\.reasons) }
        return "\(failed.count) of \(report.units.count) records failed: \(reasons.joined(separator: "; "))"
    }
}

extension InvocationReport {
    /// The Lambda response: `{"batchItemFailures":[...]}` for SQS events, else the report.
    public func lambdaResponse() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if isSQSBatch {
            struct Failure: Encodable { let itemIdentifier: String }
            struct Response: Encodable { let batchItemFailures: [Failure] }
            return try encoder.encode(Response(batchItemFailures: batchItemFailures.map(Failure.init)))
        }
        return try encoder.encode(self)
    }
}
