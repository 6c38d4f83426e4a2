import Crypto
import Foundation

/// The scanner's second unpacker: reads archives and compressed streams with libarchive, so
/// that what libclamav cannot unpack (or does not recognise) is unpacked and scanned too,
/// and whatever neither can unpack completely is reported instead of being passed as clean.
///
/// Every member is unpacked to a file in a folder the caller owns, handed to a visitor (which
/// scans it), and removed. Anything that keeps a member from being unpacked completely (an
/// unreadable header, an unsupported method, encryption, a limit) becomes an
/// ``UnpackProblem`` naming the member; the caller turns problems into an `UNSCANNABLE`
/// verdict. Blocking: call it off Swift's cooperative pool.
public enum Unpacker {
    /// What a file is, as far as the second unpacker can tell.
    public enum Recognition: Sendable, Equatable {
        /// Neither an archive nor a compressed stream the scanner recognises.
        case none
        /// A compressed stream (the filter names, outermost first); it holds one member.
        case compressedStream([String])
        /// An archive in at least one of the formats the scanner reads.
        case archive
        /// A container the scanner recognises but cannot unpack (its name, as in "an lzop stream").
        case foreign(String)
    }

    /// Tells what `path` is: cheap for ordinary files (three short reads).
    public static func recognise(path: String) -> Recognition {
        if let name = ForeignContainer.match(leadingBytes(of: path, count: ForeignContainer.headerLength)) {
            return .foreign(name)
        }
        if let stream = ReadingView.compressedStream.open(path) {
            let filters = stream.filterNames
            if !filters.isEmpty { return .compressedStream(filters) }
        }
        return ReadingView.anyArchive.open(path) == nil ? .none : .archive
    }

    /// Unpacks every member of `path` (every archive format that reads it, or the content of
    /// a compressed stream) into `directory`, calls `visit` with each one, and removes it.
    /// `visit` returns `false` to stop (for example after a detection).
    ///
    /// - Returns: what kept members from being unpacked completely; empty when every member
    ///   was unpacked (or the file is not a container).
    /// - Throws: an I/O error writing into `directory` (a full disk is a failure, not a
    ///   verdict), or whatever `visit` throws.
    public static func unpack(
        path: String, into directory: String, budget: UnpackBudget, visit: (UnpackedMember) throws -> Bool
    ) throws -> [UnpackProblem] {
        let views: [ReadingView]
        var streamName: String?
        switch recognise(path: path) {
        case .none:
            return []
        case .foreign(let name):
            return [UnpackProblem(.foreignFormat, "it is \(name), which the scanner cannot unpack")]
        case .compressedStream(let filters):
            views = [.compressedStream]
            streamName = "the content of the \(filters.joined(separator: " in ")) stream"
        case .archive:
            views = ReadingView.archives
        }

        return try withoutActuallyEscaping(visit) { visit in
            var reading = Reading(directory: directory, budget: budget, visit: visit)
            for view in views {
                guard let handle = view.open(path) else { continue }
                let entries = try reading.read(handle, view: view, fixedName: streamName)
                if reading.stopped { break }
                if view == ReadingView.archives[0], let declared = ZipDirectory.declaredEntryCount(path: path), declared > entries {
                    reading.problems.append(
                        UnpackProblem(
                            .unreadable, "the zip declares \(declared) entries in its central directory, but only \(entries) could be read"
                        ))
                }
            }
            return reading.problems
        }
    }

    /// One call of ``unpack(path:into:budget:visit:)``: its problems and whether to stop.
    private struct Reading {
        let directory: String
        let budget: UnpackBudget
        let visit: (UnpackedMember) throws -> Bool
        var problems: [UnpackProblem] = []
        var stopped = false

        /// Reads every entry of one view; returns how many entries it saw.
        mutating func read(_ handle: ArchiveHandle, view: ReadingView, fixedName: String?) throws -> UInt64 {
            var entries: UInt64 = 0
            var previous: String?
            while !stopped {
                guard !budget.isOutOfTime else { return stop(UnpackProblem(.outOfTime, "no time was left to unpack it")) }
                let entry: ArchiveHandle.Entry?
                do {
                    entry = try handle.nextEntry()
                } catch {
                    let place = previous.map { "after member \($0)" } ?? "at its first entry"
                    problems.append(UnpackProblem(.unreadable, "its \(view.name) structure cannot be read \(place): \(error.message)"))
                    break
                }
                guard let entry else { break }
                entries += 1
                let name = fixedName ?? UnpackedMember.displayName(entry.pathname)
                previous = name
                guard entry.isRegularFile else { continue }
                if entry.isEncrypted {
                    problems.append(UnpackProblem(.encrypted, "member \(name) is encrypted", member: name))
                    continue
                }
                if let declared = entry.declaredSize, declared > budget.limits.maxMemberSize {
                    problems.append(
                        UnpackProblem(
                            .oversized, "member \(name) is \(declared) bytes, over the max file size (\(budget.limits.maxMemberSize))", member: name
                        ))
                    continue
                }
                budget.members += 1
                guard budget.members <= budget.limits.maxMembers else {
                    return stop(UnpackProblem(.limitReached, "it holds more than \(budget.limits.maxMembers) members (the max files limit)"))
                }
                guard let member = try extract(handle, entry: entry, name: name) else { continue }
                defer { unlink(member.path) }
                if try !visit(member) { stopped = true }
            }
            return entries
        }

        @discardableResult
        private mutating func stop(_ problem: UnpackProblem) -> UInt64 {
            problems.append(problem)
            stopped = true
            return 0
        }

        /// Writes the current entry's data to a new file; `nil` (with a problem recorded)
        /// when it cannot be unpacked completely.
        private mutating func extract(_ handle: ArchiveHandle, entry: ArchiveHandle.Entry, name: String) throws -> UnpackedMember? {
            let path = (directory as NSString).appendingPathComponent("member-\(budget.members)")
            let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard descriptor >= 0 else {
                throw UnpackIOError(message: "cannot create \(path): \(String(cString: strerror(errno)))")
            }
            var complete = false
            defer {
                close(descriptor)
                if !complete { unlink(path) }
            }

            var hasher = SHA256()
            var end: Int64 = 0
            while true {
                guard !budget.isOutOfTime else {
                    stop(UnpackProblem(.outOfTime, "no time was left to unpack member \(name)", member: name))
                    return nil
                }
                let block: (bytes: UnsafeRawBufferPointer, offset: Int64)?
                do {
                    block = try handle.nextBlock()
                } catch {
                    problems.append(UnpackProblem(.unreadable, "member \(name) could not be unpacked: \(error.message)", member: name))
                    return nil
                }
                guard let block else { break }
                guard block.offset >= end else {
                    problems.append(UnpackProblem(.unreadable, "member \(name) could not be unpacked: its data goes backwards", member: name))
                    return nil
                }
                let newEnd = block.offset + Int64(block.bytes.count)
                guard newEnd <= budget.limits.maxMemberSize else {
                    problems.append(
                        UnpackProblem(
                            .oversized, "member \(name) is larger than the max file size (\(budget.limits.maxMemberSize))", member: name
                        ))
                    return nil
                }
                guard budget.bytes + (newEnd - end) <= budget.limits.maxTotalBytes else {
                    stop(
                        UnpackProblem(
                            .limitReached, "unpacking member \(name) goes over the max scan size (\(budget.limits.maxTotalBytes))", member: name
                        ))
                    return nil
                }
                // A hole (sparse file) reads as zeros: hash it so that equal content has an equal digest.
                if block.offset > end { hashZeros(count: block.offset - end, into: &hasher) }
                try write(block.bytes, at: block.offset, to: descriptor, path: path)
                hasher.update(bufferPointer: block.bytes)
                budget.bytes += newEnd - end
                end = newEnd
            }
            // A sparse file may end in a hole, which no block covers.
            if entry.isSparse, let declared = entry.declaredSize, declared > end {
                guard declared <= budget.limits.maxMemberSize, budget.draw(bytes: declared - end) else {
                    problems.append(
                        UnpackProblem(
                            .oversized, "member \(name) is larger than the limits allow (\(declared) bytes)", member: name
                        ))
                    return nil
                }
                hashZeros(count: declared - end, into: &hasher)
                end = declared
            }
            if let declared = entry.declaredSize, declared != end {
                problems.append(
                    UnpackProblem(
                        .unreadable, "member \(name) declares \(declared) bytes but \(end) were unpacked", member: name
                    ))
                return nil
            }
            if ftruncate(descriptor, off_t(end)) != 0 {
                throw UnpackIOError(message: "cannot size \(path): \(String(cString: strerror(errno)))")
            }
            complete = true
            return UnpackedMember(name: name, path: path, size: end, digest: ContentDigest(hasher.finalize()))
        }

        private func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64, to descriptor: Int32, path: String) throws {
            var written = 0
            while written < bytes.count {
                let result = pwrite(descriptor, bytes.baseAddress! + written, bytes.count - written, off_t(offset) + off_t(written))
                if result < 0 {
                    if errno == EINTR { continue }
                    throw UnpackIOError(message: "cannot write \(path): \(String(cString: strerror(errno)))")
                }
                written += result
            }
        }

        private func hashZeros(count: Int64, into hasher: inout SHA256) {
            let zeros = [UInt8](repeating: 0, count: 65_536)
            var left = count
            while left > 0 {
                let chunk = Int(min(left, Int64(zeros.count)))
                zeros.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<chunk])) }
                left -= Int64(chunk)
            }
        }
    }

    private static func leadingBytes(of path: String, count: Int) -> [UInt8] {
        guard let file = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? file.close() }
        return [UInt8]((try? file.read(upToCount: count)) ?? Data())
    }
}

/// A member unpacked to a file; the unpacker removes the file when the visitor returns.
public struct UnpackedMember: Sendable {
    /// The member's path inside its container, made safe for logs (no control characters,
    /// at most 200 characters).
    public let name: String
    /// Where its content is.
    public let path: String
    /// Its size in bytes.
    public let size: Int64
    /// The SHA-256 of its content.
    public let digest: ContentDigest

    static func displayName(_ raw: String) -> String {
        let cleaned = String(
            String.UnicodeScalarView(
                raw.unicodeScalars.map { scalar in
                    scalar.value < 0x20 || scalar.value == 0x7F ? "?" : scalar
                }))
        return cleaned.count <= 200 ? cleaned : "…" + cleaned.suffix(199)
    }
}

/// The SHA-256 of some content: what tells two members (or a member and a layer libclamav
/// unpacked) apart.
public struct ContentDigest: Hashable, Sendable {
    private let bytes: [UInt8]

    init(_ digest: SHA256.Digest) {
        bytes = Array(digest)
    }

    /// The digest of the file at `path`, read through its own descriptor; `nil` when it
    /// cannot be read.
    public init?(fileAt path: String) {
        guard let file = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? file.close() }
        var hasher = SHA256()
        while true {
            guard let chunk = try? file.read(upToCount: 1 << 20) else { return nil }
            if chunk.isEmpty { break }
            hasher.update(data: chunk)
        }
        self.init(hasher.finalize())
    }
}

/// Limits on what one object may unpack, across every nesting level.
public struct UnpackLimits: Sendable, Equatable {
    /// The largest member unpacked (libclamav's honoured max file size).
    public var maxMemberSize: Int64
    /// The most members unpacked.
    public var maxMembers: Int
    /// The most bytes unpacked in all.
    public var maxTotalBytes: Int64

    /// Creates limits.
    public init(maxMemberSize: Int64, maxMembers: Int, maxTotalBytes: Int64) {
        self.maxMemberSize = maxMemberSize
        self.maxMembers = maxMembers
        self.maxTotalBytes = maxTotalBytes
    }
}

/// What one object has unpacked so far, and until when it may go on. Every container found
/// while scanning the object draws on the same budget. Used by one thread at a time.
public final class UnpackBudget {
    /// The limits.
    public let limits: UnpackLimits
    /// When unpacking must stop; `nil` for no deadline.
    public let deadline: ContinuousClock.Instant?
    /// Members unpacked so far.
    public internal(set) var members = 0
    /// Bytes unpacked so far.
    public internal(set) var bytes: Int64 = 0

    /// Creates an empty budget.
    public init(limits: UnpackLimits, deadline: ContinuousClock.Instant?) {
        self.limits = limits
        self.deadline = deadline
    }

    /// Whether the deadline has passed.
    public var isOutOfTime: Bool {
        deadline.map { ContinuousClock.now >= $0 } ?? false
    }

    /// Counts bytes copied out of a container by someone else (a layer libclamav unpacked);
    /// `false` when they do not fit the limit.
    public func draw(bytes count: Int64) -> Bool {
        guard bytes + count <= limits.maxTotalBytes else { return false }
        bytes += count
        return true
    }
}

/// Why a container could not be unpacked completely.
public struct UnpackProblem: Sendable, Equatable, CustomStringConvertible {
    /// The kind of problem.
    public enum Kind: Sendable, Equatable {
        /// A member is encrypted.
        case encrypted
        /// A header or a member cannot be read (unsupported method, damage).
        case unreadable
        /// A member is larger than the max file size.
        case oversized
        /// The object holds more members or more bytes than the limits allow.
        case limitReached
        /// The deadline passed.
        case outOfTime
        /// A container format the scanner recognises but cannot unpack.
        case foreignFormat
    }

    /// The kind.
    public let kind: Kind
    /// What happened, naming the member when there is one.
    public let description: String
    /// The member, when the problem is about one.
    public let member: String?

    /// Creates a problem.
    public init(_ kind: Kind, _ description: String, member: String? = nil) {
        self.kind = kind
        self.description = description
        self.member = member
    }
}

/// Writing an unpacked member failed (for example a full disk): a failure, not a verdict.
public struct UnpackIOError: Error, CustomStringConvertible {
    public init(message: String) { self.message = message }
    /// What failed.
    public let message: String
    public var description: String { message }
}
