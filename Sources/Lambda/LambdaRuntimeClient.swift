import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// Hand-written: swift-aws-lambda-runtime is not available; AsyncHTTPClient does the HTTP.
///
/// A client of the Lambda Runtime API (2018-06-01).
///
/// The client enforces the protocol's order with an explicit ``State``: at most one
/// `next` at a time, exactly one response or error per invocation, and an init error only
/// before the first invocation. A call out of order throws ``LambdaRuntimeError/Kind/invalidState``
/// without touching the network.
///
/// The `next` long-poll has no client timeout: Lambda freezes the environment while no
/// event is waiting, and the request may stay open for hours.
public actor LambdaRuntimeClient {
    /// Where the client is in the protocol.
    public enum State: Sendable, Equatable {
        /// Ready to ask for an invocation, or to report an init error.
        case idle
        /// A `next` long-poll is open.
        case waitingForInvocation
        /// An invocation was received; its response or error is due.
        case invoking(requestID: String)
        /// The response or error of the invocation is being sent.
        case reporting(requestID: String)
        /// An init error was reported; the runtime must exit.
        case initFailed
        /// The client was shut down.
        case closed
    }

    /// The largest event the client accepts from `next`. Lambda's own limits are lower
    /// (6 MB synchronous, 1 MB asynchronous); this only bounds memory on a broken peer.
    public static let maximumEventSize = 32 * 1024 * 1024

    /// Where the client is in the protocol.
    public private(set) var state: State = .idle

    /// The Runtime API's `host:port`.
    public nonisolated let endpoint: String
    private let httpClient: HTTPClient
    private let logger: Logger

    /// Creates a client for the Runtime API at `endpoint` (`host:port`, the form of
    /// `AWS_LAMBDA_RUNTIME_API`). Call ``shutdown()`` when done.
    public init(
        endpoint: String,
        eventLoopGroup: any EventLoopGroup = HTTPClient.defaultEventLoopGroup,
        logger: Logger
    ) {
        self.endpoint = endpoint
        self.logger = logger
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        // Connect quickly or fail: the API is local. No read timeout: `next` blocks until
        // an event arrives.
        configuration.timeout = .init(connect: .seconds(5), read: nil)
        configuration.decompression = .disabled
        self.httpClient = HTTPClient(eventLoopGroupProvider: .shared(eventLoopGroup), configuration: configuration)
    }

    /// Reads the Runtime API's `host:port` from `AWS_LAMBDA_RUNTIME_API`.
    public static func endpoint(from environment: [String: String]) throws(LambdaRuntimeError) -> String {
        guard let value = environment[RuntimeAPI.endpointVariable], !value.isEmpty else {
            throw LambdaRuntimeError(.missingEndpoint, "\(RuntimeAPI.endpointVariable) is not set")
        }
        guard !value.contains("/"), let colon = value.lastIndex(of: ":"),
            colon != value.startIndex, UInt16(value[value.index(after: colon)...]) != nil
        else {
            throw LambdaRuntimeError(
                .missingEndpoint, "\(RuntimeAPI.endpointVariable) must be host:port, got '\(value)'")
        }
        return value
    }

    /// Waits for the next invocation (`GET /runtime/invocation/next`) and returns its
    /// metadata and event payload. Cancelling the calling task ends the wait.
    public func nextInvocation() async throws -> (metadata: InvocationMetadata, event: ByteBuffer) {
        guard state == .idle else {
            throw LambdaRuntimeError(.invalidState, "nextInvocation() called in state \(state)")
        }
        state = .waitingForInvocation
        do {
            let (head, body) = try await send(.GET, RuntimeAPI.nextPath, headers: [:], body: nil)
            guard head.status == .ok else {
                throw unexpected(head, body, path: RuntimeAPI.nextPath)
            }
            let metadata = try InvocationMetadata(headers: head.headers)
            state = .invoking(requestID: metadata.requestID)
            return (metadata, body)
        } catch {
            if state == .waitingForInvocation { state = .idle }
            throw error
        }
    }

    /// Sends the response of invocation `requestID` (`POST /runtime/invocation/{id}/response`).
    ///
    /// Throws ``LambdaRuntimeError/Kind/responseTooLarge`` when the API refuses the size
    /// (413); the invocation then counts as failed and the client is ready for `next`.
    public func reportResponse(_ response: ByteBuffer, for requestID: String) async throws {
        try beginReport(requestID)
        let path = RuntimeAPI.responsePath(requestID)
        do {
            let (head, body) = try await send(.POST, path, headers: [:], body: response)
            state = .idle
            switch head.status {
            case .accepted:
                return
            case .payloadTooLarge:
                throw LambdaRuntimeError(
                    .responseTooLarge,
                    "Runtime API refused the \(response.readableBytes)-byte response of \(requestID) as too large (413)")
            default:
                throw unexpected(head, body, path: path)
            }
        } catch {
            if state == .reporting(requestID: requestID) { state = .idle }
            throw error
        }
    }

    /// Reports the failure of invocation `requestID` (`POST /runtime/invocation/{id}/error`),
    /// with `report.errorType` as `Lambda-Runtime-Function-Error-Type`.
    public func reportError(_ report: LambdaErrorReport, for requestID: String) async throws {
        try beginReport(requestID)
        let path = RuntimeAPI.errorPath(requestID)
        do {
            let (head, body) = try await send(.POST, path, headers: errorHeaders(report), body: encode(report))
            state = .idle
            guard head.status == .accepted else { throw unexpected(head, body, path: path) }
        } catch {
            if state == .reporting(requestID: requestID) { state = .idle }
            throw error
        }
    }

    /// Reports a start-up failure (`POST /runtime/init/error`). Allowed only before the
    /// first invocation; the runtime must exit afterwards.
    public func reportInitError(_ report: LambdaErrorReport) async throws {
        guard state == .idle else {
            throw LambdaRuntimeError(.invalidState, "reportInitError(_:) called in state \(state)")
        }
        state = .initFailed
        let (head, body) = try await send(
            .POST, RuntimeAPI.initErrorPath, headers: errorHeaders(report), body: encode(report))
        guard head.status == .accepted else { throw unexpected(head, body, path: RuntimeAPI.initErrorPath) }
    }

    /// Closes the connections. Further calls throw ``LambdaRuntimeError/Kind/shutDown``.
    public func shutdown() async throws {
        guard state != .closed else { return }
        state = .closed
        try await httpClient.shutdown()
    }

    // MARK: - Private

    private func beginReport(_ requestID: String) throws(LambdaRuntimeError) {
        guard state == .invoking(requestID: requestID) else {
            throw LambdaRuntimeError(.invalidState, "report for \(requestID) in state \(state)")
        }
        state = .reporting(requestID: requestID)
    }

    private func errorHeaders(_ report: LambdaErrorReport) -> HTTPHeaders {
        [
            "Content-Type": RuntimeAPI.errorContentType,
            RuntimeAPI.Header.functionErrorType: report.errorType,
        ]
    }

    private func encode(_ report: LambdaErrorReport) throws -> ByteBuffer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return ByteBuffer(bytes: try encoder.encode(report))
    }

    private func unexpected(_ head: HTTPResponseHead, _ body: ByteBuffer, path: String) -> LambdaRuntimeError {
        let text = String(buffer: body).prefix(512)
        return LambdaRuntimeError(
            .unexpectedStatus(head.status.code),
            "Runtime API answered \(head.status.code) to \(path): \(text)")
    }

    private func send(
        _ method: HTTPMethod,
        _ path: String,
        headers: HTTPHeaders,
        body: ByteBuffer?
    ) async throws -> (HTTPResponseHead, ByteBuffer) {
        if state == .closed {
            throw LambdaRuntimeError(.shutDown, "the Runtime API client was shut down")
        }
        var request = HTTPClientRequest(url: "http://\(endpoint)\(path)")
        request.method = method
        request.headers = headers
        request.headers.add(name: "User-Agent", value: "s3-clamav-scanner-lambda-runtime")
        if let body {
            request.body = .bytes(body)
        }
        do {
            // No deadline: `next` may legitimately wait for hours, and reports are answered
            // at once by the local API. Task cancellation still ends the request.
            let response = try await httpClient.execute(request, deadline: .distantFuture, logger: logger)
            let responseBody = try await response.body.collect(upTo: Self.maximumEventSize)
            let head = HTTPResponseHead(version: response.version, status: response.status, headers: response.headers)
            return (head, responseBody)
        } catch let error as LambdaRuntimeError {
            throw error
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw LambdaRuntimeError(.transport, "\(method) http://\(endpoint)\(path) failed: \(error)")
        }
    }
}
