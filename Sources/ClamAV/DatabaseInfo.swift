import CClamAV
import Foundation

/// What an engine loaded: the signature count and each database file's header.
public struct DatabaseInfo: Sendable, Equatable {
    /// One database file in the loaded directory.
    public struct File: Sendable, Equatable {
        /// The file name, such as `daily.cld` or `custom.ndb`.
        public let name: String
        /// The version in a `.cvd`/`.cld`/`.cud` header; `nil` for plain signature files.
        public let version: Int?
        /// The build time in a `.cvd`/`.cld`/`.cud` header; `nil` for plain signature files.
        public let buildTime: Date?
        /// The signature count in a `.cvd`/`.cld`/`.cud` header; `nil` for plain signature files.
        public let signatureCount: Int?
    }

    /// Describes a database; the engine fills this in when it loads one.
    public init(directory: String, signatureCount: Int, files: [File]) {
        self.directory = directory
        self.signatureCount = signatureCount
        self.files = files
    }

    /// The directory the database was loaded from.
    public let directory: String
    /// The number of signatures libclamav loaded.
    public let signatureCount: Int
    /// Every database file in the directory, sorted by name.
    public let files: [File]

    /// The database version as `name:version` pairs of the signed databases, for example
    /// `main:62+daily:27461+bytecode:335` (S3 tag values allow `+` and `:`, not `,`); `nil`
    /// when the directory holds none.
    public var version: String? {
        let order = ["main", "daily", "bytecode"]
        let versioned = files.compactMap { file -> (String, Int)? in
            guard let version = file.version else { return nil }
            return (String(file.name.prefix { $0 != "." }), version)
        }
        guard !versioned.isEmpty else { return nil }
        return
            versioned
            .sorted { (order.firstIndex(of: $0.0) ?? order.count, $0.0) < (order.firstIndex(of: $1.0) ?? order.count, $1.0) }
            .map { "\($0.0):\($0.1)" }
            .joined(separator: "+")
    }

    /// The newest build time among the signed databases; `nil` when there is none.
    public var newestBuildTime: Date? {
        files.compactMap(\.buildTime).max()
    }

    /// File extensions libclamav loads from a database directory (`cli_strbcasestr` list in
    /// libclamav's `readdb.h`, `CLI_DBEXT`).
    public static let databaseExtensions: Set<String> = [
        "db", "hdb", "hdu", "fp", "mdb", "mdu", "hsb", "hsu", "sfp", "msb", "msu", "ndb", "ndu",
        "ldb", "ldu", "sdb", "zmd", "rmd", "pdb", "gdb", "wdb", "cbc", "ftm", "cfg", "cvd", "cld",
        "cud", "cdb", "cat", "crb", "idb", "ioc", "yar", "yara", "pwdb", "ign", "ign2", "imp",
    ]

    /// Whether libclamav would load a file of this name from a database directory.
    public static func isDatabaseFile(_ name: String) -> Bool {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return false }
        return databaseExtensions.contains(name[name.index(after: dot)...].lowercased())
    }

    /// Reads the header of a signed database (`.cvd`, `.cld`, `.cud`); `nil` for other files
    /// or when the header cannot be parsed.
    static func header(ofDatabaseAt path: String) -> File? {
        let name = (path as NSString).lastPathComponent
        let ext = (name as NSString).pathExtension.lowercased()
        guard ["cvd", "cld", "cud"].contains(ext) else {
            return File(name: name, version: nil, buildTime: nil, signatureCount: nil)
        }
        guard let cvd = cl_cvdhead(path) else { return nil }
        defer { cl_cvdfree(cvd) }
        return File(
            name: name,
            version: Int(cvd.pointee.version),
            buildTime: Date(timeIntervalSince1970: TimeInterval(cvd.pointee.stime)),
            signatureCount: Int(cvd.pointee.sigs)
        )
    }
}
