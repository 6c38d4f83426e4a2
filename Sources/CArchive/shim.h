#ifndef S3_CLAMAV_SCANNER_CARCHIVE_SHIM_H
#define S3_CLAMAV_SCANNER_CARCHIVE_SHIM_H

// libarchive (https://libarchive.org): the scanner's second unpacker, for the archives and
// compressed streams that libclamav cannot unpack or does not recognise.
#include <archive.h>
#include <archive_entry.h>

// Swift cannot import macros with casts; these expose the ones we need.

/// The file type of a regular file in `archive_entry_filetype`.
static inline unsigned int carchive_regular_file_type(void) { return AE_IFREG; }

#endif
