import CArchive

/// One way of reading a file with libarchive: a single archive format, or a compressed
/// stream.
///
/// Each archive format is tried on its own rather than letting libarchive pick the best
/// bidder, because a hostile file can be two archives at once (a tar followed by a zip, a
/// zip whose local headers and central directory disagree): every format that can read the
/// file gets its members unpacked. Archive views enable no decompression filter: a
/// compressed stream is unpacked once, by ``compressedStream``, into one member whose
/// content is then examined again, so a `tar.zst` is a zstd stream holding a tar.
struct ReadingView: Sendable, Hashable {
    /// The view's name in reasons and logs.
    let name: String
    private let setup: @Sendable (OpaquePointer) -> Void

    private init(_ name: String, _ setup: @escaping @Sendable (OpaquePointer) -> Void) {
        self.name = name
        self.setup = setup
    }

    static func == (lhs: ReadingView, rhs: ReadingView) -> Bool { lhs.name == rhs.name }
    func hash(into hasher: inout Hasher) { hasher.combine(name) }

    /// Opens `path` this way; `nil` when the view does not recognise it.
    func open(_ path: String) -> ArchiveHandle? {
        ArchiveHandle(path: path, setup: setup)
    }

    /// The archive formats the scanner reads. Not `mtree` (its entries name files on the
    /// scanner's own disk), not `raw` and `empty` (they are not containers).
    static let archives: [ReadingView] = [
        ReadingView("zip (central directory)") { _ = archive_read_support_format_zip_seekable($0) },
        ReadingView("zip (local headers)") { _ = archive_read_support_format_zip_streamable($0) },
        ReadingView("7z") { _ = archive_read_support_format_7zip($0) },
        ReadingView("rar") { _ = archive_read_support_format_rar($0) },
        ReadingView("rar5") { _ = archive_read_support_format_rar5($0) },
        ReadingView("tar") { _ = archive_read_support_format_tar($0) },
        ReadingView("cpio") { _ = archive_read_support_format_cpio($0) },
        ReadingView("iso9660") { _ = archive_read_support_format_iso9660($0) },
        ReadingView("cab") { _ = archive_read_support_format_cab($0) },
        ReadingView("lha") { _ = archive_read_support_format_lha($0) },
        ReadingView("xar") { _ = archive_read_support_format_xar($0) },
        ReadingView("ar") { _ = archive_read_support_format_ar($0) },
        ReadingView("warc") { _ = archive_read_support_format_warc($0) },
    ]

    /// Every archive format at once: one open tells whether any of them recognises a file,
    /// so that ordinary files cost one bid instead of thirteen.
    static let anyArchive = ReadingView("any archive") { handle in
        _ = archive_read_support_format_zip(handle)
        _ = archive_read_support_format_7zip(handle)
        _ = archive_read_support_format_rar(handle)
        _ = archive_read_support_format_rar5(handle)
        _ = archive_read_support_format_tar(handle)
        _ = archive_read_support_format_cpio(handle)
        _ = archive_read_support_format_iso9660(handle)
        _ = archive_read_support_format_cab(handle)
        _ = archive_read_support_format_lha(handle)
        _ = archive_read_support_format_xar(handle)
        _ = archive_read_support_format_ar(handle)
        _ = archive_read_support_format_warc(handle)
    }

    /// A compressed stream, as one member: the filters libarchive implements in process.
    /// lzop, lrzip and grzip are left out because libarchive would run an external program
    /// for them; ``ForeignContainer`` reports those as formats the scanner cannot unpack.
    static let compressedStream = ReadingView("compressed stream") { handle in
        _ = archive_read_support_format_raw(handle)
        _ = archive_read_support_filter_bzip2(handle)
        _ = archive_read_support_filter_compress(handle)
        _ = archive_read_support_filter_gzip(handle)
        _ = archive_read_support_filter_lz4(handle)
        _ = archive_read_support_filter_lzip(handle)
        _ = archive_read_support_filter_lzma(handle)
        _ = archive_read_support_filter_xz(handle)
        _ = archive_read_support_filter_zstd(handle)
        _ = archive_read_support_filter_uu(handle)
        _ = archive_read_support_filter_rpm(handle)
    }
}
