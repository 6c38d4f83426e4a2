import Foundation
import Logging
import NIOHTTP1

/// What the Runtime API says about one invocation, read from the headers of `next`.
public struct InvocationMetadata: Sendable, Equatable {
    /// The request ID (`Lambda-Runtime-Aws-Request-Id`).
    public var requestID: String
    /// The deadline in milliseconds since the Unix epoch (`Lambda-Runtime-Deadline-Ms`).
    public var deadlineMilliseconds: Int64
    /// The ARN the caller invoked (`Lambda-Runtime-Invoked-Function-Arn`).
    public var invokedFunctionARN: String
    /// The X-Ray trace header (`Lambda-Runtime-Trace-Id`), when present.
    public var traceID: String?
    /// Mobile SDK client context (`Lambda-Runtime-Client-Context`), when present.
    public var clientContext: String?
    /// Mobile SDK Cognito identity (`Lambda-Runtime-Cognito-Identity`), when present.
    public var cognitoIdentity: String?

    /// Creates metadata from its parts.
    public init(
        requestID: String,
        deadlineMilliseconds: Int64,
        invokedFunctionARN: String,
        traceID: String? = nil,
        clientContext: String? = nil,
        cognitoIdentity: String? = nil
    ) {
        self.requestID = requestID
        self.deadlineMilliseconds = deadlineMilliseconds
        self.invokedFunctionARN = invokedFunctionARN
        self.traceID = traceID
        self.clientContext = clientContext
        self.cognitoIdentity = cognitoIdentity
    }

    /// Reads the metadata from the headers of a `next` response. The request ID, the
    /// deadline and the ARN are required (Lambda always sends them); the rest is optional.
    public init(headers: HTTPHeaders) throws(LambdaRuntimeError) {
        func required(_ name: String) throws(LambdaRuntimeError) -> String {
            guard let value = headers.first(name: name), !value.isEmpty else {
                throw LambdaRuntimeError(.invalidInvocation, "next invocation lacks the \(name) header")
            }
            return value
        }
        func optional(_ name: String) -> String? {
            guard let value = headers.first(name: name), !value.isEmpty else { return nil }
            return value
        }
        let deadlineText = try required(RuntimeAPI.Header.deadline)
        guard let deadline = Int64(deadlineText) else {
            throw LambdaRuntimeError(
                .invalidInvocation, "next invocation has a malformed \(RuntimeAPI.Header.deadline): \(deadlineText)")
        }
        self.init(
            requestID: try required(RuntimeAPI.Header.requestID),
            deadlineMilliseconds: deadline,
            invokedFunctionARN: try required(RuntimeAPI.Header.invokedFunctionARN),
            traceID: optional(RuntimeAPI.Header.traceID),
            clientContext: optional(RuntimeAPI.Header.clientContext),
            cognitoIdentity: optional(RuntimeAPI.Header.cognitoIdentity)
        )
    }
}

/// What a handler knows about the invocation it serves.
///
/// The X-Ray trace header is carried here as ``traceID`` instead of being written to the
/// process environment as `_X_AMZN_TRACE_ID`: changing the environment while other
/// threads may read it is not safe, and nothing in this project reads that variable.
/// Code that calls AWS with tracing passes `traceID` on as the `X-Amzn-Trace-Id` header.
public struct LambdaContext: Sendable {
    /// The invocation's metadata as the Runtime API sent it.
    public let metadata: InvocationMetadata
    /// A logger whose metadata carries `requestID`.
    public let logger: Logger

    /// Creates a context; the run loop does this for every invocation.
    public init(metadata: InvocationMetadata, logger: Logger) {
        self.metadata = metadata
        self.logger = logger
    }

    /// The request ID.
    public var requestID: String { metadata.requestID }
    /// The invoked function's ARN.
    public var invokedFunctionARN: String { metadata.invokedFunctionARN }
    /// The X-Ray trace header, when Lambda sent one (what `_X_AMZN_TRACE_ID` would hold).
    public var traceID: String? { metadata.traceID }
    /// Mobile SDK client context, when present.
    public var clientContext: String? { metadata.clientContext }
    /// Mobile SDK Cognito identity, when present.
    public var cognitoIdentity: String? { metadata.cognitoIdentity }
    /// The moment Lambda stops the invocation.
    public var deadline: Date { Date(timeIntervalSince1970: Double(metadata.deadlineMilliseconds) / 1000) }
    /// The time left before the deadline, measured against `now` (negative once it passed).
    public func remainingTime(now: Date = Date()) -> Duration {
        let milliseconds = metadata.deadlineMilliseconds - Int64((now.timeIntervalSince1970 * 1000).rounded())
        return .milliseconds(milliseconds)
    }
}
