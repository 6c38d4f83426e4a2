import Foundation

/// This process's memory as Linux reports it, and the limit it runs under: what decides
/// whether a new engine can be loaded while the old one keeps scanning.
public enum ProcessMemory {
    /// Resident memory now (`VmRSS`), in bytes.
    static func resident() -> Int64? { status("VmRSS") }

    /// The highest resident memory since start or the last ``resetPeak()`` (`VmHWM`), in bytes.
    static func peak() -> Int64? { status("VmHWM") }

    /// Starts the peak over from the current resident memory (`/proc/self/clear_refs`, 5).
    @discardableResult
    static func resetPeak() -> Bool {
        (try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)) != nil
    }

    /// The memory this process may use: a Lambda function's configured size, else the cgroup
    /// limit (an ECS task's), else `nil` (no known limit).
    public static func limit(environment: [String: String]) -> Int64? {
        if let megabytes = environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"].flatMap(Int64.init) { return megabytes << 20 }
        for path in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
            guard let handle = FileHandle(forReadingAtPath: path) else { continue }
            let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
            try? handle.close()
            // cgroup v1 writes a huge number for "no limit", v2 writes "max".
            if let bytes = Int64(text.trimmingCharacters(in: .whitespacesAndNewlines)), bytes < (1 << 50) { return bytes }
        }
        return nil
    }

    private static func status(_ field: String) -> Int64? {
        // procfs files report a size of 0: read to the end rather than by size.
        guard let handle = FileHandle(forReadingAtPath: "/proc/self/status") else { return nil }
        defer { try? handle.close() }
        let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            let kilobytes = line.dropFirst(field.count + 1).split(whereSeparator: \.isWhitespace).first.flatMap { Int64($0) }
            return kilobytes.map { $0 << 10 }
        }
        return nil
    }
}
