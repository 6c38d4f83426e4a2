#!/usr/bin/env python3
"""Prints bench/run.sh's results as Markdown tables: one per database size.

    report.py WORK SIZE...

reads WORK/ours-SIZE.json, WORK/clamd-SIZE.json, WORK/clamscan-SIZE.json and, where it
exists, WORK/engine-SIZE.json (what the engine's safeguards cost).
"""
import json
import os
import sys


def load(work, name):
    path = os.path.join(work, name)
    if not os.path.exists(path):
        return None
    with open(path) as result:
        return json.load(result)


def mib(kib):
    return f"{kib / 1024:.0f} MiB"


def main(argv):
    work, sizes = argv[1], argv[2:]
    for size in sizes:
        ours = load(work, f"ours-{size}.json")
        clamd = load(work, f"clamd-{size}.json")
        clamscan = load(work, f"clamscan-{size}.json")
        print(f"\n### {int(size):,} signatures\n")
        if ours:
            print(f"Scanner cold start (manifest, database download, load and compile): {ours['loadSeconds']:.2f} s; "
                  f"signatures loaded: {int(ours['signatures']):,}; definitions `{ours['definitions']}`.\n")
        print("| contender | objects | p50 | p99 | objects/s | peak RSS | p50 vs ours | objects/s: ours vs it "
              "| p50 without S3 | that vs ours | verdicts |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        names = {"ours": "scanner, warm (this project)", "clamd": "clamdscan → clamd", "clamscan": "clamscan per object"}
        for name, result in (("ours", ours), ("clamd", clamd), ("clamscan", clamscan)):
            if not result:
                continue
            if ours and name != "ours":
                ratio = f"{result['p50'] / ours['p50']:.1f}×"
                throughput = f"{ours['objectsPerSecond'] / result['objectsPerSecond']:.1f}×"
            else:
                ratio = throughput = "1.0×" if name == "ours" else "-"
            peak = result.get("vmHWMKiB") or result.get("peakKiB")
            alone = (result.get("scanOnly") or result.get("programOnly") or {}).get("p50")
            ours_alone = (ours or {}).get("scanOnly", {}).get("p50")
            alone_text = f"{alone * 1000:.1f} ms" if alone else "-"
            alone_ratio = f"{alone / ours_alone:.1f}×" if alone and ours_alone else "-"
            print(f"| {names[name]} | {int(result['objects'])} | {result['p50'] * 1000:.1f} ms | {result['p99'] * 1000:.1f} ms "
                  f"| {result['objectsPerSecond']:.1f} | {mib(peak)} | {ratio} | {throughput} | {alone_text} | {alone_ratio} "
                  f"| {result['verdicts']} |")
        large = ours.get("large") if ours else None
        if large:
            print(f"\n1 GiB object through the scanner: {large['verdict']} in {large['seconds']:.1f} s; "
                  f"peak RSS (VmHWM) {mib(large['vmHWMBeforeKiB'])} before, {mib(large['vmHWMAfterKiB'])} after "
                  f"(RSS after: {mib(large['rssAnonAfterKiB'])} anonymous, {mib(large['rssFileAfterKiB'])} file-backed)."
                  + (f" Reasons: {large['reasons']}." if large["reasons"] else ""))
        engine = load(work, f"engine-{size}.json")
        if engine:
            print(f"\nWhat the engine's safeguards cost (local copies, scan alone, p50 of {engine['rounds']} rounds per file):\n")
            print("| kind | files | accounted (production) | libclamav alone | ratio | repeat with libclamav's cache on |")
            print("|---|---:|---:|---:|---:|---:|")
            for kind, row in sorted(engine["kinds"].items()):
                print(f"| {kind} | {int(row['files'])} | {row['accountedP50Ms']:.2f} ms | {row['libclamavAloneP50Ms']:.2f} ms "
                      f"| {row['accountingRatio']:.2f}× | {row['cachedRepeatP50Ms']:.2f} ms |")
            if engine["disagreements"]:
                print("\nVerdicts that differ with and without the accounting: " + "; ".join(engine["disagreements"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
