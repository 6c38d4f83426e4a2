#!/usr/bin/env python3
"""Writes an unsigned ClamAV container (.cud) holding one signature file, for tests that need
a versioned database without ClamAV's signing key (a self-made .cvd is rejected; a .cud is
loaded as unsigned, and its header carries a version like daily.cvd's).

Usage: make-test-cud.py NAME VERSION SIGNATURE_FILE OUTPUT
  NAME            database name, such as daily (the container holds NAME.info and NAME.EXT)
  VERSION         the header's version number
  SIGNATURE_FILE  a signature file such as test.ndb; its extension is kept
  OUTPUT          the .cud file to write

Layout (libclamav cvd.c, cli_cvdload): a 512-byte header
"ClamAV-VDB:build time:version:signatures:functionality level:MD5:signature:builder:time",
padded with spaces, then a tar.gz with NAME.info (the same header line, then one
"file:size:sha256" line per file) and the signature file.
"""

import hashlib
import io
import os
import sys
import tarfile
import time


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    name, version, signature_file, output = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    with open(signature_file, "rb") as handle:
        signatures = handle.read()
    member = "%s%s" % (name, os.path.splitext(signature_file)[1])
    count = sum(1 for line in signatures.splitlines() if line.strip())
    created = int(time.time())
    build_time = time.strftime("%d %b %Y %H-%M +0000", time.gmtime(created))
    header = "ClamAV-VDB:%s:%d:%d:90:%%s:X:test:%d" % (build_time, version, count, created)

    info = (header % ("0" * 32)) + "\n" + "%s:%d:%s\n" % (member, len(signatures), hashlib.sha256(signatures).hexdigest())
    body = io.BytesIO()
    with tarfile.open(fileobj=body, mode="w:gz", format=tarfile.GNU_FORMAT) as archive:
        for arcname, data in (("%s.info" % name, info.encode()), (member, signatures)):
            entry = tarfile.TarInfo(arcname)
            entry.size = len(data)
            entry.mtime = created
            archive.addfile(entry, io.BytesIO(data))
    content = body.getvalue()
    with open(output, "wb") as handle:
        handle.write((header % hashlib.md5(content).hexdigest()).encode().ljust(512, b" ") + content)


if __name__ == "__main__":
    main()
