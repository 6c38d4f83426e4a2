#!/usr/bin/env python3
"""Generates a ClamAV database of N signatures shaped like the official one, for benchmarks.

    bench/make-database.py --signatures N --output DIR [--samples DIR] [--seed S]

The official database is mostly hash signatures (about 90 %), the rest mostly body
signatures (docs/benchmarks.md). So:

- 80 % MD5 hash signatures in bench.hdb (`md5:size:Name`) and 10 % SHA-256 ones in
  bench.hsb (`sha256:size:Name`), of random content whose sizes spread over 1 KiB-4 MiB,
  so that many benchmark objects share a size with some signature and get hashed, as with
  the real database;
- 10 % extended body signatures in bench.ndb (`Name:TargetType:Offset:HexSignature`):
  random byte patterns of 16-32 bytes (a few with one `??` wildcard byte or a `{n-m}` gap
  between two halves), for any file, PE, HTML or text targets, at any offset (some at 0);
  no tiny patterns, which would make every scan pathological;
- the EICAR test string as a body signature (`Bench.Test.EICAR`), so infected samples exist.

With --samples DIR it also writes two files detected only by hash (one by MD5, one by
SHA-256). The same seed and size give the same database.
"""
import argparse
import hashlib
import os
import random

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
# Target types: 0 any file, 1 PE, 3 HTML (normalised), 7 ASCII text (normalised).
TARGETS = [(0, 0.45), (1, 0.35), (3, 0.10), (7, 0.10)]


def body_pattern(rng):
    """A hex body signature of 16-32 random bytes, sometimes with a wildcard or a gap."""
    length = rng.randint(16, 32)
    data = rng.randbytes(length)
    kind = rng.random()
    if kind < 0.10:
        # One `??` byte in the middle (ClamAV's nibble/byte wildcards).
        cut = rng.randint(4, length - 4)
        return data[:cut].hex() + "??" + data[cut + 1:].hex()
    if kind < 0.20:
        # Two halves of at least 8 bytes each with a bounded gap between them.
        cut = rng.randint(8, length - 8)
        low = rng.randint(0, 8)
        return data[:cut].hex() + "{%d-%d}" % (low, low + rng.randint(1, 32)) + data[cut:].hex()
    return data.hex()


def pick_target(rng):
    roll, total = rng.random(), 0.0
    for target, weight in TARGETS:
        total += weight
        if roll < total:
            return target
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signatures", type=int, required=True, help="total number of signatures (at least 10)")
    parser.add_argument("--output", required=True, help="folder to write bench.hdb, bench.hsb, bench.ndb into")
    parser.add_argument("--samples", help="folder to write hash-detected sample files into")
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    if args.signatures < 10:
        parser.error("--signatures must be at least 10")
    os.makedirs(args.output, exist_ok=True)

    total = args.signatures - 1  # EICAR is one of them
    body = total // 10
    sha256 = total // 10
    md5 = total - body - sha256
    # Two samples the hash signatures detect: the first MD5 and the first SHA-256 entry.
    samples = [b"s3-clamav-scanner benchmark sample detected by MD5\n" * 40,
               b"s3-clamav-scanner benchmark sample detected by SHA-256\n" * 40]
    if args.samples:
        os.makedirs(args.samples, exist_ok=True)
        for name, data in zip(("hash-md5.bin", "hash-sha256.bin"), samples, strict=False):
            with open(os.path.join(args.samples, name), "wb") as sample:
                sample.write(data)
    rng = random.Random(args.seed)

    # Hash signatures: the hash of content we never write is as good as any; only the
    # (hash, size) pairs matter to the engine.
    with open(os.path.join(args.output, "bench.hdb"), "w") as hdb:
        hdb.write(f"{hashlib.md5(samples[0]).hexdigest()}:{len(samples[0])}:Bench.Hash.MD5-Sample\n")
        for index in range(md5 - 1):
            size = int(1024 * 4096 ** rng.random())  # log-uniform 1 KiB-4 MiB
            hdb.write(f"{rng.randbytes(16).hex()}:{size}:Bench.Hash.MD5-{index}\n")
    with open(os.path.join(args.output, "bench.hsb"), "w") as hsb:
        hsb.write(f"{hashlib.sha256(samples[1]).hexdigest()}:{len(samples[1])}:Bench.Hash.SHA256-Sample\n")
        for index in range(sha256 - 1):
            size = int(1024 * 4096 ** rng.random())
            hsb.write(f"{rng.randbytes(32).hex()}:{size}:Bench.Hash.SHA256-{index}\n")
    with open(os.path.join(args.output, "bench.ndb"), "w") as ndb:
        ndb.write(f"Bench.Test.EICAR:0:*:{EICAR.hex()}\n")
        for index in range(body):
            target = pick_target(rng)
            offset = "0" if rng.random() < 0.05 else "*"
            ndb.write(f"Bench.Body.T{target}-{index}:{target}:{offset}:{body_pattern(rng)}\n")
    print(f"{args.output}: {md5} MD5 + {sha256} SHA-256 hash signatures, {body + 1} body signatures (with EICAR)")


if __name__ == "__main__":
    main()
