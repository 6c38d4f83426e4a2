import Foundation

/// Small, valid files of the types the file-type policy is tested with, made byte by byte
/// (no image library is needed): each opens in an ordinary viewer.
public enum FileSamples {
    /// A 2×2 grey PNG (signature, IHDR, IDAT holding a stored zlib stream, IEND).
    public static var png: Data {
        func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
            let typed = Array(type.utf8) + body
            return bigEndian(UInt32(body.count)) + typed + bigEndian(crc32(typed))
        }
        let header = bigEndian(UInt32(2)) + bigEndian(UInt32(2)) + [8, 0, 0, 0, 0]  // 8-bit greyscale
        let rows: [UInt8] = [0, 0x80, 0x80, 0, 0x80, 0x80]  // filter byte 0, two pixels, per row
        // zlib: header, one final stored deflate block (LEN, ~LEN), the Adler-32 of the data.
        let length = UInt16(rows.count)
        let stored: [UInt8] = [0x78, 0x01, 0x01, UInt8(length & 0xff), UInt8(length >> 8), UInt8(~length & 0xff), UInt8(~length >> 8)]
        let zlib = stored + rows + bigEndian(adler32(rows))
        return Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header) + chunk("IDAT", zlib) + chunk("IEND", []))
    }

    /// A 1×1 GIF89a (global colour table of two, one LZW-coded pixel).
    public static var gif: Data {
        Data(
            Array("GIF89a".utf8) + [1, 0, 1, 0, 0x80, 0, 0] + [0, 0, 0, 0xff, 0xff, 0xff]
                + [0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0] + [2, 2, 0x44, 0x01, 0] + [0x3B])
    }

    /// An 8×8 mid-grey baseline JPEG (JFIF): one component, one block whose coefficients are
    /// all zero, coded with one-symbol Huffman tables.
    public static var jpeg: Data {
        func segment(_ marker: UInt8, _ body: [UInt8]) -> [UInt8] { [0xFF, marker] + bigEndian(UInt16(body.count + 2)) + body }
        let jfif = segment(0xE0, Array("JFIF".utf8) + [0, 1, 1, 0, 0, 1, 0, 1, 0, 0])
        let quantisation = segment(0xDB, [0] + [UInt8](repeating: 1, count: 64))
        let frame = segment(0xC0, [8, 0, 8, 0, 8, 1, 1, 0x11, 0])
        // DC table 0 and AC table 0, each one code of length 1 for symbol 0 (DC difference 0; end of block).
        let lengths: [UInt8] = [1] + [UInt8](repeating: 0, count: 15)
        let huffman = segment(0xC4, [0x00] + lengths + [0]) + segment(0xC4, [0x10] + lengths + [0])
        let scan = segment(0xDA, [1, 1, 0x00, 0, 63, 0])
        // Bits: DC code 0, AC end-of-block 0, padded with ones.
        return Data([0xFF, 0xD8] + jfif + quantisation + frame + huffman + scan + [0x3F] + [0xFF, 0xD9])
    }

    /// A one-page PDF with a line of text, its cross-reference table at the right offsets.
    public static var pdf: Data {
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
            "<< /Length 41 >>\nstream\nBT /F1 12 Tf 20 50 Td (a sample) Tj ET\nendstream",
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
        var text = "%PDF-1.4\n"
        var offsets: [Int] = []
        for (index, object) in objects.enumerated() {
            offsets.append(text.utf8.count)
            text += "\(index + 1) 0 obj\n\(object)\nendobj\n"
        }
        let xref = text.utf8.count
        text += "xref\n0 \(objects.count + 1)\n0000000000 65535 f \n"
        text += offsets.map { String(format: "%010d 00000 n \n", $0) }.joined()
        text += "trailer\n<< /Size \(objects.count + 1) /Root 1 0 R >>\nstartxref\n\(xref)\n%%EOF\n"
        return Data(text.utf8)
    }

    /// A zip holding one stored text file.
    public static var zip: Data {
        let name = Array("readme.txt".utf8)
        let body = Array("nothing to see\n".utf8)
        let crc = littleEndian(crc32(body))
        let sizes = littleEndian(UInt32(body.count)) + littleEndian(UInt32(body.count))
        let common = littleEndian(UInt16(20)) + [0, 0, 0, 0] + [0, 0, 0x21, 0] + crc + sizes + littleEndian(UInt16(name.count)) + [0, 0]
        let local = [0x50, 0x4B, 0x03, 0x04] + common + name + body
        let central = [0x50, 0x4B, 0x01, 0x02] + littleEndian(UInt16(20)) + common + [0, 0, 0, 0, 0, 0] + [0, 0, 0, 0] + [0, 0, 0, 0] + name
        let end =
            [0x50, 0x4B, 0x05, 0x06, 0, 0, 0, 0, 1, 0, 1, 0] + littleEndian(UInt32(central.count)) + littleEndian(UInt32(local.count)) + [0, 0]
        return Data(local + central + end)
    }

    /// An HTML page.
    public static var html: Data {
        Data("<!DOCTYPE html>\n<html><head><title>not an image</title></head><body><script>alert(1)</script></body></html>\n".utf8)
    }

    /// A Windows PE executable: ClamAV's own clam.exe (clamav-testfiles) with its last byte
    /// changed, so that the generated hash signature of clam.exe does not match it.
    public static var portableExecutable: Data {
        get throws {
            var data = try Data(contentsOf: URL(fileURLWithPath: "/usr/share/clamav-testfiles/clam.exe"))
            data[data.count - 1] ^= 0xFF
            return data
        }
    }

    private static func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian, Array.init)
    }

    private static func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian, Array.init)
    }

    private static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    private static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1
        var b: UInt32 = 0
        for byte in bytes {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        return b << 16 | a
    }
}
