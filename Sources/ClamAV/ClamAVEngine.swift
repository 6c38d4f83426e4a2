import CClamAV
import Dispatch
import Foundation

/// Settings for a new engine.
public struct EngineOptions: Sendable, Equatable {
    /// Limits for every scan; exceeding one makes the file ``ScanVerdict/unscannable``.
    public var limits: ScanLimits
    /// Whether libclamav may skip files whose bytes it has already found clean. Benchmarks
    /// switch it off so that every scan does the work.
    public var cacheEnabled: Bool
    /// Where libclamav unpacks archives; `nil` uses `TMPDIR` or `/tmp`.
    public var temporaryDirectory: String?

    /// Creates options.
    public init(limits: ScanLimits = .clamAVDefaults, cacheEnabled: Bool = true, temporaryDirectory: String? = nil) {
        self.limits = limits
        self.cacheEnabled = cacheEnabled
        self.temporaryDirectory = temporaryDirectory
    }
}

/// A compiled libclamav engine: load a database once, then scan from many tasks at once.
///
/// `@unchecked Sendable` is sound here: after `cl_engine_compile` the engine is immutable,
/// and libclamav documents scanning with one compiled engine from many threads as safe
/// (clamd does exactly that). The only state a scan writes is per-call: its options, its
/// result pointers and its detection collector, all local to ``scan(fileAtPath:)``.
public final class ClamAVEngine: @unchecked Sendable {
    /// What the engine loaded.
    public let database: DatabaseInfo
    /// The options it was built with.
    public let options: EngineOptions

    private let handle: OpaquePointer
    private let scanOptions: cl_scan_options

    /// Scans and loads are blocking C calls: they run here, never on Swift's cooperative pool.
    private static let blockingQueue = DispatchQueue(label: "s3-clamav-scanner.clamav", attributes: .concurrent)

    private init(handle: OpaquePointer, database: DatabaseInfo, options: EngineOptions) {
        self.handle = handle
        self.database = database
        self.options = options
        self.scanOptions = Self.makeScanOptions()
    }

    deinit {
        cl_engine_free(handle)
    }

    /// Loads and compiles every database file in `directory`.
    ///
    /// Fails, naming the directory, when it is missing, holds no database file, holds a file
    /// libclamav rejects (the error names the files), or yields no signature at all: an
    /// engine without signatures would call everything clean.
    public static func load(databaseDirectory directory: String, options: EngineOptions = EngineOptions()) async throws -> ClamAVEngine {
        try await runBlocking { try loadBlocking(directory: directory, options: options) }
    }

    /// Scans one regular file and returns its verdict: clean, infected or unscannable.
    ///
    /// Throws ``ClamAVError`` when the file cannot be opened or is not a regular file, and when
    /// libclamav fails; a caller reports those as ``ScanVerdict/error``.
    public func scan(fileAtPath path: String) async throws -> ScanResult {
        try await Self.runBlocking { try self.scanBlocking(path: path) }
    }

    // MARK: - Loading

    private static func loadBlocking(directory: String, options: EngineOptions) throws -> ClamAVEngine {
        try ClamAVLibrary.initialize()
        let databaseFiles = try listDatabaseFiles(in: directory)

        guard let handle = cl_engine_new() else {
            throw ClamAVError(.engineSetup, "cl_engine_new failed: out of memory")
        }
        var owned: OpaquePointer? = handle
        defer { if let owned { cl_engine_free(owned) } }

        try configure(handle, options: options)

        var signatures: UInt32 = 0
        let loaded = cl_load(directory, handle, &signatures, cclamav_db_stdopt())
        if loaded != CL_SUCCESS {
            let rejected = rejectedFiles(databaseFiles, in: directory)
            let which = rejected.isEmpty ? "" : " (rejected: \(rejected.joined(separator: ", ")))"
            throw ClamAVError(.databaseLoad, "cannot load the ClamAV database in \(directory)\(which): \(ClamAVError.describe(loaded))")
        }
        guard signatures > 0 else {
            throw ClamAVError(.databaseLoad, "the ClamAV database in \(directory) has no signatures")
        }
        try ClamAVError.check(cl_engine_compile(handle), .engineSetup, "cannot compile the ClamAV database in \(directory)")

        let files = databaseFiles.map { name in
            DatabaseInfo.header(ofDatabaseAt: (directory as NSString).appendingPathComponent(name))
                ?? DatabaseInfo.File(name: name, version: nil, buildTime: nil, signatureCount: nil)
        }
        owned = nil
        return ClamAVEngine(
            handle: handle,
            database: DatabaseInfo(directory: directory, signatureCount: Int(signatures), files: files),
            options: options
        )
    }

    private static func listDatabaseFiles(in directory: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw ClamAVError(.databaseLoad, "database directory \(directory) does not exist")
        }
        guard isDirectory.boolValue else {
            throw ClamAVError(.databaseLoad, "database directory \(directory) is not a directory")
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw ClamAVError(.databaseLoad, "cannot read database directory \(directory): \(error.localizedDescription)")
        }
        let databaseFiles = names.filter(DatabaseInfo.isDatabaseFile).sorted()
        guard !databaseFiles.isEmpty else {
            throw ClamAVError(.databaseLoad, "database directory \(directory) holds no ClamAV database file (.cvd, .cld, .hdb, .ndb, .yar, ...)")
        }
        return databaseFiles
    }

    /// One bad file makes `cl_load` fail for the whole directory without saying which; on
    /// that (rare) path, load each file alone into a scratch engine to name the culprits.
    private static func rejectedFiles(_ names: [String], in directory: String) -> [String] {
        names.filter { name in
            guard let scratch = cl_engine_new() else { return false }
            defer { cl_engine_free(scratch) }
            var count: UInt32 = 0
            let path = (directory as NSString).appendingPathComponent(name)
            return cl_load(path, scratch, &count, cclamav_db_stdopt()) != CL_SUCCESS
        }
    }

    private static func configure(_ handle: OpaquePointer, options: EngineOptions) throws {
        let limits = options.limits
        let numbers: [(cl_engine_field, Int64, String)] = [
            (CL_ENGINE_MAX_FILESIZE, limits.maxFileSize, "max file size"),
            (CL_ENGINE_MAX_SCANSIZE, limits.maxScanSize, "max scan size"),
            (CL_ENGINE_MAX_FILES, Int64(limits.maxFiles), "max files"),
            (CL_ENGINE_MAX_RECURSION, Int64(limits.maxRecursion), "max recursion"),
            (CL_ENGINE_MAX_SCANTIME, Int64(limits.maxScanTimeMilliseconds), "max scan time"),
            (CL_ENGINE_DISABLE_CACHE, options.cacheEnabled ? 0 : 1, "cache switch"),
        ]
        for (field, value, name) in numbers {
            try ClamAVError.check(cl_engine_set_num(handle, field, value), .engineSetup, "cannot set the \(name) to \(value)")
        }
        if let temporaryDirectory = options.temporaryDirectory {
            try ClamAVError.check(
                cl_engine_set_str(handle, CL_ENGINE_TMPDIR, temporaryDirectory),
                .engineSetup,
                "cannot set the temporary directory to \(temporaryDirectory)"
            )
        }
        // Collects every detection name, including heuristic alerts, into the per-scan context.
        cl_engine_set_clcb_virus_found(handle) { _, name, context in
            guard let name, let context else { return }
            Unmanaged<DetectionCollector>.fromOpaque(context).takeUnretainedValue().names.append(String(cString: name))
        }
        // libclamav's unzip trims an entry larger than the max file size to that size and
        // scans only the first part, with no alert (seen with ClamAV 1.4: a 200 MiB zip bomb
        // comes back clean). Every embedded file that reaches the limit is recorded so that
        // such a scan is reported unscannable instead. The pre-cache callback runs for every
        // file, outer first, before the clean cache is consulted, and gets only a descriptor:
        // the file-inspection callback would make libclamav map whole files into memory.
        // Answering CL_VIRUS blocks the entry, so libclamav does not cache the object as clean
        // (a second identical bomb would otherwise come back clean from the cache).
        cl_engine_set_clcb_pre_cache(handle) { descriptor, _, context in
            guard let context else { return CL_CLEAN }
            let collector = Unmanaged<DetectionCollector>.fromOpaque(context).takeUnretainedValue()
            collector.filesSeen += 1
            var status = stat()
            guard collector.filesSeen > 1, descriptor >= 0, fstat(descriptor, &status) == 0 else { return CL_CLEAN }
            guard Int64(status.st_size) >= collector.maxFileSize else { return CL_CLEAN }
            collector.truncatedLayers.append("an embedded file of \(status.st_size) bytes")
            return CL_VIRUS
        }
    }

    /// Scan options: what `clamscan` does by default, plus alerts for exceeded limits and
    /// encrypted content so that a file not scanned completely never comes back clean.
    private static func makeScanOptions() -> cl_scan_options {
        var options = cl_scan_options()
        options.general = UInt32(CL_SCAN_GENERAL_HEURISTICS)
        options.parse = ~UInt32(0)
        options.heuristic = UInt32(
            CL_SCAN_HEURISTIC_EXCEEDS_MAX | CL_SCAN_HEURISTIC_ENCRYPTED_ARCHIVE | CL_SCAN_HEURISTIC_ENCRYPTED_DOC
        )
        options.mail = 0
        options.dev = 0
        return options
    }

    // MARK: - Scanning

    private func scanBlocking(path: String) throws -> ScanResult {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw ClamAVError(.fileAccess, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw ClamAVError(.fileAccess, "cannot stat \(path): \(String(cString: strerror(errno)))")
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw ClamAVError(.fileAccess, "\(path) is not a regular file")
        }

        let collector = DetectionCollector(maxFileSize: self.options.limits.maxFileSize)
        var options = scanOptions
        var virusName: UnsafePointer<CChar>?
        var scanned: UInt = 0
        let code = withExtendedLifetime(collector) {
            cl_scandesc_callback(
                descriptor, path, &virusName, &scanned, handle, &options,
                Unmanaged.passUnretained(collector).toOpaque()
            )
        }

        switch code {
        case CL_CLEAN:
            return ScanResult(verdict: .clean)
        case CL_VIRUS:
            var detections = collector.names
            if let virusName {
                let name = String(cString: virusName)
                if !detections.contains(name) { detections.append(name) }
            }
            // The entries this engine blocked itself are limits, not threats.
            detections.removeAll { $0 == Self.callbackDetection }
            if detections.isEmpty, let truncated = collector.truncatedLayers.first {
                return ScanResult(
                    verdict: .unscannable,
                    reason: "scan limit exceeded: \(truncated) reached the max file size (\(self.options.limits.maxFileSize) bytes) and was only partly scanned"
                )
            }
            return ScanResult.classify(detections: detections)
        case CL_EMAXREC, CL_EMAXSIZE, CL_EMAXFILES, CL_ETIMEOUT:
            return ScanResult(verdict: .unscannable, reason: "scan limit exceeded: \(ClamAVError.describe(code))")
        default:
            throw ClamAVError(.scan, "scan of \(path) failed: \(ClamAVError.describe(code))")
        }
    }

    /// The name libclamav gives a file that a callback blocked with `CL_VIRUS`.
    static let callbackDetection = "Detected.By.Callback"

    private static func runBlocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            blockingQueue.async { continuation.resume(with: Result { try work() }) }
        }
    }
}

/// What libclamav's callbacks report during one scan: detection names, and embedded layers
/// that reached the max file size. Touched only by the thread running that scan.
private final class DetectionCollector {
    let maxFileSize: Int64
    var names: [String] = []
    var truncatedLayers: [String] = []
    /// Files libclamav has started on: the first is the scanned file itself.
    var filesSeen = 0

    init(maxFileSize: Int64) {
        self.maxFileSize = maxFileSize
    }
}
