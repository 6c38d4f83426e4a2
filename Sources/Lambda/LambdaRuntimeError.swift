/// A failure of the runtime itself: the Runtime API broke the protocol or could not be
/// reached, the client was used out of order, or start-up failed.
public struct LambdaRuntimeError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public enum Kind: Sendable, Equatable {
        /// `AWS_LAMBDA_RUNTIME_API` is missing or is not `host:port`.
        case missingEndpoint
        /// The Runtime API could not be reached or the connection failed.
        case transport
        /// The Runtime API answered with a status the protocol does not allow here.
        case unexpectedStatus(UInt)
        /// A `next` response lacked a required header or had a malformed one.
        case invalidInvocation
        /// The Runtime API refused a response over the 6 MB limit (413); the invocation failed.
        case responseTooLarge
        /// The client was called in a state that does not allow the call (a programming error).
        case invalidState
        /// The client has been shut down.
        case shutDown
        /// The start-up closure threw; the error was reported to `init/error`.
        case initializationFailed
    }

    /// The kind of failure.
    public let kind: Kind
    /// A sentence naming the problem and, where there is one, the API path involved.
    public let message: String

    /// Creates an error.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
