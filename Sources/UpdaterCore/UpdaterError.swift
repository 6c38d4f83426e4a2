/// A failure of the updater's own machinery (not a mirror's answer, which is an outcome).
public struct UpdaterError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Which part failed.
    public enum Kind: Sendable, Equatable {
        /// freshclam could not be found, started or read.
        case freshclam
        /// The working directory could not be prepared or updated.
        case workingDirectory
        /// The canary file could not be written or read.
        case canary
    }

    /// Which part failed.
    public let kind: Kind
    /// A sentence naming the problem and the path involved.
    public let message: String

    /// Creates an error.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
