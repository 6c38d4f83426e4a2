import Foundation
import Observability
import Synchronization

/// What many test targets need: the repository, EICAR, private folders, child processes,
/// and a sink that collects log lines.
public enum Repository {
    /// The repository's root folder.
    public static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A path inside the repository.
    public static func path(_ relative: String) -> String {
        root.appendingPathComponent(relative).path
    }
}

/// The EICAR anti-virus test file (https://www.eicar.org/download-anti-malware-testfile/).
public enum EICAR {
    /// Its 68 bytes, as text.
    public static let text = #"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"#
    /// Its bytes.
    public static let data = Data(text.utf8)
    /// A body signature (`.ndb` line) that matches it.
    public static func bodySignature(name: String = "Test.EICAR.Body") -> String {
        "\(name):0:*:\(data.map { String(format: "%02x", $0) }.joined())\n"
    }
}

/// A new empty folder under the system's temporary folder; removed by the caller.
public func temporaryFolder(_ prefix: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// What a finished child process left.
public struct ProcessOutcome: Sendable {
    /// Its exit status.
    public let status: Int32
    /// What it wrote to standard output.
    public let standardOutput: String
    /// What it wrote to standard error.
    public let standardError: String
}

/// Runs a program to its end in the repository's root folder and collects its output.
@discardableResult
public func runProcess(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> ProcessOutcome {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.currentDirectoryURL = Repository.root
    if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    // Read both pipes while the process runs, so that neither fills up and blocks it.
    let errorData = Mutex(Data())
    let reading = DispatchGroup()
    DispatchQueue(label: "runProcess.stderr").async(group: reading) {
        let data = errors.fileHandleForReading.readDataToEndOfFile()
        errorData.withLock { $0 = data }
    }
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    reading.wait()
    process.waitUntilExit()
    return ProcessOutcome(
        status: process.terminationStatus, standardOutput: String(decoding: outputData, as: UTF8.self),
        standardError: String(decoding: errorData.withLock { $0 }, as: UTF8.self)
    )
}

/// Collects the lines a `LineSink` is given.
public final class LineCollector: Sendable {
    private let storage = Mutex<[String]>([])

    /// An empty collector.
    public init() {}

    /// The sink to give a log handler or a metrics emitter.
    public var sink: LineSink {
        LineSink { line in self.storage.withLock { $0.append(line) } }
    }

    /// The lines so far.
    public var lines: [String] { storage.withLock { $0 } }

    /// Each line parsed as a JSON object.
    public func objects() throws -> [[String: Any]] {
        try lines.map { line in
            guard let dictionary = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw CocoaError(.coderReadCorrupt, userInfo: [NSDebugDescriptionErrorKey: "not a JSON object: \(line)"])
            }
            return dictionary
        }
    }
}

/// A failure with a message, for tests.
public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
