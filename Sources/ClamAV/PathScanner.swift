import Foundation

/// The verdict for one local file, as `scanner scan` reports it.
public struct FileScanResult: Sendable, Equatable {
    /// The path as given, or as found under a given folder.
    public let path: String
    /// The verdict; failures to read or scan the file are ``ScanVerdict/error`` with a reason.
    public let result: ScanResult
}

/// Scans local files and folders with one engine, several files at a time.
public struct PathScanner: Sendable {
    /// A file to scan, or a path that cannot be scanned and why.
    public enum Entry: Sendable, Equatable {
        /// A regular file (or a symbolic link to one).
        case file(String)
        /// A path that is missing or not a file, or a folder that cannot be read.
        case failure(path: String, reason: String)
    }

    /// The engine every file is scanned with.
    public let engine: ClamAVEngine
    /// How many files are scanned at once.
    public let concurrency: Int

    /// Creates a scanner; `concurrency` is at least 1.
    public init(engine: ClamAVEngine, concurrency: Int) {
        self.engine = engine
        self.concurrency = max(1, concurrency)
    }

    /// Expands paths into files: folders recursively in name order, files as they are.
    ///
    /// Inside folders, regular files and links to regular files are scanned; links to folders
    /// are not followed (they can form loops) and other special files are not content. A path
    /// that was named explicitly and is neither a file nor a folder, and a folder that cannot
    /// be read, become failures, so nothing the caller asked for disappears silently.
    public static func expand(_ paths: [String]) -> [Entry] {
        paths.flatMap { path -> [Entry] in
            switch kind(of: path, followingLinks: true) {
            case .regular: return [.file(path)]
            case .directory: return walk(path)
            case .missing: return [.failure(path: path, reason: "no such file or directory")]
            case .other: return [.failure(path: path, reason: "not a regular file or folder")]
            }
        }
    }

    /// Scans the entries, at most ``concurrency`` at a time, and yields results in entry order.
    public func scan(_ entries: [Entry]) -> AsyncStream<FileScanResult> {
        let (stream, continuation) = AsyncStream.makeStream(of: FileScanResult.self)
        let task = Task { [engine, concurrency] in
            await withTaskGroup(of: (Int, FileScanResult).self) { group in
                var next = 0
                var pending: [Int: FileScanResult] = [:]
                var emitted = 0
                func start(_ index: Int) {
                    let entry = entries[index]
                    group.addTask { (index, await Self.scan(entry, with: engine)) }
                }
                while next < min(concurrency, entries.count) {
                    start(next)
                    next += 1
                }
                for await (index, result) in group {
                    pending[index] = result
                    while let ready = pending.removeValue(forKey: emitted) {
                        continuation.yield(ready)
                        emitted += 1
                    }
                    if next < entries.count {
                        start(next)
                        next += 1
                    }
                }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    private static func scan(_ entry: Entry, with engine: ClamAVEngine) async -> FileScanResult {
        switch entry {
        case .failure(let path, let reason):
            return FileScanResult(path: path, result: ScanResult(verdict: .error, reason: reason))
        case .file(let path):
            do {
                return FileScanResult(path: path, result: try await engine.scan(fileAtPath: path))
            } catch {
                return FileScanResult(path: path, result: ScanResult(verdict: .error, reason: "\(error)"))
            }
        }
    }

    private enum Kind { case regular, directory, missing, other }

    private static func kind(of path: String, followingLinks: Bool) -> Kind {
        var status = stat()
        let found = followingLinks ? stat(path, &status) : lstat(path, &status)
        guard found == 0 else { return .missing }
        switch status.st_mode & S_IFMT {
        case S_IFREG: return .regular
        case S_IFDIR: return .directory
        default: return .other
        }
    }

    private static func walk(_ directory: String) -> [Entry] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        } catch {
            return [.failure(path: directory, reason: "cannot read folder: \(error.localizedDescription)")]
        }
        return names.flatMap { name -> [Entry] in
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            switch kind(of: path, followingLinks: false) {
            case .regular: return [.file(path)]
            case .directory: return walk(path)
            case .other: return kind(of: path, followingLinks: true) == .regular ? [.file(path)] : []
            case .missing: return []
            }
        }
    }
}
