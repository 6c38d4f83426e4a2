#!/usr/bin/env bash
# Writes the scan fixtures into DIR, built at test time from generated content:
#   eicar.com, eicar.zip.tar.gz (EICAR in a zip in a tar.gz), yara-canary.txt,
#   clean.txt, clean.png, empty.bin, random-2MiB.bin,
#   nested-12.zip (clean text inside 12 levels of zip), bomb.zip and bomb.gz (200 MiB of zeros),
#   encrypted.zip (a password-protected zip)
# Usage: scripts/make-test-files.sh DIR
set -euo pipefail
dir=${1:?usage: make-test-files.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

printf '%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' >"$dir/eicar.com"
(cd "$work" && cp "$dir/eicar.com" . && zip -q eicar.zip eicar.com && tar -czf "$dir/eicar.zip.tar.gz" eicar.zip)

printf 'This line carries S3-CLAMAV-SCANNER-YARA-CANARY for the YARA test rule.\n' >"$dir/yara-canary.txt"
printf 'An ordinary text file.\nNothing to see here.\n' >"$dir/clean.txt"
: >"$dir/empty.bin"
head -c 2097152 /dev/urandom >"$dir/random-2MiB.bin"

python3 - "$dir/clean.png" <<'PY'
import struct, sys, zlib
width, height = 16, 16
raw = b"".join(b"\x00" + b"".join(bytes((x * 16, y * 16, 128)) for x in range(width)) for y in range(height))
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) \
    + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
PY

(
    cd "$work"
    cp "$dir/clean.txt" level0.txt
    previous=level0.txt
    for level in $(seq 1 12); do
        zip -q "level$level.zip" "$previous"
        previous="level$level.zip"
    done
    cp "$previous" "$dir/nested-12.zip"
)

(cd "$work" && head -c 209715200 /dev/zero >zeros.bin && zip -q "$dir/bomb.zip" zeros.bin && gzip -c zeros.bin >"$dir/bomb.gz" && rm zeros.bin)
(cd "$work" && cp "$dir/clean.txt" secret.txt && zip -q -P s3cret "$dir/encrypted.zip" secret.txt)
