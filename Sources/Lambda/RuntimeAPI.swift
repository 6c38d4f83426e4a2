/// The constants of the Lambda Runtime API, version 2018-06-01, shared by the client and
/// by the test server so that both speak the same protocol.
///
/// Reference: https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
public enum RuntimeAPI {
    /// The environment variable that holds the API's `host:port`.
    public static let endpointVariable = "AWS_LAMBDA_RUNTIME_API"
    /// The API version prefix of every path.
    public static let versionPrefix = "/2018-06-01"

    /// `GET`: long-polls for the next invocation.
    public static let nextPath = "/2018-06-01/runtime/invocation/next"
    /// `POST`: reports a start-up failure; the runtime exits afterwards.
    public static let initErrorPath = "/2018-06-01/runtime/init/error"

    /// `POST`: the path that takes the response of invocation `requestID`.
    public static func responsePath(_ requestID: String) -> String {
        "/2018-06-01/runtime/invocation/\(escape(requestID))/response"
    }

    /// `POST`: the path that takes the error of invocation `requestID`.
    public static func errorPath(_ requestID: String) -> String {
        "/2018-06-01/runtime/invocation/\(escape(requestID))/error"
    }

    /// The largest response a synchronous invocation may return: 6 MB
    /// (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html);
    /// the Runtime API answers 413 above it.
    public static let maximumResponseSize = 6 * 1024 * 1024

    /// The content type of an error document (the Runtime API's OpenAPI description).
    public static let errorContentType = "application/vnd.aws.lambda.error+json"

    /// The header names the Runtime API uses.
    public enum Header {
        /// The invocation's request ID (`next` response).
        public static let requestID = "Lambda-Runtime-Aws-Request-Id"
        /// The invocation's deadline in milliseconds since the Unix epoch (`next` response).
        public static let deadline = "Lambda-Runtime-Deadline-Ms"
        /// The ARN the caller invoked, possibly with a version or alias (`next` response).
        public static let invokedFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
        /// The X-Ray tracing header (`next` response); runtimes expose it as `_X_AMZN_TRACE_ID`.
        public static let traceID = "Lambda-Runtime-Trace-Id"
        /// Client application data from the AWS Mobile SDK (`next` response).
        public static let clientContext = "Lambda-Runtime-Client-Context"
        /// The Amazon Cognito identity of a Mobile SDK caller (`next` response).
        public static let cognitoIdentity = "Lambda-Runtime-Cognito-Identity"
        /// The error type of an `error` or `init/error` report (request header).
        public static let functionErrorType = "Lambda-Runtime-Function-Error-Type"
    }

    /// Request IDs are UUIDs in practice; anything else is percent-encoded so it stays
    /// one path segment.
    static func escape(_ segment: String) -> String {
        var escaped = ""
        for byte in segment.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
                UInt8(ascii: "."), UInt8(ascii: "~"):
                escaped.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                escaped += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return escaped
    }
}

/// The error document the Runtime API takes on `error` and `init/error`:
/// `{"errorMessage": "...", "errorType": "...", "stackTrace": []}`.
public struct LambdaErrorReport: Codable, Sendable, Equatable {
    /// A human-readable description of the failure.
    public var errorMessage: String
    /// The kind of failure; also sent as `Lambda-Runtime-Function-Error-Type`.
    public var errorType: String
    /// Stack frames, when known; Swift errors carry none, so this is usually empty.
    public var stackTrace: [String]

    /// Creates a report.
    public init(errorType: String, errorMessage: String, stackTrace: [String] = []) {
        self.errorType = errorType
        self.errorMessage = errorMessage
        self.stackTrace = stackTrace
    }

    /// A report for a thrown Swift error: its type name and its description.
    public init(_ error: any Error) {
        self.init(errorType: String(describing: type(of: error)), errorMessage: String(describing: error))
    }
}
