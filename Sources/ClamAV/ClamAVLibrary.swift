import CClamAV

/// Process-wide libclamav state.
///
/// `cl_init` must run once per process before any engine is created; a `static let` is
/// initialised exactly once and thread-safely by the Swift runtime, so no lock is needed.
public enum ClamAVLibrary {
    private static let initialization: Result<Void, ClamAVError> = {
        let code = cl_init(UInt32(CL_INIT_DEFAULT))
        guard code == CL_SUCCESS else {
            return .failure(ClamAVError(.initialization, "cl_init failed: \(ClamAVError.describe(code))"))
        }
        return .success(())
    }()

    /// Initialises libclamav for this process, once; later calls return the first outcome.
    public static func initialize() throws {
        try initialization.get()
    }

    /// The version of the libclamav this process runs, such as `1.4.6`.
    public static var version: String {
        String(cString: cl_retver())
    }

    /// The directory libclamav was built to read its database from, such as `/var/lib/clamav`.
    public static var defaultDatabaseDirectory: String {
        String(cString: cl_retdbdir())
    }
}
