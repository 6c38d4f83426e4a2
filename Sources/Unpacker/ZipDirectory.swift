import Foundation

/// How many entries a zip file's end-of-central-directory record declares, so that a reader
/// that stops early without an error is caught (APPNOTE.TXT, sections 4.3.14-4.3.16:
/// https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT).
enum ZipDirectory {
    /// The declared number of entries, or `nil` when the file has no readable record.
    static func declaredEntryCount(path: String) -> UInt64? {
        guard let file = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? file.close() }
        guard let size = try? file.seekToEnd(), size >= 22 else { return nil }
        // The record is 22 bytes plus a comment of at most 65,535 bytes, at the very end.
        let tailLength = min(size, 22 + 65_535)
        guard (try? file.seek(toOffset: size - tailLength)) != nil,
            let tail = try? file.readToEnd(), tail.count == Int(tailLength)
        else { return nil }
        let bytes = [UInt8](tail)

        var index = bytes.count - 22
        while index >= 0 {
            if bytes[index] == 0x50, bytes[index + 1] == 0x4B, bytes[index + 2] == 0x05, bytes[index + 3] == 0x06 {
                let commentLength = Int(littleEndian16(bytes, index + 20))
                if index + 22 + commentLength == bytes.count {
                    let entries = littleEndian16(bytes, index + 10)
                    guard entries == 0xFFFF else { return UInt64(entries) }
                    let recordOffset = size - tailLength + UInt64(index)
                    return zip64EntryCount(file: file, bytes: bytes, eocdIndex: index, recordOffset: recordOffset)
                }
            }
            index -= 1
        }
        return nil
    }

    /// The count from the ZIP64 end-of-central-directory record, which the locator just
    /// before the classic record points to.
    private static func zip64EntryCount(file: FileHandle, bytes: [UInt8], eocdIndex: Int, recordOffset: UInt64) -> UInt64? {
        let locator = eocdIndex - 20
        guard locator >= 0, bytes[locator] == 0x50, bytes[locator + 1] == 0x4B,
            bytes[locator + 2] == 0x06, bytes[locator + 3] == 0x07
        else { return nil }
        let offset = littleEndian64(bytes, locator + 8)
        guard offset < recordOffset, (try? file.seek(toOffset: offset)) != nil,
            let record = try? file.read(upToCount: 56), record.count == 56
        else { return nil }
        let fields = [UInt8](record)
        guard fields[0] == 0x50, fields[1] == 0x4B, fields[2] == 0x06, fields[3] == 0x06 else { return nil }
        return littleEndian64(fields, 32)
    }

    private static func littleEndian16(_ bytes: [UInt8], _ at: Int) -> UInt16 {
        UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8
    }

    private static func littleEndian64(_ bytes: [UInt8], _ at: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { value, byte in value | UInt64(bytes[at + byte]) << (8 * UInt64(byte)) }
    }
}
