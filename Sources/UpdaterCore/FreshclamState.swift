import Foundation

/// What freshclam keeps in `freshclam.dat` in the database directory: its UUID and, after
/// an HTTP 429 or 403 from a mirror, the time until which it must not download again.
///
/// The layout (ClamAV 1.4, `freshclam_dat_v1_t` in `libfreshclam.c`, seen with `xxd` after
/// a 429): the 13-byte magic `FreshClamData`, a little-endian `UInt32` version (1), the
/// 37-byte UUID string, padding, and the cool-down end as a little-endian 64-bit Unix time
/// at byte 61 (0 when there is none).
public struct FreshclamState: Sendable, Equatable {
    /// The file's name inside the database directory.
    public static let fileName = "freshclam.dat"

    /// The UUID freshclam sends in its User-Agent.
    public let uuid: String
    /// The end of the cool-down; `nil` when there is none.
    public let coolDownUntil: Date?

    private static let magic = Array("FreshClamData".utf8)
    private static let uuidOffset = 17
    private static let uuidLength = 37
    private static let retryAfterOffset = 61

    /// Parses the file's bytes; `nil` when they are not a version 1 `freshclam.dat`.
    public init?(data: Data) {
        let bytes = [UInt8](data)
        guard bytes.count >= Self.retryAfterOffset + 8, Array(bytes[0..<Self.magic.count]) == Self.magic else { return nil }
        let version = Self.littleEndian(bytes, at: Self.magic.count, count: 4)
        guard version == 1 else { return nil }
        let uuidBytes = bytes[Self.uuidOffset..<(Self.uuidOffset + Self.uuidLength)].prefix { $0 != 0 }
        uuid = String(decoding: uuidBytes, as: UTF8.self)
        let retryAfter = Int64(bitPattern: Self.littleEndian(bytes, at: Self.retryAfterOffset, count: 8))
        coolDownUntil = retryAfter > 0 ? Date(timeIntervalSince1970: TimeInterval(retryAfter)) : nil
    }

    /// Reads `freshclam.dat` from a database directory; `nil` when it is missing or unreadable.
    public init?(databaseDirectory: String) {
        let path = (databaseDirectory as NSString).appendingPathComponent(Self.fileName)
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        self.init(data: data)
    }

    private static func littleEndian(_ bytes: [UInt8], at offset: Int, count: Int) -> UInt64 {
        (0..<count).reduce(UInt64(0)) { value, index in value | UInt64(bytes[offset + index]) << (8 * UInt64(index)) }
    }
}
