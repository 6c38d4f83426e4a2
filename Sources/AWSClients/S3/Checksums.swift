import Crypto
import Foundation

/// Hand-written for the CRCs: swift-crypto has SHA-1 and SHA-256 but no CRC-32, CRC-32C or
/// CRC-64/NVME, and no available package has them.
///
/// Computes one of S3's full-object checksums incrementally, to compare with `x-amz-checksum-*`.
/// https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
struct ChecksumComputer {
    private enum State {
        case crc32(UInt32)
        case crc32c(UInt32)
        case crc64(UInt64)
        case sha1(Insecure.SHA1)
        case sha256(SHA256)
    }

    let algorithm: S3Checksum.Algorithm
    private var state: State

    init(_ algorithm: S3Checksum.Algorithm) {
        self.algorithm = algorithm
        switch algorithm {
        case .crc32: state = .crc32(0xFFFF_FFFF)
        case .crc32c: state = .crc32c(0xFFFF_FFFF)
        case .crc64nvme: state = .crc64(~0)
        case .sha1: state = .sha1(Insecure.SHA1())
        case .sha256: state = .sha256(SHA256())
        }
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        switch state {
        case .crc32(var crc):
            for byte in bytes { crc = CRCTables.crc32[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
            state = .crc32(crc)
        case .crc32c(var crc):
            for byte in bytes { crc = CRCTables.crc32c[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
            state = .crc32c(crc)
        case .crc64(var crc):
            for byte in bytes { crc = CRCTables.crc64nvme[Int((crc ^ UInt64(byte)) & 0xFF)] ^ (crc >> 8) }
            state = .crc64(crc)
        case .sha1(var hash):
            hash.update(bufferPointer: bytes)
            state = .sha1(hash)
        case .sha256(var hash):
            hash.update(bufferPointer: bytes)
            state = .sha256(hash)
        }
    }

    /// The base64 value, as S3 writes it.
    func finalize() -> String {
        switch state {
        case .crc32(let crc): return Self.base64BigEndian(~crc)
        case .crc32c(let crc): return Self.base64BigEndian(~crc)
        case .crc64(let crc): return Self.base64BigEndian(~crc)
        case .sha1(let hash): return Data(hash.finalize()).base64EncodedString()
        case .sha256(let hash): return Data(hash.finalize()).base64EncodedString()
        }
    }

    private static func base64BigEndian<T: FixedWidthInteger>(_ value: T) -> String {
        withUnsafeBytes(of: value.bigEndian) { Data($0).base64EncodedString() }
    }
}

/// Reflected CRC tables, computed once (immutable, so safe to share).
enum CRCTables {
    static let crc32: [UInt32] = table32(polynomial: 0xEDB8_8320)
    static let crc32c: [UInt32] = table32(polynomial: 0x82F6_3B78)
    static let crc64nvme: [UInt64] = (0..<256).map { index in
        var crc = UInt64(index)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x9A6C_9329_AC4B_C9B5 : crc >> 1 }
        return crc
    }

    static func table32(polynomial: UInt32) -> [UInt32] {
        (0..<256).map { index in
            var crc = UInt32(index)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ polynomial : crc >> 1 }
            return crc
        }
    }
}
