import CClamAV
import Dispatch
import Foundation
import Unpacker

/// Settings for a new engine.
public struct EngineOptions: Sendable, Equatable {
    /// Limits for every scan; exceeding one makes the file ``ScanVerdict/unscannable``.
    public var limits: ScanLimits
    /// Whether libclamav may skip files whose bytes it has already found clean. Off by
    /// default and never on in the scanner: libclamav 1.4 keys its cache by MD5, so a file
    /// crafted to collide with a clean one would be passed unscanned. The benchmark turns it
    /// on to show what it would save.
    public var cacheEnabled: Bool
    /// Where libclamav and the second unpacker unpack archives (each scan in a private
    /// folder of its own); `nil` uses `TMPDIR` or `/tmp`.
    public var temporaryDirectory: String?
    /// Whether containers are accounted for with the second unpacker (see ``ScanSession``).
    /// Always on in the scanner; the benchmark turns it off to measure its price, and then
    /// the engine is libclamav alone, with every hole that closes.
    public var accountsForContainers: Bool
    /// How files larger than libclamav's max file size are scanned; `nil` makes them
    /// `UNSCANNABLE`.
    public var largeFiles: LargeFileScanning?

    /// Creates options.
    public init(
        limits: ScanLimits = .clamAVDefaults, cacheEnabled: Bool = false, temporaryDirectory: String? = nil,
        accountsForContainers: Bool = true, largeFiles: LargeFileScanning? = nil
    ) {
        self.limits = limits
        self.cacheEnabled = cacheEnabled
        self.temporaryDirectory = temporaryDirectory
        self.accountsForContainers = accountsForContainers
        self.largeFiles = largeFiles
    }
}

/// Files larger than libclamav scans as one (its max file size, at most `INT_MAX - 2` bytes
/// in 1.4), up to ``maxSize``: the second unpacker unpacks them when they are containers (their
/// members are scanned as usual, windowed again when large), and libclamav matches its
/// signatures against their raw bytes in overlapping windows. A window holds ``windowSize``
/// bytes and the next one starts ``overlap`` bytes before it ends, so that any signature
/// whose match spans at most `overlap` bytes is found wherever it lies. Formats whose content
/// only a libclamav parser can reach (documents, executables, mail...) are not parsed in
/// windows: such a file is `UNSCANNABLE` unless the second unpacker unpacked it.
public struct LargeFileScanning: Sendable, Equatable {
    /// The largest file scanned at all.
    public var maxSize: Int64
    /// Bytes in one window (at most libclamav's max file size).
    public var windowSize: Int64
    /// Bytes shared by two neighbouring windows.
    public var overlap: Int64

    /// Windows of 1 GiB sharing 1 MiB by default.
    public init(maxSize: Int64, windowSize: Int64 = 1 << 30, overlap: Int64 = 1 << 20) {
        precondition(overlap < windowSize, "the overlap must be smaller than a window")
        self.maxSize = maxSize
        self.windowSize = windowSize
        self.overlap = overlap
    }

    /// The libclamav types whose content is their raw bytes: windows see all of it.
    static let rawTypes: Set<String> = ["BINARY_DATA", "TEXT_ASCII", "TEXT_UTF8", "TEXT_UTF16LE", "TEXT_UTF16BE"]
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
    /// The limits as libclamav applies them, read back after setting them.
    public let honouredLimits: ScanLimits

    private let handle: OpaquePointer
    private let scanOptions: cl_scan_options

    /// Scans and loads are blocking C calls: they run here, never on Swift's cooperative pool.
    private static let blockingQueue = DispatchQueue(label: "s3-clamav-scanner.clamav", attributes: .concurrent)
    /// Fires abandoned scans' deadlines. A serial queue gets a thread of its own even when
    /// busy scans hold every worker of the global pool (which a timer there would wait for),
    /// and it does not depend on Swift's cooperative pool either.
    private static let deadlineQueue = DispatchQueue(label: "s3-clamav-scanner.clamav-deadlines")

    private init(handle: OpaquePointer, database: DatabaseInfo, options: EngineOptions, honouredLimits: ScanLimits) {
        self.handle = handle
        self.database = database
        self.options = options
        self.honouredLimits = honouredLimits
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

    /// Scans one regular file, and everything in it, and returns its verdict: clean,
    /// infected or unscannable (see ``ScanSession`` for how containers are accounted for).
    ///
    /// The scan ends by `deadline` or after the max scan time, whichever comes first: what
    /// is not examined by then makes the file unscannable, never clean. libclamav cannot be
    /// interrupted inside one layer, so if it is still busy shortly after the deadline the
    /// scan is abandoned: the verdict is returned and the blocking work finishes on its own,
    /// removing its files.
    ///
    /// Throws ``ClamAVError`` when the file cannot be opened or is not a regular file, and when
    /// libclamav or the disk fails; a caller reports those as ``ScanVerdict/error``.
    public func scan(fileAtPath path: String, deadline: ContinuousClock.Instant? = nil) async throws -> ScanResult {
        let limit = options.limits.maxScanTimeMilliseconds
        let ownDeadline = limit > 0 ? ContinuousClock.now + .milliseconds(limit) : nil
        let effective = [deadline, ownDeadline].compactMap { $0 }.min()
        guard let effective else {
            return try await Self.runBlocking { try self.scanBlocking(path: path, deadline: nil) }
        }
        return try await withCheckedThrowingContinuation { continuation in
            let once = ResumeOnce(continuation)
            Self.blockingQueue.async { once.resume(with: Result { try self.scanBlocking(path: path, deadline: effective) }) }
            let abandonIn = ContinuousClock.now.duration(to: effective + Self.abandonGrace)
            let nanoseconds = Int(max(0, abandonIn / .nanoseconds(1)))
            Self.deadlineQueue.asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) {
                once.resume(
                    with: .success(
                        ScanResult(
                            verdict: .unscannable, reason: "scan time limit reached: libclamav was still busy at the deadline", outOfTime: true
                        )))
            }
        }
    }

    /// How long past the deadline a scan may take to stop on its own before it is abandoned.
    static let abandonGrace: Duration = .seconds(2)

    /// The limits libclamav would apply if given `limits`: it caps some (the max file size at
    /// `INT_MAX - 2` in 1.4) without an error, so configuration compares what it asked for
    /// with what it would get.
    public static func honouredLimits(for limits: ScanLimits) throws -> ScanLimits {
        try ClamAVLibrary.initialize()
        guard let scratch = cl_engine_new() else {
            throw ClamAVError(.engineSetup, "cl_engine_new failed: out of memory")
        }
        defer { cl_engine_free(scratch) }
        try configureLimits(scratch, limits: limits)
        return try readLimits(scratch)
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
        let honoured = try readLimits(handle)
        guard honoured.maxFileSize == options.limits.maxFileSize, honoured.maxScanSize == options.limits.maxScanSize else {
            throw ClamAVError(
                .engineSetup,
                "libclamav \(ClamAVLibrary.version) applies a max file size of \(honoured.maxFileSize) and a max scan size of \(honoured.maxScanSize) bytes, "
                    + "not the \(options.limits.maxFileSize) and \(options.limits.maxScanSize) asked for"
            )
        }

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
            options: options,
            honouredLimits: honoured
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

    private static var limitFields: [(field: cl_engine_field, name: String, value: KeyPath<ScanLimits, Int64>)] {
        [
            (CL_ENGINE_MAX_FILESIZE, "max file size", \.maxFileSize),
            (CL_ENGINE_MAX_SCANSIZE, "max scan size", \.maxScanSize),
            (CL_ENGINE_MAX_FILES, "max files", \.maxFilesValue),
            (CL_ENGINE_MAX_RECURSION, "max recursion", \.maxRecursionValue),
            (CL_ENGINE_MAX_SCANTIME, "max scan time", \.maxScanTimeValue),
        ]
    }

    private static func configureLimits(_ handle: OpaquePointer, limits: ScanLimits) throws {
        for (field, name, value) in limitFields {
            try ClamAVError.check(
                cl_engine_set_num(handle, field, limits[keyPath: value]), .engineSetup, "cannot set the \(name) to \(limits[keyPath: value])")
        }
    }

    private static func readLimits(_ handle: OpaquePointer) throws -> ScanLimits {
        func read(_ field: cl_engine_field, _ name: String) throws -> Int64 {
            var code: Int32 = 0
            let value = cl_engine_get_num(handle, field, &code)
            try ClamAVError.check(cl_error_t(rawValue: UInt32(bitPattern: code)), .engineSetup, "cannot read back the \(name)")
            return Int64(value)
        }
        return ScanLimits(
            maxFileSize: try read(CL_ENGINE_MAX_FILESIZE, "max file size"),
            maxScanSize: try read(CL_ENGINE_MAX_SCANSIZE, "max scan size"),
            maxFiles: Int(try read(CL_ENGINE_MAX_FILES, "max files")),
            maxRecursion: Int(try read(CL_ENGINE_MAX_RECURSION, "max recursion")),
            maxScanTimeMilliseconds: Int(try read(CL_ENGINE_MAX_SCANTIME, "max scan time"))
        )
    }

    private static func configure(_ handle: OpaquePointer, options: EngineOptions) throws {
        try configureLimits(handle, limits: options.limits)
        try ClamAVError.check(
            cl_engine_set_num(handle, CL_ENGINE_DISABLE_CACHE, options.cacheEnabled ? 0 : 1), .engineSetup, "cannot switch the clean-file cache"
        )
        if let temporaryDirectory = options.temporaryDirectory {
            try ClamAVError.check(
                cl_engine_set_str(handle, CL_ENGINE_TMPDIR, temporaryDirectory),
                .engineSetup,
                "cannot set the temporary directory to \(temporaryDirectory)"
            )
        }
        // Collects every detection name, including heuristic alerts, into the per-call watcher.
        cl_engine_set_clcb_virus_found(handle) { _, name, context in
            guard let name, let context else { return }
            Unmanaged<LayerWatcher>.fromOpaque(context).takeUnretainedValue().names.append(String(cString: name))
        }
        // The pre-cache callback runs for every layer libclamav scans, outer first, before
        // the clean cache is consulted, and gets only a descriptor (the file-inspection
        // callback would make libclamav map whole files into memory).
        cl_engine_set_clcb_pre_cache(handle) { descriptor, type, context in
            guard let context else { return CL_CLEAN }
            let watcher = Unmanaged<LayerWatcher>.fromOpaque(context).takeUnretainedValue()
            return watcher.layerStarts(descriptor: descriptor, type: type.map { String(cString: $0) } ?? "CL_TYPE_ANY")
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

    private func scanBlocking(path: String, deadline: ContinuousClock.Instant?) throws -> ScanResult {
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

        let session = try ScanSession(engine: self, deadline: deadline)
        defer { session.close() }
        do {
            try session.scan(layer: path, location: "", depth: 0)
        } catch let error as UnpackIOError {
            throw ClamAVError(.fileAccess, "scan of \(path) failed: \(error.message)")
        }
        return session.result().detected(session.fileType)
    }

    /// What one libclamav call over one layer found.
    struct LibclamavCall {
        var detections: [String] = []
        var limitAlerts: [String] = []
        var problems: [UnpackProblem] = []
        var layers: [(path: String, type: String)] = []
        /// libclamav's type for the layer itself.
        var fileType: String?
    }

    /// Scans one layer with libclamav and all its parsers.
    func scanWithLibclamav(path: String, session: ScanSession, rawBytesOnly: Bool = false) throws -> LibclamavCall {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw ClamAVError(.fileAccess, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }

        let watcher = LayerWatcher(session: session, maxFileSize: honouredLimits.maxFileSize, blockProblemLayers: options.cacheEnabled)
        var options = scanOptions
        if rawBytesOnly {
            // A window of a larger file: signatures against its bytes, no parser (a window
            // cuts structures at arbitrary points).
            options.general = 0
            options.parse = 0
            options.heuristic = 0
        }
        var virusName: UnsafePointer<CChar>?
        var scanned: UInt = 0
        let code = withExtendedLifetime(watcher) {
            cl_scandesc_callback(
                descriptor, path, &virusName, &scanned, handle, &options,
                Unmanaged.passUnretained(watcher).toOpaque()
            )
        }

        var call = LibclamavCall(problems: watcher.problems, layers: watcher.layers, fileType: watcher.ownType)
        switch code {
        case CL_CLEAN:
            break
        case CL_VIRUS:
            var names = watcher.names
            if let virusName {
                let name = String(cString: virusName)
                if !names.contains(name) { names.append(name) }
            }
            // Layers the watcher blocked itself carry their own problem.
            names.removeAll { $0 == Self.callbackDetection }
            call.detections = names.filter { !ScanResult.isHeuristic($0) }
            call.limitAlerts = names.filter(ScanResult.isHeuristic)
            if names.isEmpty && watcher.problems.isEmpty {
                // Seen with the size-limit alert: something alerted, nothing names a threat.
                call.problems.append(UnpackProblem(.limitReached, "libclamav reported a detection without a name"))
            }
        case CL_ETIMEOUT:
            call.problems.append(UnpackProblem(.outOfTime, "libclamav reached the max scan time"))
        case CL_EMAXREC, CL_EMAXSIZE, CL_EMAXFILES:
            call.problems.append(UnpackProblem(.limitReached, "libclamav stopped: \(ClamAVError.describe(code))"))
        default:
            throw ClamAVError(.scan, "scan of \(path) failed: \(ClamAVError.describe(code))")
        }
        return call
    }

    /// The name libclamav gives a file that a callback blocked with `CL_VIRUS`.
    static let callbackDetection = "Detected.By.Callback"

    private static func runBlocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            blockingQueue.async { continuation.resume(with: Result { try work() }) }
        }
    }
}

/// Sees every layer of one libclamav call through its callbacks. Touched only by the thread
/// running that call.
final class LayerWatcher {
    unowned let session: ScanSession
    /// libclamav's max file size as it applies it.
    let maxFileSize: Int64
    /// Whether a layer with a problem is blocked (answered `CL_VIRUS`), so that libclamav's
    /// clean cache never records it; without the cache, scanning goes on and a signature
    /// can still match.
    let blockProblemLayers: Bool
    var names: [String] = []
    var problems: [UnpackProblem] = []
    var layers: [(path: String, type: String)] = []
    /// Layers libclamav has started on: the first is the file of the call itself.
    private var layersSeen = 0
    /// libclamav's type for the file of the call (`PNG`, `ZIP`, ...).
    private(set) var ownType: String?

    init(session: ScanSession, maxFileSize: Int64, blockProblemLayers: Bool) {
        self.session = session
        self.maxFileSize = maxFileSize
        self.blockProblemLayers = blockProblemLayers
    }

    /// libclamav unpacks these without saying whether it unpacked every member, and the
    /// second unpacker cannot read them: their content cannot be accounted for.
    static let unaccountedTypes: [String: String] = [
        "CL_TYPE_ARJ": "an ARJ archive", "CL_TYPE_ARJSFX": "a self-extracting ARJ archive",
        "CL_TYPE_ALZ": "an ALZip archive", "CL_TYPE_EGG": "an EGG archive", "CL_TYPE_EGGSFX": "a self-extracting EGG archive",
        "CL_TYPE_SIS": "a Symbian installation file", "CL_TYPE_MSSZDD": "an SZDD-compressed file",
        "CL_TYPE_MSCHM": "a compiled HTML help file", "CL_TYPE_DMG": "an Apple disk image", "CL_TYPE_PART_HFSPLUS": "an HFS+ file system",
    ]

    /// libclamav's unzip inflates in chunks of this many bytes (BUFSIZ) and stops before the
    /// chunk that would pass the max file size: an entry it cut is at most this much short.
    static let trimSlack: Int64 = 8_192

    func layerStarts(descriptor: Int32, type: String) -> cl_error_t {
        layersSeen += 1
        if layersSeen == 1 { ownType = type.hasPrefix("CL_TYPE_") ? String(type.dropFirst("CL_TYPE_".count)) : type }
        if session.budget.isOutOfTime {
            problems.append(UnpackProblem(.outOfTime, "no time was left to scan it"))
            return CL_VIRUS
        }
        if let name = Self.unaccountedTypes[type] {
            return problem(UnpackProblem(.foreignFormat, "it holds \(name), whose members the scanner cannot account for"))
        }
        guard layersSeen > 1 else { return CL_CLEAN }
        var status = stat()
        if fstat(descriptor, &status) == 0, Int64(status.st_size) + Self.trimSlack > maxFileSize {
            return problem(
                UnpackProblem(
                    .oversized, "libclamav cut a \(type) layer of \(status.st_size) bytes at the max file size (\(maxFileSize))"
                ))
        }
        switch session.copyIfUnaccounted(descriptor: descriptor, type: type) {
        case .accounted:
            break
        case .copied(let path):
            layers.append((path, type))
        case .problem(let problem):
            problems.append(problem)
        }
        return CL_CLEAN
    }

    private func problem(_ problem: UnpackProblem) -> cl_error_t {
        problems.append(problem)
        return blockProblemLayers ? CL_VIRUS : CL_CLEAN
    }
}

/// Resumes a continuation once, whichever of the scan and the deadline comes first.
/// `@unchecked Sendable`: the flag is only read and written under the lock.
private final class ResumeOnce: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<ScanResult, any Error>?

    init(_ continuation: CheckedContinuation<ScanResult, any Error>) {
        self.continuation = continuation
    }

    func resume(with result: Result<ScanResult, any Error>) {
        lock.lock()
        let pending = continuation
        continuation = nil
        lock.unlock()
        pending?.resume(with: result)
    }
}
