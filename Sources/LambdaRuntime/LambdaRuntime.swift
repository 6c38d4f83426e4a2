import Foundation
import Logging
import NIOCore

/// The function that serves one invocation: the raw event in, the raw response out.
/// A thrown error is reported to the Runtime API as the invocation's error.
public typealias LambdaHandler = @Sendable (_ event: ByteBuffer, _ context: LambdaContext) async throws -> ByteBuffer

/// The run loop of a Lambda function: start-up once, then serve invocations until the task
/// is cancelled or the Runtime API fails.
///
/// ```swift
/// let status = await LambdaRuntime.run(logger: logger) { logger in
///     let engine = try await loadEngine()                  // start-up work
///     return { event, context in try await scan(event, engine, context) }
/// }
/// exit(status)
/// ```
public enum LambdaRuntime {
    /// The exit status after a clean stop (cancellation).
    public static let exitSuccess: Int32 = 0
    /// The exit status after a start-up failure or a Runtime API failure.
    public static let exitFailure: Int32 = 1

    /// Serves invocations from the Runtime API named by `AWS_LAMBDA_RUNTIME_API`, and
    /// returns the process exit status for the caller to pass to `exit`.
    ///
    /// - `initialize` does the start-up work and returns the handler. If it throws, the
    ///   error is posted to `/runtime/init/error` and the result is ``exitFailure``.
    /// - A handler error is posted to `/runtime/invocation/{id}/error`; the loop goes on.
    /// - A failure talking to the Runtime API (connection, unexpected status, malformed
    ///   `next`) is logged at `critical` and the result is ``exitFailure``: Lambda then
    ///   restarts the environment, which is the recovery it expects.
    /// - Cancelling the calling task ends the loop with ``exitSuccess``.
    ///
    /// - Parameters:
    ///   - environment: the process environment (injectable for tests).
    ///   - logger: the runtime's logger; each invocation's context gets a copy with `requestID`.
    ///   - initialize: the start-up work; it returns the handler.
    public static func run(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger = Logger(label: "lambda-runtime"),
        initialize: (Logger) async throws -> LambdaHandler
    ) async -> Int32 {
        let endpoint: String
        do {
            endpoint = try LambdaRuntimeClient.endpoint(from: environment)
        } catch {
            logger.critical("cannot serve invocations", error: error)
            return exitFailure
        }
        let client = LambdaRuntimeClient(endpoint: endpoint, logger: logger)
        let status = await serve(client: client, logger: logger, initialize: initialize)
        do {
            try await client.shutdown()
        } catch {
            logger.debug("closing the Runtime API client failed", error: error)
        }
        return status
    }

    /// The loop behind ``run(environment:logger:initialize:)``, on a client the caller owns
    /// (and shuts down).
    public static func serve(
        client: LambdaRuntimeClient,
        logger: Logger,
        initialize: (Logger) async throws -> LambdaHandler
    ) async -> Int32 {
        let handler: LambdaHandler
        do {
            handler = try await initialize(logger)
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
            return exitFailure
        }

        while !Task.isCancelled {
            let metadata: InvocationMetadata
            let event: ByteBuffer
            do {
                (metadata, event) = try await client.nextInvocation()
            } catch {
                if Task.isCancelled || error is CancellationError { break }
                logger.critical(
                    "Runtime API failed while waiting for the next invocation; exiting",
                    error: error)
                return exitFailure
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
                requestLogger.critical(
                    "Runtime API failed while reporting the invocation's result; exiting",
                    error: error)
                return exitFailure
            }
        }
        logger.debug("run loop cancelled")
        return exitSuccess
    }
}
