import NIOHTTP1

/// An error answered by an AWS service (or an emulator of one): the decoded error code and
/// message of the response body, its request ID and the HTTP status.
///
/// S3 answers XML (`<Error><Code>NoSuchKey</Code>...`), EventBridge and SQS answer JSON with
/// `__type`; responses without a body (HEAD, 304) get a code derived from the status.
public struct AWSError: Error, Sendable, Equatable {
    /// The AWS error code, e.g. `NoSuchKey`, `PreconditionFailed`, `AccessDenied`, `SlowDown`.
    public var code: String
    /// The human-readable message, or the raw body when it could not be decoded.
    public var message: String
    /// The request ID (`x-amz-request-id` or `x-amzn-RequestId`), for AWS support.
    public var requestID: String?
    /// The HTTP status code.
    public var statusCode: Int

    /// Creates an error from its parts.
    public init(code: String, message: String, requestID: String?, statusCode: Int) {
        self.code = code
        self.message = message
        self.requestID = requestID
        self.statusCode = statusCode
    }

    /// True for a missing object, version, bucket or queue (`NoSuchKey`, `NoSuchVersion`, 404...).
    public var isNotFound: Bool {
        statusCode == 404
            || [
                "NoSuchKey", "NoSuchVersion", "NoSuchBucket", "NotFound",
                "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue",
            ].contains(code)
    }

    /// True when an `If-Match` condition failed (412 `PreconditionFailed`).
    public var isPreconditionFailed: Bool { statusCode == 412 || code == "PreconditionFailed" }

    /// True for 403 `AccessDenied` and its relatives.
    public var isAccessDenied: Bool { statusCode == 403 || code == "AccessDenied" || code == "AccessDeniedException" }

    /// True for throttling codes and 429.
    public var isThrottling: Bool {
        statusCode == 429 || Self.throttlingCodes.contains(code)
    }

    static let throttlingCodes: Set<String> = [
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
        "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
        "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled",
        "SlowDown", "PriorRequestNotComplete", "EC2ThrottledException",
        "AWS.SimpleQueueService.RequestThrottled",
    ]

    static let transientCodes: Set<String> = [
        "RequestTimeout", "RequestTimeoutException", "InternalError", "InternalFailure",
        "ServiceUnavailable", "InternalServerError",
    ]

    /// True when the same request may succeed if sent again (throttling, 5xx, timeouts).
    public var isRetryable: Bool {
        isThrottling || statusCode >= 500 || Self.transientCodes.contains(code)
    }
}

extension AWSError: CustomStringConvertible {
    /// `Code (HTTP status): message [request ID]`.
    public var description: String {
        "\(code) (HTTP \(statusCode)): \(message)" + (requestID.map { " [request ID \($0)]" } ?? "")
    }
}

/// A failure on the client's side of an AWS call: a download that ended short, a checksum
/// that did not match, a response that could not be decoded, a bad argument.
public struct AWSClientError: Error, Sendable, Equatable, CustomStringConvertible {
    enum Code: Sendable, Equatable {
        case incompleteBody
        case checksumMismatch
        case invalidResponse
        case invalidArgument
        case credentialsUnavailable
        case retriesExhausted
    }

    let code: Code
    /// What went wrong, for logs and for the person reading them.
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// A body (or a range of it) ended before the announced length, or went past it.
    public static func incompleteBody(_ message: String) -> AWSClientError { .init(.incompleteBody, message) }
    /// The bytes received do not have the checksum the service announced.
    public static func checksumMismatch(_ message: String) -> AWSClientError { .init(.checksumMismatch, message) }
    /// The response could not be decoded.
    public static func invalidResponse(_ message: String) -> AWSClientError { .init(.invalidResponse, message) }
    /// An argument is out of the service's limits.
    public static func invalidArgument(_ message: String) -> AWSClientError { .init(.invalidArgument, message) }
    /// No credentials could be obtained.
    public static func credentialsUnavailable(_ message: String) -> AWSClientError { .init(.credentialsUnavailable, message) }

    /// True when the body ended short (or long).
    public var isIncompleteBody: Bool { code == .incompleteBody }
    /// True when a checksum did not match.
    public var isChecksumMismatch: Bool { code == .checksumMismatch }

    /// The message.
    public var description: String { message }

    /// Incomplete bodies and checksum mismatches are worth one more try; the rest are not.
    var isRetryable: Bool { code == .incompleteBody || code == .checksumMismatch }
}
