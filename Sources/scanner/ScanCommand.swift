import ArgumentParser
import ClamAV
import Foundation

/// `scanner scan [--database DIR] [--json] PATH...` (docs/design.md, "Command line").
struct ScanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Scan local files and folders (recursively).",
        discussion: """
            Prints one line per file, "PATH: VERDICT [SIGNATURE]" (a reason follows in \
            parentheses for unscannable and failed files), or one JSON object per line with \
            --json. Inside folders, links to folders are not followed.
            Exit status: 0 when every file is clean, 1 when any is infected, 2 when any failed \
            or was unscannable and none is infected, or when the database cannot be loaded.
            """
    )

    @Option(name: .long, help: ArgumentHelp("The ClamAV database folder.", valueName: "DIR"))
    var database: String = ClamAVLibrary.defaultDatabaseDirectory

    @Flag(name: .long, help: "Print one JSON object per line: path, verdict, signature, reason.")
    var json = false

    @Option(name: .long, help: "Files larger than this many bytes (also inside archives) are unscannable.")
    var maxFileSize: Int64 = ScanLimits.clamAVDefaults.maxFileSize

    @Option(name: .long, help: "The most bytes scanned for one file, counting what is unpacked from it.")
    var maxScanSize: Int64 = ScanLimits.clamAVDefaults.maxScanSize

    @Option(name: .long, help: "The most files scanned inside one file's archives.")
    var maxFiles: Int = ScanLimits.clamAVDefaults.maxFiles

    @Option(name: .long, help: "The deepest nesting of archives that is unpacked.")
    var maxRecursion: Int = ScanLimits.clamAVDefaults.maxRecursion

    @Option(name: .long, help: "How many files are scanned at once.")
    var concurrency: Int = ProcessInfo.processInfo.activeProcessorCount

    @Argument(help: ArgumentHelp("Files and folders to scan.", valueName: "PATH"))
    var paths: [String]

    func validate() throws {
        for (name, value) in [
            ("--max-file-size", maxFileSize), ("--max-scan-size", maxScanSize),
            ("--max-files", Int64(maxFiles)), ("--max-recursion", Int64(maxRecursion)),
            ("--concurrency", Int64(concurrency)),
        ] where value <= 0 {
            throw ValidationError("\(name) must be positive, got \(value)")
        }
    }

    func run() async throws {
        let limits = ScanLimits(
            maxFileSize: maxFileSize,
            maxScanSize: maxScanSize,
            maxFiles: maxFiles,
            maxRecursion: maxRecursion,
            maxScanTimeMilliseconds: ScanLimits.clamAVDefaults.maxScanTimeMilliseconds
        )
        let engine: ClamAVEngine
        do {
            engine = try await ClamAVEngine.load(databaseDirectory: database, options: EngineOptions(limits: limits))
        } catch {
            FileHandle.standardError.write(Data("scanner: \(error)\n".utf8))
            throw ExitCode(2)
        }

        let entries = PathScanner.expand(paths)
        var report = ScanReport(json: json, progress: entries.count > 1 ? TerminalProgress(total: entries.count) : nil)
        for await item in PathScanner(engine: engine, concurrency: concurrency).scan(entries) {
            report.add(item)
        }
        report.finish()
        throw ExitCode(report.exitCode)
    }
}

/// Prints results as they arrive and computes the exit status.
private struct ScanReport {
    let json: Bool
    var progress: TerminalProgress?
    private var infected = false
    private var incomplete = false

    init(json: Bool, progress: TerminalProgress?) {
        self.json = json
        self.progress = progress
    }

    mutating func add(_ item: FileScanResult) {
        progress?.clear()
        print(json ? jsonLine(item) : textLine(item))
        progress?.advance()
        switch item.result.verdict {
        case .clean: break
        case .infected: infected = true
        case .unscannable, .blocked, .error: incomplete = true
        }
    }

    func finish() {
        progress?.clear()
    }

    var exitCode: Int32 { infected ? 1 : incomplete ? 2 : 0 }

    private func textLine(_ item: FileScanResult) -> String {
        var line = "\(item.path): \(item.result.verdict.rawValue)"
        if let signature = item.result.signature { line += " \(signature)" }
        if let reason = item.result.reason { line += " (\(reason))" }
        return line
    }

    private func jsonLine(_ item: FileScanResult) -> String {
        struct Line: Encodable {
            let path: String
            let verdict: String
            let signature: String?
            let reason: String?
            let fileType: String?
            func encode(to encoder: Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(path, forKey: .path)
                try container.encode(verdict, forKey: .verdict)
                try container.encode(signature, forKey: .signature)
                try container.encodeIfPresent(reason, forKey: .reason)
                try container.encodeIfPresent(fileType, forKey: .fileType)
            }
            enum CodingKeys: String, CodingKey { case path, verdict, signature, reason, fileType }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let line = Line(
            path: item.path, verdict: item.result.verdict.rawValue,
            signature: item.result.signature, reason: item.result.reason, fileType: item.result.fileType)
        // Encoding strings cannot fail; a failure here would be a bug in Foundation.
        return String(decoding: try! encoder.encode(line), as: UTF8.self)
    }
}

/// A "scanned N/TOTAL" line on standard error, shown only when it is a terminal.
private struct TerminalProgress {
    let total: Int
    private var done = 0
    private let enabled = isatty(STDERR_FILENO) == 1

    init(total: Int) {
        self.total = total
    }

    mutating func advance() {
        done += 1
        guard enabled else { return }
        FileHandle.standardError.write(Data("scanned \(done)/\(total)".utf8))
    }

    func clear() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
