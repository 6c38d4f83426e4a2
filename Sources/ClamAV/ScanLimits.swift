/// Limits that bound how much work one scan may do.
///
/// A file that hits any of them has not been scanned completely; the engine turns on
/// libclamav's "alert on exceeded limits" heuristic so that such a file is reported
/// ``ScanVerdict/unscannable`` instead of the silent clean result libclamav gives by default.
/// The meaning of each limit follows `clamd.conf(5)`.
public struct ScanLimits: Sendable, Equatable {
    /// Files (the object itself, or a file inside an archive) larger than this are not scanned.
    public var maxFileSize: Int64
    /// The most data scanned for one object, counting everything unpacked from it.
    public var maxScanSize: Int64
    /// The most files scanned inside one object's archives.
    public var maxFiles: Int
    /// The deepest nesting of archives and containers that is unpacked.
    public var maxRecursion: Int
    /// The longest one scan may take, in milliseconds; 0 means no limit.
    public var maxScanTimeMilliseconds: Int

    /// Creates limits; every value must be positive (the scan time may be 0, "no limit").
    public init(
        maxFileSize: Int64,
        maxScanSize: Int64,
        maxFiles: Int,
        maxRecursion: Int,
        maxScanTimeMilliseconds: Int
    ) {
        self.maxFileSize = maxFileSize
        self.maxScanSize = maxScanSize
        self.maxFiles = maxFiles
        self.maxRecursion = maxRecursion
        self.maxScanTimeMilliseconds = maxScanTimeMilliseconds
    }

    /// libclamav's own defaults (ClamAV 1.4): 100 MB per file, 400 MB per scan, 10 000 files,
    /// 17 levels, 2 minutes.
    public static let clamAVDefaults = ScanLimits(
        maxFileSize: 100 * 1_048_576,
        maxScanSize: 400 * 1_048_576,
        maxFiles: 10_000,
        maxRecursion: 17,
        maxScanTimeMilliseconds: 120_000
    )
}

extension ScanLimits {
    // libclamav takes every limit as a 64-bit number.
    var maxFilesValue: Int64 { Int64(maxFiles) }
    var maxRecursionValue: Int64 { Int64(maxRecursion) }
    var maxScanTimeValue: Int64 { Int64(maxScanTimeMilliseconds) }
}
