import Dispatch
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `scripts/test-mirror.py` on 127.0.0.1 at a free port, serving one folder of its own.
final class TestMirror: Sendable {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct Status: Decodable {
        let mode: String
        let requests: Int
        let paths: [String]
    }

    /// The folder whose files the mirror serves.
    let root: String
    let port: Int
    private let process: Process

    var baseURL: String { "http://127.0.0.1:\(port)" }

    private init(root: String, port: Int, process: Process) {
        self.root = root
        self.port = port
        self.process = process
    }

    deinit {
        stop()
    }

    static func start(root: String) async throws -> TestMirror {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", repositoryRoot.appendingPathComponent("scripts/test-mirror.py").path, "--root", root, "--port", "0"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The first line is the port; the blocking read runs on a Dispatch thread, not the pool.
        let line: String = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var data = Data()
                while !data.contains(UInt8(ascii: "\n")) {
                    let chunk = output.fileHandleForReading.availableData
                    if chunk.isEmpty { break }
                    data.append(chunk)
                }
                continuation.resume(returning: String(decoding: data, as: UTF8.self))
            }
        }
        guard let port = Int(line.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.terminate()
            throw MirrorError(message: "test-mirror.py did not print a port: \(line)")
        }
        return TestMirror(root: root, port: port, process: process)
    }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
        }
    }

    /// Sets the answer mode (`normal`, `429`, `403`, `404`, `500`, `corrupt`) and zeroes the counter.
    @discardableResult
    func control(mode: String, retryAfter: Int? = nil, reset: Bool = true) async throws -> Status {
        var body: [String: Any] = ["mode": mode, "reset": reset]
        if let retryAfter { body["retry_after"] = retryAfter }
        var request = URLRequest(url: URL(string: "\(baseURL)/control")!)
        request.httpMethod = "POST"
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        let (data, _) = try await URLSession.shared.data(for: request)
        return try JSONDecoder().decode(Status.self, from: data)
    }

    func status() async throws -> Status {
        let (data, _) = try await URLSession.shared.data(from: URL(string: "\(baseURL)/control")!)
        return try JSONDecoder().decode(Status.self, from: data)
    }

    /// Writes a file to serve, dated `modified` (the mirror's Last-Modified and its
    /// If-Modified-Since comparison use it; dating it ahead avoids same-second ties).
    func publish(_ name: String, contents: Data, modified: Date) throws {
        let path = (root as NSString).appendingPathComponent(name)
        try contents.write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.modificationDate: modified], ofItemAtPath: path)
    }
}

struct MirrorError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
