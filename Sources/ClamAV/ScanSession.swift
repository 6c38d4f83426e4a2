import CClamAV
import Foundation
import Unpacker

/// One object's scan: every layer of it, examined by both unpackers, until a verdict.
///
/// libclamav 1.4 skips what it cannot unpack and says nothing (zip entries compressed with
/// LZMA or PPMd, 7z coders it lacks, zstd and lzip streams it does not recognise), so "no
/// alert" does not mean "scanned". The session therefore accounts for every container
/// itself:
///
/// 1. the second unpacker (libarchive) unpacks the layer, if it is an archive or a
///    compressed stream in any format it reads, and every member is scanned as a layer of
///    its own, recursively; a member it cannot unpack completely is a problem naming it;
/// 2. libclamav scans the layer with all its parsers; its pre-cache callback sees every
///    layer libclamav unpacks (inside documents, mail, installers as well as archives) and
///    hands the session each one that is a container whose content the session has not
///    already accounted for;
/// 3. those layers are accounted for the same way, recursively.
///
/// Any problem makes the object `UNSCANNABLE` unless a signature matched. Not thread-safe:
/// one blocking call owns the session.
final class ScanSession {
    let engine: ClamAVEngine
    let budget: UnpackBudget
    /// A private folder for members and copied layers, removed by ``close()``.
    let directory: String

    private(set) var detections: [String] = []
    private(set) var limitAlerts: [String] = []
    private(set) var problems: [(location: String, problem: UnpackProblem)] = []
    /// Content already accounted for in this object (unpacked, then scanned).
    private(set) var accounted: Set<ContentDigest> = []
    /// libclamav's type for the object itself.
    private(set) var fileType: String?
    private var copies = 0

    init(engine: ClamAVEngine, deadline: ContinuousClock.Instant?) throws {
        self.engine = engine
        let limits = engine.honouredLimits
        budget = UnpackBudget(
            limits: UnpackLimits(
                maxMemberSize: max(limits.maxFileSize, engine.options.largeFiles?.maxSize ?? 0), maxMembers: limits.maxFiles,
                maxTotalBytes: limits.maxScanSize),
            deadline: deadline
        )
        directory = try PrivateDirectory.create(in: engine.options.temporaryDirectory, prefix: "scan")
    }

    func close() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Whether a problem says the deadline cut the scan short.
    var isOutOfTime: Bool { problems.contains { $0.problem.kind == .outOfTime } }

    /// Scans one layer (the object, a member, or a layer libclamav unpacked) and everything
    /// in it. `location` names it for reasons (empty for the object itself).
    func scan(layer path: String, location: String, depth: Int) throws {
        guard detections.isEmpty, !stopsForTime(location) else { return }
        if depth > engine.honouredLimits.maxRecursion {
            record(location, UnpackProblem(.limitReached, "it is nested deeper than the max recursion (\(engine.honouredLimits.maxRecursion))"))
            return
        }

        var unpacked = false
        if engine.options.accountsForContainers {
            let problems = try Unpacker.unpack(path: path, into: directory, budget: budget) { member in
                unpacked = true
                guard accounted.insert(member.digest).inserted else { return true }
                try scan(layer: member.path, location: Self.join(location, member.name), depth: depth + 1)
                return detections.isEmpty && !isOutOfTime
            }
            for problem in problems { record(location, problem) }
            unpacked = unpacked && problems.isEmpty
        }
        guard detections.isEmpty, !stopsForTime(location) else { return }

        let size = Self.size(of: path)
        if size > engine.honouredLimits.maxFileSize, let large = engine.options.largeFiles {
            guard size <= large.maxSize else {
                record(location, UnpackProblem(.oversized, "it is \(size) bytes, over the max object size (\(large.maxSize))"))
                return
            }
            try scanInWindows(path, size: size, large: large, location: location, depth: depth, unpacked: unpacked)
            return
        }

        let call = try engine.scanWithLibclamav(path: path, session: self)
        if depth == 0 { fileType = call.fileType }
        detections += call.detections
        limitAlerts += call.limitAlerts
        for problem in call.problems { record(location, problem) }
        for layer in call.layers {
            defer { unlink(layer.path) }
            try scan(layer: layer.path, location: Self.join(location, "a \(layer.type) layer libclamav unpacked"), depth: depth + 1)
        }
    }

    /// Scans a file larger than libclamav takes as one: its raw bytes window by window (each
    /// copied to a private file), and, unless the second unpacker unpacked it, only when its
    /// type is raw bytes throughout (see ``LargeFileScanning``).
    private func scanInWindows(_ path: String, size: Int64, large: LargeFileScanning, location: String, depth: Int, unpacked: Bool) throws {
        guard let source = FileHandle(forReadingAtPath: path) else {
            throw UnpackIOError(message: "cannot open \(path) to scan it in windows")
        }
        defer { try? source.close() }
        let window = (directory as NSString).appendingPathComponent("window")
        defer { unlink(window) }
        let step = large.windowSize - large.overlap
        var offset: Int64 = 0
        var type: String?
        while offset < size, detections.isEmpty, !stopsForTime(location) {
            let length = min(large.windowSize, size - offset)
            try Self.copy(from: source, offset: offset, length: length, to: window)
            let call = try engine.scanWithLibclamav(path: window, session: self, rawBytesOnly: true)
            if type == nil { type = call.fileType }
            detections += call.detections
            for problem in call.problems { record(location, problem) }
            if offset + length >= size { break }
            offset += step
        }
        if depth == 0 { fileType = type }
        if detections.isEmpty, !unpacked, let type, !LargeFileScanning.rawTypes.contains(type) {
            record(
                location,
                UnpackProblem(
                    .oversized,
                    "a \(type) file of \(size) bytes is over the \(engine.honouredLimits.maxFileSize) bytes libclamav parses as one file; "
                        + "only its raw bytes could be matched"))
        }
    }

    private static func size(of path: String) -> Int64 {
        var status = stat()
        return stat(path, &status) == 0 ? Int64(status.st_size) : 0
    }

    /// Copies `length` bytes from `offset` of `source` into a new file at `path`, in 8 MiB reads.
    private static func copy(from source: FileHandle, offset: Int64, length: Int64, to path: String) throws {
        unlink(path)
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]),
            let target = FileHandle(forWritingAtPath: path)
        else { throw UnpackIOError(message: "cannot create \(path)") }
        defer { try? target.close() }
        try source.seek(toOffset: UInt64(offset))
        var left = length
        while left > 0 {
            guard let chunk = try source.read(upToCount: Int(min(left, 8 << 20))), !chunk.isEmpty else {
                throw UnpackIOError(message: "the file ended \(left) bytes early while it was scanned in windows")
            }
            try target.write(contentsOf: chunk)
            left -= Int64(chunk.count)
        }
    }

    /// Whether the deadline has passed; the first time, records that what is left of the
    /// object was not scanned (a scan that stops for time must never read as clean).
    private func stopsForTime(_ location: String) -> Bool {
        guard budget.isOutOfTime else { return isOutOfTime }
        if !isOutOfTime { record(location, UnpackProblem(.outOfTime, "no time was left to scan it")) }
        return true
    }

    /// What became of a layer libclamav unpacked.
    enum LayerCopy {
        /// Not a container, or one whose content is already accounted for.
        case accounted
        /// A container to account for, copied to `path`.
        case copied(path: String)
        /// It could not be copied.
        case problem(UnpackProblem)
    }

    /// Copies a layer libclamav unpacked (read through `descriptor`) when it is a container
    /// the session has not accounted for yet.
    func copyIfUnaccounted(descriptor: Int32, type: String) -> LayerCopy {
        guard engine.options.accountsForContainers else { return .accounted }
        // Its own open file description: libclamav's offset on `descriptor` stays put.
        let source = "/proc/self/fd/\(descriptor)"
        guard Unpacker.recognise(path: source) != .none,
            let digest = ContentDigest(fileAt: source), accounted.insert(digest).inserted
        else { return .accounted }
        var status = stat()
        guard fstat(descriptor, &status) == 0, budget.draw(bytes: Int64(status.st_size)) else {
            return .problem(
                UnpackProblem(
                    .limitReached, "copying a \(type) layer libclamav unpacked goes over the max scan size (\(budget.limits.maxTotalBytes))"
                ))
        }
        copies += 1
        let copy = (directory as NSString).appendingPathComponent("layer-\(copies)")
        do {
            try FileManager.default.copyItem(atPath: source, toPath: copy)
        } catch {
            return .problem(UnpackProblem(.unreadable, "a \(type) layer libclamav unpacked could not be copied: \(error.localizedDescription)"))
        }
        return .copied(path: copy)
    }

    func record(_ location: String, _ problem: UnpackProblem) {
        // Two views of one archive (a zip's central directory and its local headers) often
        // report the same problem.
        guard !problems.contains(where: { $0.location == location && $0.problem == problem }) else { return }
        problems.append((location, problem))
    }

    /// The verdict for everything scanned so far.
    func result() -> ScanResult {
        if !detections.isEmpty || !limitAlerts.isEmpty {
            let classified = ScanResult.classify(detections: detections + limitAlerts)
            if classified.verdict == .infected || problems.isEmpty { return classified }
        }
        guard let first = problems.first else { return ScanResult(verdict: .clean) }
        let more = problems.count > 1 ? " (and \(problems.count - 1) more problem\(problems.count == 2 ? "" : "s"))" : ""
        let prefix: String
        switch first.problem.kind {
        case .outOfTime: prefix = "scan time limit reached"
        case .encrypted: prefix = "encrypted content"
        case .foreignFormat: prefix = "unsupported container"
        case .limitReached, .oversized: prefix = "scan limit exceeded"
        case .unreadable: prefix = "not unpacked completely"
        }
        let description = first.problem.description
        let located = first.location.isEmpty ? description : "in \(first.location): \(description)"
        return ScanResult(
            verdict: .unscannable, signature: limitAlerts.first, reason: "\(prefix): \(located)\(more)", outOfTime: isOutOfTime
        )
    }

    private static func join(_ location: String, _ name: String) -> String {
        location.isEmpty ? name : "\(location) > \(name)"
    }
}
