import Foundation

/// Folders only this process can use: downloads, databases and unpacked members must not be
/// readable or replaceable by another user of the machine.
public enum PrivateDirectory {
    /// Creates a new folder `PREFIX-XXXXXX` in `base` (`TMPDIR` or `/tmp` when `nil`) with
    /// `mkdtemp`, and checks that it is a real folder owned by this user with no access for
    /// anyone else.
    public static func create(in base: String?, prefix: String) throws -> String {
        let parent = base ?? ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        var template = Array("\((parent as NSString).appendingPathComponent(prefix))-XXXXXX".utf8CString)
        let path = template.withUnsafeMutableBufferPointer { buffer -> String? in
            guard let created = mkdtemp(buffer.baseAddress!) else { return nil }
            return String(cString: created)
        }
        guard let path else {
            throw ClamAVError(.fileAccess, "cannot create a private folder in \(parent): \(String(cString: strerror(errno)))")
        }
        var status = stat()
        guard lstat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR, status.st_uid == geteuid(),
            status.st_mode & 0o077 == 0
        else {
            throw ClamAVError(.fileAccess, "\(path) is not a folder private to this user")
        }
        return path
    }

    /// Removes what an earlier process with `prefix` left in `base` (a runtime killed at its
    /// deadline leaves its downloads behind). Folders are named `PREFIX-PID-XXXXXX`: one is
    /// stale when its process is gone, or when it carries this process's own ID (a restarted
    /// sandbox reuses IDs, and this process has created nothing yet). Returns what it removed.
    @discardableResult
    public static func sweep(in base: String, prefix: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: base) else { return [] }
        let own = getpid()
        var removed: [String] = []
        for name in names where name.hasPrefix("\(prefix)-") {
            let parts = name.dropFirst(prefix.count + 1).split(separator: "-", maxSplits: 1)
            guard parts.count == 2, let pid = pid_t(parts[0]) else { continue }
            let alive = pid != own && (kill(pid, 0) == 0 || errno == EPERM)
            let path = (base as NSString).appendingPathComponent(name)
            var status = stat()
            guard !alive, lstat(path, &status) == 0, status.st_uid == geteuid() else { continue }
            if (try? FileManager.default.removeItem(atPath: path)) != nil { removed.append(path) }
        }
        return removed
    }

    /// The prefix of a folder for this process under ``sweep(in:prefix:)``'s naming.
    public static func processPrefix(_ prefix: String) -> String {
        "\(prefix)-\(getpid())"
    }
}
