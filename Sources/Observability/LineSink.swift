#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where finished log and metric lines go: standard error, standard output, or a test's buffer.
///
/// Each line is written with a single `write(2)` call, newline included, so lines from
/// concurrent tasks never interleave inside a line (CloudWatch Logs reads one event per line).
public struct LineSink: Sendable {
    private let writeLine: @Sendable (String) -> Void

    /// Creates a sink that hands each line (without its trailing newline) to `writeLine`.
    public init(_ writeLine: @escaping @Sendable (String) -> Void) {
        self.writeLine = writeLine
    }

    /// Writes one line; the sink adds the newline.
    public func write(_ line: String) {
        writeLine(line)
    }

    /// The process's standard error, where Lambda and ECS collect application logs.
    public static let standardError = LineSink { line in writeAll(line, to: 2) }

    /// The process's standard output, where Lambda expects Embedded Metric Format lines.
    public static let standardOutput = LineSink { line in writeAll(line, to: 1) }
}

/// Writes `line` and a newline to `descriptor` in one `write(2)` where possible.
private func writeAll(_ line: String, to descriptor: Int32) {
    var bytes = Array(line.utf8)
    bytes.append(UInt8(ascii: "\n"))
    bytes.withUnsafeBytes { buffer in
        var offset = 0
        while offset < buffer.count {
            let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return  // Nowhere left to report a failing log stream.
            }
            offset += written
        }
    }
}
