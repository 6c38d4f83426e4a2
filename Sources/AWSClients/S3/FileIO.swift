import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Positional file reads and writes on NIO's blocking-I/O thread pool, so that parallel
/// ranges can write their own parts of one file without a shared offset.
struct PositionalFile: Sendable {
    let descriptor: Int32
    let path: String

    static func create(path: String) throws -> PositionalFile {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "open \(path)") }
        return PositionalFile(descriptor: fd, path: path)
    }

    static func openForReading(path: String) throws -> (PositionalFile, Int64) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "open \(path)") }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            closeDescriptor(fd)
            throw IOError(errnoCode: code, reason: "fstat \(path)")
        }
        return (PositionalFile(descriptor: fd, path: path), Int64(info.st_size))
    }

    func truncate(to size: Int64) throws {
        guard ftruncate(descriptor, off_t(size)) == 0 else { throw IOError(errnoCode: errno, reason: "ftruncate \(path)") }
    }

    /// Writes the whole buffer at `offset`.
    func write(_ buffer: ByteBuffer, at offset: Int64) async throws {
        let descriptor = self.descriptor
        let path = self.path
        try await NIOThreadPool.singleton.runIfActive {
            try buffer.withUnsafeReadableBytes { bytes in
                var done = 0
                while done < bytes.count {
                    let written = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw IOError(errnoCode: errno, reason: "pwrite \(path)")
                    }
                    done += written
                }
            }
        }
    }

    /// Reads exactly `count` bytes at `offset`.
    func read(count: Int, at offset: Int64) async throws -> ByteBuffer {
        let descriptor = self.descriptor
        let path = self.path
        return try await NIOThreadPool.singleton.runIfActive {
            var buffer = ByteBufferAllocator().buffer(capacity: count)
            try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { bytes in
                var done = 0
                while done < count {
                    let got = pread(descriptor, bytes.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                    if got < 0 {
                        if errno == EINTR { continue }
                        throw IOError(errnoCode: errno, reason: "pread \(path)")
                    }
                    if got == 0 { throw IOError(errnoCode: EIO, reason: "\(path) ended at \(offset + Int64(done)), expected \(count) bytes") }
                    done += got
                }
                return done
            }
            return buffer
        }
    }

    func close() {
        closeDescriptor(descriptor)
    }

    static func remove(path: String) {
        _ = unlink(path)
    }
}

private func closeDescriptor(_ descriptor: Int32) {
    _ = close(descriptor)
}
