import CArchive

/// One libarchive read handle over one file, set up for one way of reading it.
///
/// The handle opens the file by path, so it has a file offset of its own: it never moves
/// the offset of a descriptor someone else is reading (libclamav's, for a layer it unpacked
/// and hands to a callback as `/proc/self/fd/N`). Not thread-safe; one scan owns it.
final class ArchiveHandle {
    private let handle: OpaquePointer

    /// Opens `path` with `setup`; `nil` when no enabled format or filter recognises it.
    init?(path: String, setup: (OpaquePointer) -> Void) {
        guard let handle = archive_read_new() else { return nil }
        setup(handle)
        // 64 KiB reads: large enough that bidding (which looks at the first bytes, or for
        // ISO 9660 at 32 KiB) rarely needs a second read.
        guard archive_read_open_filename(handle, path, 65_536) == ARCHIVE_OK else {
            archive_read_free(handle)
            return nil
        }
        self.handle = handle
    }

    deinit {
        archive_read_free(handle)
    }

    /// The filters libarchive stacked to read the file, outermost first (without `none`).
    var filterNames: [String] {
        let count = archive_filter_count(handle)
        return (0..<count).reversed().compactMap { index in
            guard archive_filter_code(handle, index) != ARCHIVE_FILTER_NONE,
                let name = archive_filter_name(handle, index)
            else { return nil }
            return String(cString: name)
        }
    }

    /// The format libarchive settled on (known after the first header).
    var formatName: String {
        archive_format_name(handle).map { String(cString: $0) } ?? "unknown"
    }

    /// libarchive's last error message.
    var errorMessage: String {
        archive_error_string(handle).map { String(cString: $0) } ?? "unknown libarchive error"
    }

    /// The next entry; `nil` at the end of the archive. Throws the error message when the
    /// archive cannot be read any further.
    func nextEntry() throws(HandleFailure) -> Entry? {
        var entry: OpaquePointer?
        let status = archive_read_next_header(handle, &entry)
        switch status {
        case ARCHIVE_EOF:
            return nil
        case ARCHIVE_OK, ARCHIVE_WARN:
            // A warning on a header is about metadata (a name that cannot be converted,
            // an unknown extension): the entry and its data are still there.
            guard let entry else { throw HandleFailure(message: "libarchive returned no entry") }
            return Entry(entry)
        default:
            throw HandleFailure(message: errorMessage)
        }
    }

    /// The next block of the current entry's data and its offset in the entry; `nil` at the
    /// end of the data. Offsets may jump ahead: the gap is a hole of zeros (sparse files).
    func nextBlock() throws(HandleFailure) -> (bytes: UnsafeRawBufferPointer, offset: Int64)? {
        var buffer: UnsafeRawPointer?
        var size = 0
        var offset: la_int64_t = 0
        let status = archive_read_data_block(handle, &buffer, &size, &offset)
        switch status {
        case ARCHIVE_EOF:
            return nil
        case ARCHIVE_OK, ARCHIVE_WARN:
            // libarchive warns when a checksum does not match; the bytes it produced are
            // what every unpacker would produce, and they are scanned.
            return (UnsafeRawBufferPointer(start: buffer, count: size), Int64(offset))
        default:
            throw HandleFailure(message: errorMessage)
        }
    }

    /// What libarchive says about one entry.
    struct Entry {
        let pointer: OpaquePointer

        init(_ pointer: OpaquePointer) {
            self.pointer = pointer
        }

        /// The entry's path as the archive spells it.
        var pathname: String {
            if let name = archive_entry_pathname_utf8(pointer) { return String(cString: name) }
            if let name = archive_entry_pathname(pointer) { return String(cString: name) }
            return "(unnamed)"
        }

        /// Whether the entry holds file data (directories, links and devices hold none).
        var isRegularFile: Bool {
            UInt32(archive_entry_filetype(pointer)) == carchive_regular_file_type()
                && archive_entry_hardlink(pointer) == nil
        }

        /// Whether the entry's data is encrypted (libarchive cannot read it without a key).
        var isEncrypted: Bool {
            archive_entry_is_data_encrypted(pointer) == 1 || archive_entry_is_metadata_encrypted(pointer) == 1
        }

        /// Whether the data has holes (a sparse file): the holes read as zeros.
        var isSparse: Bool {
            archive_entry_sparse_count(pointer) > 0
        }

        /// The size the archive declares for the data, when it declares one.
        var declaredSize: Int64? {
            archive_entry_size_is_set(pointer) != 0 ? Int64(archive_entry_size(pointer)) : nil
        }
    }

    /// libarchive's error for a read that cannot go on.
    struct HandleFailure: Error {
        let message: String
    }
}
