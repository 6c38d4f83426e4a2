import ClamAV
import Foundation

/// One file of a database directory as the updater publishes it.
public struct DatabaseFileRecord: Sendable, Equatable, Codable {
    /// The file name, such as `daily.cld`, `custom.ndb` or `freshclam.dat`.
    public let name: String
    /// The size in bytes.
    public let size: Int64
    /// The modification time. freshclam sends it as `If-Modified-Since` for custom URLs, so a
    /// restored file must get this time back, or an update made upstream between the
    /// download and the restore would be missed.
    public let modificationTime: Date
    /// The version in a `.cvd`/`.cld` header; `nil` for other files.
    public let version: Int?

    /// Creates a record.
    public init(name: String, size: Int64, modificationTime: Date, version: Int?) {
        self.name = name
        self.size = size
        self.modificationTime = modificationTime
        self.version = version
    }
}

/// Reads and changes the files of a database directory (regular files at its top level;
/// freshclam's temporary folders are ignored).
enum DatabaseDirectory {
    /// What identifies one version of a file cheaply: freshclam replaces a file by writing a
    /// new one and renaming it, so a changed file has a new inode, size or time.
    struct Fingerprint: Equatable {
        let size: Int64
        let modificationTime: Date
        let inode: UInt64
    }

    static func fingerprints(of directory: String) throws -> [String: Fingerprint] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw UpdateFailure(.workDirectory, "cannot list \(directory): \(error.localizedDescription)")
        }
        var result: [String: Fingerprint] = [:]
        for name in names {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                attributes[.type] as? FileAttributeType == .typeRegular
            else { continue }
            result[name] = Fingerprint(
                size: (attributes[.size] as? NSNumber)?.int64Value ?? 0,
                modificationTime: attributes[.modificationDate] as? Date ?? .distantPast,
                inode: (attributes[.systemFileNumber] as? NSNumber)?.uint64Value ?? 0
            )
        }
        return result
    }

    /// Names whose fingerprint differs or that are new in `after`, sorted.
    static func changed(from before: [String: Fingerprint], to after: [String: Fingerprint]) -> [String] {
        after.filter { before[$0.key] != $0.value }.map(\.key).sorted()
    }

    /// Creates `directory` (and its parents) when missing.
    static func create(_ directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw UpdateFailure(.workDirectory, "cannot create \(directory): \(error.localizedDescription)")
        }
    }

    /// Replaces `destination` with a copy of the regular files of `source`, keeping their
    /// modification times (freshclam's `If-Modified-Since` depends on them).
    static func copy(_ source: String, to destination: String) throws {
        let manager = FileManager.default
        if manager.fileExists(atPath: destination) {
            do { try manager.removeItem(atPath: destination) } catch {
                throw UpdateFailure(.workDirectory, "cannot remove \(destination): \(error.localizedDescription)")
            }
        }
        try create(destination)
        for (name, fingerprint) in try fingerprints(of: source) {
            let from = (source as NSString).appendingPathComponent(name)
            let to = (destination as NSString).appendingPathComponent(name)
            do {
                try manager.copyItem(atPath: from, toPath: to)
                try manager.setAttributes([.modificationDate: fingerprint.modificationTime], ofItemAtPath: to)
            } catch {
                throw UpdateFailure(.workDirectory, "cannot copy \(from) to \(to): \(error.localizedDescription)")
            }
        }
    }

    /// Moves the named files from `source` over those in `destination` (one rename each,
    /// same file system) and deletes `removed` from `destination`.
    static func promote(_ names: [String], from source: String, to destination: String, removing removed: [String]) throws {
        for name in names {
            let from = (source as NSString).appendingPathComponent(name)
            let to = (destination as NSString).appendingPathComponent(name)
            guard rename(from, to) == 0 else {
                throw UpdateFailure(.workDirectory, "cannot move \(from) to \(to): \(String(cString: strerror(errno)))")
            }
        }
        for name in removed {
            let path = (destination as NSString).appendingPathComponent(name)
            do { try FileManager.default.removeItem(atPath: path) } catch {
                throw UpdateFailure(.workDirectory, "cannot remove \(path): \(error.localizedDescription)")
            }
        }
    }

    /// Records for every regular file of `directory`, sorted by name.
    static func records(of directory: String) throws -> [DatabaseFileRecord] {
        try fingerprints(of: directory).sorted { $0.key < $1.key }.map { name, fingerprint in
            DatabaseFileRecord(
                name: name,
                size: fingerprint.size,
                modificationTime: fingerprint.modificationTime,
                version: signedDatabaseVersion(atPath: (directory as NSString).appendingPathComponent(name))
            )
        }
    }

    /// The version field of a `.cvd`/`.cld`/`.cud` header
    /// (`ClamAV-VDB:build time:version:signatures:level:MD5:signature:builder:time`, padded
    /// to 512 bytes); `nil` for other files or a header that does not parse.
    static func signedDatabaseVersion(atPath path: String) -> Int? {
        guard ["cvd", "cld", "cud"].contains((path as NSString).pathExtension.lowercased()),
            let handle = FileHandle(forReadingAtPath: path)
        else { return nil }
        defer { try? handle.close() }
        guard let header = try? handle.read(upToCount: 512) else { return nil }
        let fields = String(decoding: header, as: UTF8.self).split(separator: ":", omittingEmptySubsequences: false)
        guard fields.count > 2, fields[0] == "ClamAV-VDB" else { return nil }
        return Int(fields[2].trimmingCharacters(in: .whitespaces))
    }

    /// `daily` for `daily.cld`.
    static func databaseName(_ fileName: String) -> String {
        String(fileName.prefix { $0 != "." })
    }
}
