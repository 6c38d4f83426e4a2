import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// The function that serves one invocation: the raw event in, the raw response out.
/// A thrown error is reported to the Runtime API as the invocation's error.
public typealias LambdaHandler = @Sendable (_ event: ByteBuffer, _ context: LambdaContext) async throws -> ByteBuffer

/// The run loop of a Lambda function, as a service (swift-service-lifecycle): start-up once,
/// then serve invocations until graceful shutdown (SIGTERM through the `ServiceGroup`) or
/// cancellation.
///
/// ```swift
/// let runtime = try LambdaRuntime(environment: environment, logger: logger) { logger in
///     let engine = try await loadEngine()                  // start-up work
///     return { event, context in try await scan(event, engine, context) }
/// }
/// try await ServiceGroup(services: [runtime], gracefulShutdownSignals: [.sigterm], logger: logger).run()
/// ```
///
/// - `initialize` does the start-up work and returns the handler. If it throws, the error is
///   posted to `/runtime/init/error` and ``run()`` throws (the process then exits non-zero).
/// - A handler error is posted to `/runtime/invocation/{id}/error`; the loop goes on.
/// - A failure talking to the Runtime API (connection, unexpected status, malformed `next`)
///   is logged at `critical` and ``run()`` throws: Lambda then restarts the environment,
///   which is the recovery it expects.
/// - What start-up opens (an HTTP client, a private folder) is closed when ``run()`` ends,
///   however it ends: see ``init(environment:logger:start:handler:shutdown:)``.
public struct LambdaRuntime: Service {
    private let client: LambdaRuntimeClient
    private let ownsClient: Bool
    private let logger: Logger
    private let initialize: @Sendable (Logger) async throws -> LambdaHandler
    private let closeResources: @Sendable () async throws -> Void

    /// Whether the process runs inside Lambda (`AWS_LAMBDA_RUNTIME_API` is set).
    public static func isInsideLambda(_ environment: [String: String]) -> Bool {
        environment[RuntimeAPI.endpointVariable]?.isEmpty == false
    }

    /// A runtime serving the Runtime API named by `AWS_LAMBDA_RUNTIME_API`; throws when it
    /// is missing or malformed. The runtime shuts its client down when it ends.
    /// - Parameters:
    ///   - environment: the process environment (injectable for tests).
    ///   - logger: the runtime's logger; each invocation's context gets a copy with `requestID`.
    ///   - initialize: the start-up work; it returns the handler.
    public init(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger = Logger(label: "lambda-runtime"),
        initialize: @escaping @Sendable (Logger) async throws -> LambdaHandler
    ) throws(LambdaRuntimeError) {
        let endpoint = try LambdaRuntimeClient.endpoint(from: environment)
        self.client = LambdaRuntimeClient(endpoint: endpoint, logger: logger)
        self.ownsClient = true
        self.logger = logger
        self.initialize = initialize
        self.closeResources = {}
    }

    /// A runtime whose start-up opens a resource that must be closed when the runtime ends
    /// (the service with its HTTP client and private folder): `start` builds it during the
    /// init phase, `handler` serves invocations with it, and `shutdown` closes it once, after
    /// the last invocation, whether ``run()`` ends by graceful shutdown, cancellation or a
    /// Runtime API failure. A `start` that throws is reported as a start-up failure and
    /// nothing is closed.
    public init<Resource: Sendable>(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger = Logger(label: "lambda-runtime"),
        start: @escaping @Sendable (Logger) async throws -> Resource,
        handler: @escaping @Sendable (Resource) -> LambdaHandler,
        shutdown: @escaping @Sendable (Resource) async throws -> Void
    ) throws(LambdaRuntimeError) {
        let endpoint = try LambdaRuntimeClient.endpoint(from: environment)
        let started = StartedResource<Resource>()
        self.client = LambdaRuntimeClient(endpoint: endpoint, logger: logger)
        self.ownsClient = true
        self.logger = logger
        self.initialize = { logger in
            let resource = try await start(logger)
            started.keep(resource)
            return handler(resource)
        }
        self.closeResources = {
            if let resource = started.take() { try await shutdown(resource) }
        }
    }

    /// A runtime on a client the caller owns (and shuts down).
    public init(client: LambdaRuntimeClient, logger: Logger, initialize: @escaping @Sendable (Logger) async throws -> LambdaHandler) {
        self.client = client
        self.ownsClient = false
        self.logger = logger
        self.initialize = initialize
        self.closeResources = {}
    }

    /// Serves invocations until graceful shutdown or cancellation (then returns), or throws
    /// ``LambdaRuntimeError`` when start-up or the Runtime API fails.
    public func run() async throws {
        let result: Result<Void, any Error>
        do {
            let handler = try await start()
            try await cancelWhenGracefulShutdown { try await serve(handler) }
            result = .success(())
        } catch {
            result = .failure(error)
        }
        do {
            try await closeResources()
        } catch {
            logger.error("closing what start-up opened failed", error: error)
        }
        if ownsClient {
            do {
                try await client.shutdown()
            } catch {
                logger.debug("closing the Runtime API client failed", error: error)
            }
        }
        try result.get()
    }

    private func start() async throws -> LambdaHandler {
        do {
            return try await initialize(logger)
        } catch {
            let report = LambdaErrorReport(error)
            logger.critical(
                "start-up failed; reporting it to the Runtime API and exiting",
                metadata: ["errorType": "\(report.errorType)", "errorMessage": "\(report.errorMessage)"])
            do {
                try await client.reportInitError(report)
            } catch {
                logger.critical("could not report the start-up failure", error: error)
            }
            throw LambdaRuntimeError(.initializationFailed, "start-up failed: \(report.errorType): \(report.errorMessage)")
        }
    }

    /// The loop: returns when cancelled, throws when the Runtime API fails.
    private func serve(_ handler: LambdaHandler) async throws {
        while !Task.isCancelled {
            let metadata: InvocationMetadata
            let event: ByteBuffer
            do {
                (metadata, event) = try await client.nextInvocation()
            } catch {
                if Task.isCancelled || error is CancellationError { break }
                logger.critical("Runtime API failed while waiting for the next invocation; exiting", error: error)
                throw error
            }

            var requestLogger = logger
            requestLogger[metadataKey: "requestID"] = .string(metadata.requestID)
            let context = LambdaContext(metadata: metadata, logger: requestLogger)
            requestLogger.debug("invocation started", metadata: ["eventBytes": "\(event.readableBytes)"])

            let outcome: Result<ByteBuffer, any Error>
            do {
                outcome = .success(try await handler(event, context))
            } catch {
                outcome = .failure(error)
            }

            do {
                switch outcome {
                case .success(let response):
                    try await client.reportResponse(response, for: metadata.requestID)
                    requestLogger.debug("invocation succeeded", metadata: ["responseBytes": "\(response.readableBytes)"])
                case .failure(let error):
                    let report = LambdaErrorReport(error)
                    requestLogger.error(
                        "invocation failed",
                        metadata: ["errorType": "\(report.errorType)", "errorMessage": "\(report.errorMessage)"])
                    try await client.reportError(report, for: metadata.requestID)
                }
            } catch let error as LambdaRuntimeError where error.kind == .responseTooLarge {
                // Lambda has already failed the invocation; the environment stays usable.
                requestLogger.error("invocation failed: response too large", error: error)
            } catch {
                if Task.isCancelled || error is CancellationError { break }
                requestLogger.critical("Runtime API failed while reporting the invocation's result; exiting", error: error)
                throw error
            }
        }
        logger.debug("run loop ended")
    }
}

/// What a runtime's start-up opened, kept for its shutdown.
private final class StartedResource<Resource: Sendable>: Sendable {
    private let resource = Mutex<Resource?>(nil)

    func keep(_ value: Resource) { resource.withLock { $0 = value } }

    /// The resource, once: a second call returns nil.
    func take() -> Resource? {
        resource.withLock { value in
            defer { value = nil }
            return value
        }
    }
}
