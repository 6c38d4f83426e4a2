import CClamAV

/// An error reported by libclamav or by the wrapper around it.
public struct ClamAVError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, in terms of the operation the wrapper attempted.
    public enum Kind: Sendable, Equatable {
        /// `cl_init` failed: the library cannot be used in this process.
        case initialization
        /// The database directory is missing, empty, unreadable, or holds a file libclamav rejects.
        case databaseLoad
        /// The engine could not be compiled or configured after loading.
        case engineSetup
        /// A file could not be opened or read for scanning.
        case fileAccess
        /// libclamav failed while scanning.
        case scan
    }

    /// The kind of failure.
    public let kind: Kind
    /// A sentence that names the problem and, where there is one, the path involved.
    public let message: String

    /// Creates an error of the given kind.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// The text libclamav gives for one of its return codes.
    static func describe(_ code: cl_error_t) -> String {
        String(cString: cl_strerror(code))
    }

    /// Throws an error of `kind` unless `code` is `CL_SUCCESS`; the one place that turns
    /// libclamav return codes into Swift errors.
    static func check(_ code: cl_error_t, _ kind: Kind, _ context: @autoclosure () -> String) throws {
        guard code != CL_SUCCESS else { return }
        throw ClamAVError(kind, "\(context()): \(describe(code))")
    }
}
