/// Containers and compressed streams that the scanner recognises but neither libclamav nor
/// libarchive (in process) can unpack. A file that starts like one of them is reported as
/// not scannable instead of being scanned as opaque bytes and called clean.
///
/// Formats without a signature (raw deflate, brotli) cannot be recognised by anyone; the
/// threat model says so.
enum ForeignContainer {
    /// The longest signature plus its offset: how many leading bytes ``match(_:)`` needs.
    static let headerLength = 16

    /// The format (with its article, as in "an lzop stream") whose signature `header` starts with, if any.
    static func match(_ header: [UInt8]) -> String? {
        signatures.first { signature in
            let end = signature.offset + signature.bytes.count
            return header.count >= end && Array(header[signature.offset..<end]) == signature.bytes
        }?.name
    }

    private struct Signature {
        let name: String
        let offset: Int
        let bytes: [UInt8]

        init(_ name: String, at offset: Int = 0, _ bytes: [UInt8]) {
            self.name = name
            self.offset = offset
            self.bytes = bytes
        }

        init(_ name: String, at offset: Int = 0, ascii: String) {
            self.init(name, at: offset, Array(ascii.utf8))
        }
    }

    // Signatures from each format's documentation (and `file`'s magic database).
    private static let signatures: [Signature] = [
        Signature("an lzop stream", [0x89, 0x4C, 0x5A, 0x4F, 0x00, 0x0D, 0x0A, 0x1A, 0x0A]),
        Signature("an lrzip stream", ascii: "LRZI"),
        Signature("a grzip stream", ascii: "GRZipII"),
        Signature("a snappy framed stream", [0xFF, 0x06, 0x00, 0x00, 0x73, 0x4E, 0x61, 0x50, 0x70, 0x59]),
        Signature("a zpaq archive", ascii: "7kSt"),
        Signature("a squashfs image", ascii: "hsqs"),
        Signature("a squashfs image", ascii: "sqsh"),
        Signature("a WIM image", ascii: "MSWIM\0\0\0"),
        Signature("an ACE archive", at: 7, ascii: "**ACE**"),
        Signature("a StuffIt archive", ascii: "SIT!"),
        Signature("a StuffIt archive", ascii: "StuffIt "),
    ]
}
