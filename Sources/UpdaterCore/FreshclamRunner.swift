import Foundation
import Synchronization

/// Runs freshclam once as a subprocess, with a time limit.
///
/// The run is awaited through the process's termination handler, so no thread of the
/// cooperative pool blocks on it; a watchdog task sends SIGTERM at the time limit and
/// SIGKILL a few seconds later if freshclam is still there.
public struct FreshclamRunner: Sendable {
    /// What one run printed and how it ended.
    public struct Run: Sendable, Equatable {
        /// The exit status (or the signal number when it was killed).
        public let exitCode: Int32
        /// stdout and stderr, interleaved as written.
        public let output: String
        /// Whether the run was killed at its time limit.
        public let timedOut: Bool
    }

    /// The freshclam executable: a path, or a name looked up on `PATH`.
    public let executable: String
    /// The time limit for one run, in seconds.
    public let timeout: TimeInterval
    /// How long to wait after SIGTERM before SIGKILL, in seconds.
    public let killGracePeriod: TimeInterval

    /// Creates a runner.
    public init(executable: String = "freshclam", timeout: TimeInterval = 300, killGracePeriod: TimeInterval = 5) {
        self.executable = executable
        self.timeout = timeout
        self.killGracePeriod = killGracePeriod
    }

    /// Runs `freshclam --config-file=CONFIG --no-dns --stdout` and writes its output to `logFile`.
    ///
    /// `--no-dns` because `DNSDatabaseInfo no` alone still makes a DNS query; `TZ=UTC` so that
    /// the cool-down dates it prints are UTC.
    ///
    /// - Throws: ``UpdateFailure`` when freshclam cannot be found or started.
    public func run(configFile: String, logFile: String, extraArguments: [String] = []) async throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try resolvedExecutable())
        process.arguments = ["--config-file=\(configFile)", "--no-dns", "--stdout"] + extraArguments
        var environment = ProcessInfo.processInfo.environment
        environment["TZ"] = "UTC"
        process.environment = environment

        guard FileManager.default.createFile(atPath: logFile, contents: nil), let log = FileHandle(forWritingAtPath: logFile) else {
            throw UpdateFailure(.freshclamFailed, "cannot create the freshclam log file \(logFile)")
        }
        defer { try? log.close() }
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice

        let (terminations, continuation) = AsyncStream<Int32>.makeStream(of: Int32.self, bufferingPolicy: .bufferingNewest(1))
        let exited = Mutex(false)
        process.terminationHandler = { finished in
            exited.withLock { $0 = true }
            continuation.yield(finished.terminationStatus)
            continuation.finish()
        }
        do {
            try process.run()
        } catch {
            throw UpdateFailure(.freshclamFailed, "cannot start \(executable): \(error.localizedDescription)")
        }

        let pid = process.processIdentifier
        let timedOut = Mutex(false)
        let (timeout, grace) = (self.timeout, self.killGracePeriod)
        let watchdog = Task {
            // Cancelled when freshclam exits first; a cancelled sleep throws and ends the task.
            try await Task.sleep(for: .seconds(timeout))
            guard !exited.withLock({ $0 }) else { return }
            timedOut.withLock { $0 = true }
            kill(pid, SIGTERM)
            try await Task.sleep(for: .seconds(grace))
            if !exited.withLock({ $0 }) { kill(pid, SIGKILL) }
        }

        var status: Int32 = -1
        for await code in terminations { status = code }
        watchdog.cancel()

        let output =
            (try? String(contentsOfFile: logFile, encoding: .utf8))
            ?? String(decoding: FileManager.default.contents(atPath: logFile) ?? Data(), as: UTF8.self)
        return Run(exitCode: status, output: output, timedOut: timedOut.withLock { $0 })
    }

    /// The executable's path: as given when it contains `/`, otherwise the first match on `PATH`.
    func resolvedExecutable() throws -> String {
        if executable.contains("/") {
            guard FileManager.default.isExecutableFile(atPath: executable) else {
                throw UpdateFailure(.freshclamFailed, "freshclam executable \(executable) does not exist or is not executable")
            }
            return executable
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(executable)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw UpdateFailure(.freshclamFailed, "freshclam executable \(executable) is not on PATH (\(path))")
    }
}
