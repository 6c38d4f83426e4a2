#!/usr/bin/env python3
"""Writes hostile archives into DIR: EICAR hidden in containers that common unpackers open
but libclamav 1.4 skips, trims or does not recognise, plus DIR/expected.json, which maps
each file to the verdict it must get: INFECTED where the scanner's second unpacker
(libarchive) reads the container, NOT_CLEAN where nothing in process can unpack it (the
verdict must then be UNSCANNABLE or INFECTED, never CLEAN). Clean counterparts in the same
formats must come back CLEAN (no false alarm from the accounting), and clean containers
that nothing in process can account for UNSCANNABLE.

    make-hostile-archives.py DIR [--large]

--large adds the deflated entry of 2 GiB + 4 KiB of zeros followed by EICAR (a 2 MB file
that inflates to more than libclamav's max file size; about 5 s to write).
Needs 7z, zstd, lzip, xz, lz4, lzop, compress and genisoimage (scripts/setup.sh).
"""
import binascii
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def payload():
    """Text around EICAR, so that compressors transform the EICAR bytes instead of storing
    them literally (a raw scan of the archive then cannot find them)."""
    rng = random.Random(1)
    words = ["".join(rng.choice("abcdefghij") for _ in range(5)) for _ in range(200)]
    text = " ".join(rng.choice(words) for _ in range(4000)).encode()
    return text[:10000] + EICAR + text[10000:]


class Unseekable(io.RawIOBase):
    """A write-only stream without seek: zipfile then writes data descriptors, as streaming
    ZIP writers do."""

    def __init__(self, target):
        self.target = target

    def writable(self):
        return True

    def write(self, data):
        return self.target.write(data)


def run(*command, cwd):
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def build(out, large):
    expected = {}
    work = tempfile.mkdtemp()
    try:
        data = payload()
        with open(os.path.join(work, "payload.txt"), "wb") as file:
            file.write(data)
        with open(os.path.join(work, "readme.txt"), "wb") as file:
            file.write(b"nothing to see here\n" * 50)

        def keep(name, verdict="INFECTED"):
            shutil.copy(os.path.join(work, name), os.path.join(out, name))
            expected[name] = verdict

        # zip: compression methods libclamav 1.4 lists as unsupported, and streaming ZIP64.
        for name, method in [("zip-lzma.zip", zipfile.ZIP_LZMA), ("zip-bzip2.zip", zipfile.ZIP_BZIP2)]:
            with zipfile.ZipFile(os.path.join(work, name), "w", compression=method) as archive:
                archive.writestr("readme.txt", b"hello")
                archive.writestr("payload.txt", data)
            keep(name)
        run("7z", "a", "-tzip", "-mm=PPMd", "zip-ppmd.zip", "payload.txt", cwd=work)
        keep("zip-ppmd.zip")
        for name, method in [("zip-stream64.zip", zipfile.ZIP_DEFLATED), ("zip-stream64-stored.zip", zipfile.ZIP_STORED)]:
            with open(os.path.join(work, name), "wb") as target:
                with zipfile.ZipFile(Unseekable(target), "w", compression=method) as archive:
                    for entry, content in [("readme.txt", b"hello" * 100), ("payload.txt", data)]:
                        with archive.open(entry, "w", force_zip64=True) as member:
                            member.write(content)
            keep(name)

        # 7z coders libclamav 1.4 lacks (libarchive has them), and ones nobody in process has.
        for coder in ["BZip2", "Deflate", "PPMd"]:
            run("7z", "a", "-t7z", f"-m0={coder}", f"7z-{coder.lower()}.7z", "payload.txt", cwd=work)
            keep(f"7z-{coder.lower()}.7z")
        for name, chain in [("7z-delta.7z", ["-m0=Delta:4", "-m1=LZMA2"]), ("7z-sparc.7z", ["-m0=SPARC", "-m1=LZMA2"]),
                            ("7z-solid.7z", ["-m0=LZMA2", "-ms=on"])]:
            run("7z", "a", "-t7z", *chain, name, "readme.txt", "payload.txt", cwd=work)
            keep(name)
        run("7z", "a", "-t7z", "-m0=Deflate64", "7z-deflate64.7z", "payload.txt", cwd=work)
        keep("7z-deflate64.7z", "NOT_CLEAN")
        run("7z", "a", "-t7z", "-m0=ARM64", "-m1=LZMA2", "7z-arm64.7z", "payload.txt", cwd=work)
        keep("7z-arm64.7z", "NOT_CLEAN")
        run("7z", "a", "-t7z", "-mhe=on", "-psecret", "7z-encrypted-header.7z", "payload.txt", cwd=work)
        keep("7z-encrypted-header.7z", "NOT_CLEAN")

        # Compressed streams libclamav does not recognise, and tars inside them.
        for name, command in [("payload.txt.zst", ["zstd", "-q", "-f", "payload.txt", "-o", "payload.txt.zst"]),
                              ("payload.txt.lz", ["lzip", "-k", "-f", "payload.txt"]),
                              ("payload.txt.lzma", ["xz", "-k", "-f", "--format=lzma", "payload.txt"])]:
            run(*command, cwd=work)
            keep(name)
        with open(os.path.join(work, "payload.txt.Z"), "wb") as file:
            subprocess.run(["compress", "-c", "payload.txt"], cwd=work, check=True, stdout=file)
        keep("payload.txt.Z")
        for name, option in [("payload.tar.zst", "--zstd"), ("payload.tar.lz", "--lzip"), ("payload.tar.Z", "-Z")]:
            run("tar", option, "-cf", name, "readme.txt", "payload.txt", cwd=work)
            keep(name)
        # Two gzip members: most readers stop after the first.
        with open(os.path.join(work, "two-members.gz"), "wb") as file:
            file.write(zlib_gzip(b"the first member is clean\n") + zlib_gzip(data))
        keep("two-members.gz")

        # The same, nested in ordinary containers.
        with zipfile.ZipFile(os.path.join(work, "nested-zip-lzma.zip"), "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.write(os.path.join(work, "zip-lzma.zip"), "inner.zip")
        keep("nested-zip-lzma.zip")
        with zipfile.ZipFile(os.path.join(work, "nested-zst.zip"), "w") as archive:
            archive.write(os.path.join(work, "payload.txt.zst"), "data.zst")
        keep("nested-zst.zip")
        with tarfile.open(os.path.join(work, "nested-7z.tar.gz"), "w:gz") as archive:
            archive.add(os.path.join(work, "7z-ppmd.7z"), "inner.7z")
        keep("nested-7z.tar.gz")
        run("7z", "a", "-t7z", "nested-tar-lz.7z", "payload.tar.lz", cwd=work)
        keep("nested-tar-lz.7z")

        # Two archives in one file: a clean tar followed by a zip that hides the payload.
        with open(os.path.join(work, "tar-then-zip.tar"), "wb") as file:
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w") as archive:
                archive.add(os.path.join(work, "readme.txt"), "readme.txt")
            file.write(buffer.getvalue())
            with open(os.path.join(work, "zip-lzma.zip"), "rb") as zip_file:
                file.write(zip_file.read())
        keep("tar-then-zip.tar")

        # An ISO 9660 image holding a zstd stream.
        iso_root = os.path.join(work, "iso")
        os.mkdir(iso_root)
        shutil.copy(os.path.join(work, "payload.txt.zst"), os.path.join(iso_root, "data.zst"))
        run("genisoimage", "-quiet", "-o", "image.iso", "iso", cwd=work)
        keep("image.iso")

        # A zip with an AES-encrypted entry: nobody can read it without the password.
        run("7z", "a", "-tzip", "-mem=AES256", "-psecret", "zip-aes.zip", "payload.txt", cwd=work)
        keep("zip-aes.zip", "NOT_CLEAN")

        # Clean counterparts: the accounting must not turn ordinary archives unscannable.
        clean_sources = ["readme.txt"]
        with zipfile.ZipFile(os.path.join(work, "clean.zip"), "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("dir/", b"")
            archive.write(os.path.join(work, "readme.txt"), "dir/readme.txt")
            archive.writestr("empty.txt", b"")
        keep("clean.zip", "CLEAN")
        with zipfile.ZipFile(os.path.join(work, "clean-lzma.zip"), "w", compression=zipfile.ZIP_LZMA) as archive:
            archive.write(os.path.join(work, "readme.txt"), "readme.txt")
        keep("clean-lzma.zip", "CLEAN")
        with open(os.path.join(work, "clean-stream.zip"), "wb") as target:
            with zipfile.ZipFile(Unseekable(target), "w", compression=zipfile.ZIP_DEFLATED) as archive:
                with archive.open("readme.txt", "w") as member:
                    member.write(b"streamed\n" * 100)
        keep("clean-stream.zip", "CLEAN")
        run("7z", "a", "-t7z", "-m0=PPMd", "clean.7z", *clean_sources, cwd=work)
        keep("clean.7z", "CLEAN")
        run("tar", "--zstd", "-cf", "clean.tar.zst", *clean_sources, cwd=work)
        keep("clean.tar.zst", "CLEAN")
        run("lzip", "-k", "-f", "readme.txt", cwd=work)
        os.rename(os.path.join(work, "readme.txt.lz"), os.path.join(work, "clean.txt.lz"))
        keep("clean.txt.lz", "CLEAN")
        sparse = os.path.join(work, "sparse.bin")
        with open(sparse, "wb") as file:
            file.write(b"start")
            file.seek(1 << 20)
            file.write(b"middle")
            file.truncate(3 << 20)
        run("tar", "--sparse", "-cf", "clean-sparse.tar", "sparse.bin", cwd=work)
        keep("clean-sparse.tar", "CLEAN")
        run("arj", "a", "clean.arj", "readme.txt", cwd=work)
        keep("clean.arj", "UNSCANNABLE")
        with open(os.path.join(work, "clean.txt.lzo"), "wb") as file:
            subprocess.run(["lzop", "-c", "readme.txt"], cwd=work, check=True, stdout=file)
        keep("clean.txt.lzo", "UNSCANNABLE")

        if large:
            write_large_zip(os.path.join(out, "large-entry.zip"))
            expected["large-entry.zip"] = "NOT_CLEAN"
    finally:
        shutil.rmtree(work)
    with open(os.path.join(out, "expected.json"), "w") as file:
        json.dump(expected, file, indent=2, sort_keys=True)


def zlib_gzip(data):
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()


def write_large_zip(path):
    """One deflated entry: 2 GiB + 4 KiB of zeros, then EICAR. libclamav caps its max file
    size at INT_MAX - 2 and cuts the entry at an 8 KiB boundary below that."""
    zeros = (2 << 30) + 4096
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b"\0" * (1 << 24)
    crc = 0
    parts = []
    left = zeros
    while left:
        count = min(left, len(chunk))
        crc = binascii.crc32(chunk[:count], crc)
        parts.append(compressor.compress(chunk[:count]))
        left -= count
    crc = binascii.crc32(EICAR, crc)
    parts.append(compressor.compress(EICAR))
    parts.append(compressor.flush())
    compressed = b"".join(parts)
    size = zeros + len(EICAR)
    name = b"zeros-then-eicar.bin"
    local = (b"PK\x03\x04" + (20).to_bytes(2, "little") + (0).to_bytes(2, "little") + (8).to_bytes(2, "little")
             + (0).to_bytes(4, "little") + crc.to_bytes(4, "little") + len(compressed).to_bytes(4, "little")
             + size.to_bytes(4, "little") + len(name).to_bytes(2, "little") + (0).to_bytes(2, "little") + name)
    central = (b"PK\x01\x02" + (20).to_bytes(2, "little") + (20).to_bytes(2, "little") + (0).to_bytes(2, "little")
               + (8).to_bytes(2, "little") + (0).to_bytes(4, "little") + crc.to_bytes(4, "little")
               + len(compressed).to_bytes(4, "little") + size.to_bytes(4, "little") + len(name).to_bytes(2, "little")
               + (0).to_bytes(2, "little") * 3 + (0).to_bytes(2, "little") + (0).to_bytes(4, "little")
               + (0).to_bytes(4, "little") + name)
    end = (b"PK\x05\x06" + (0).to_bytes(2, "little") * 2 + (1).to_bytes(2, "little") * 2
           + len(central).to_bytes(4, "little") + (len(local) + len(compressed)).to_bytes(4, "little")
           + (0).to_bytes(2, "little"))
    with open(path, "wb") as file:
        file.write(local + compressed + central + end)


def main(argv):
    if len(argv) not in (2, 3) or (len(argv) == 3 and argv[2] != "--large"):
        print(__doc__, file=sys.stderr)
        return 2
    os.makedirs(argv[1], exist_ok=True)
    build(argv[1], large=len(argv) == 3)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
