#!/usr/bin/env python3
"""Prints the official-scale benchmark's table from the JSON files bench/official-scale.sh
wrote (and one JSON line with every figure, for bench/cost.py).

    official-report.py WORK MEMORY_MB
"""
import json
import os
import sys


def load(work, name):
    with open(os.path.join(work, name)) as file:
        return json.load(file)


def main(work, memory_mb):
    clamscan_load = load(work, "clamscan-load.json")
    clamd_load = load(work, "clamd-load.json")
    ours = {n: load(work, f"ours-{n}.json") for n in (1, 2, 4)}
    clamd = {n: load(work, f"clamd-{n}.json") for n in (1, 2, 4)}
    clamscan = load(work, "clamscan.json")
    alongside = load(work, "reload-alongside.json")
    limited = load(work, "reload-limited.json")
    mib = lambda kib: f"{kib / 1024:,.0f} MiB"
    ms = lambda seconds: f"{seconds * 1000:,.1f} ms"
    cold = [ours[n]["loadSeconds"] for n in (1, 2, 4)]

    print(f"### {ours[1]['signatures']:,.0f} signatures\n")
    print("| measure | our scanner | clamd | clamscan | ours ÷ reference |")
    print("|---|---|---|---|---|")
    print(f"| cold start: load (ours: manifest, download, verify, load, compile; three runs) | "
          f"{min(cold):.1f}-{max(cold):.1f} s | ready after {clamd_load['readySeconds']:.1f} s | "
          f"{clamscan_load['seconds']:.1f} s (with one small object) | {sum(cold) / len(cold) / clamscan_load['seconds']:.2f}× clamscan |")
    if "loadOnlySeconds" in ours[1]:
        print(f"| of which libclamav's load and compile (a second load of the same local files) | {ours[1]['loadOnlySeconds']:.1f} s | | "
              f"{clamscan_load['seconds']:.1f} s | {ours[1]['loadOnlySeconds'] / clamscan_load['seconds']:.2f}× clamscan |")
    print(f"| peak memory after load | {mib(ours[1]['vmHWMAfterLoadKiB'])} | {mib(clamd[1]['clamdVmHWMKiB'])} | "
          f"{mib(clamscan_load['peakKiB'])} | {ours[1]['vmHWMAfterLoadKiB'] / clamscan_load['peakKiB']:.2f}× clamscan |")
    print(f"| warm per object, p50 / p99 (1 in flight) | {ms(ours[1]['p50'])} / {ms(ours[1]['p99'])} | "
          f"{ms(clamd[1]['p50'])} / {ms(clamd[1]['p99'])} | {ms(clamscan['p50'])} / {ms(clamscan['p99'])} "
          f"({clamscan['objects']} objects) | {ours[1]['p50'] / clamd[1]['p50']:.2f}× clamd, {ours[1]['p50'] / clamscan['p50']:.3f}× clamscan |")
    for n in (1, 2, 4):
        print(f"| objects per second, {n} in flight | {ours[n]['objectsPerSecond']:.1f} (p50 {ms(ours[n]['p50'])}) | "
              f"{clamd[n]['objectsPerSecond']:.1f} (p50 {ms(clamd[n]['p50'])}) | | "
              f"{ours[n]['objectsPerSecond'] / clamd[n]['objectsPerSecond']:.2f}× clamd; ours {ours[n]['objectsPerSecond'] / ours[1]['objectsPerSecond']:.2f}× 1 in flight |")
    for label, reload in (("hot reload beside the old engine", alongside), (f"hot reload with {memory_mb} MB ({limited['mode']})", limited)):
        print(f"| {label}: peak memory, reload time, longest object wait | {mib(reload['vmHWMDuringReloadKiB'])}, "
              f"{reload['reloadSeconds']:.1f} s, {reload['longestObjectSeconds']:.2f} s ({reload['objectsDuringReload']:.0f} objects scanned meanwhile) | | | "
              f"{reload['vmHWMDuringReloadKiB'] / 1024 / memory_mb:.0%} of {memory_mb} MB |")
    print(f"\nverdicts: ours {ours[1]['verdicts']}; clamd {clamd[1]['verdicts']}; clamscan {clamscan['verdicts']}")

    experiments = load(work, "load-experiments.json")
    seconds = {name: figure["seconds"] for name, figure in experiments.items()}
    print("\nlibclamav alone (bench/load-experiments.c), load and compile:\n")
    print("| database | on the main thread | on a second thread | thread ÷ main |")
    print("|---|---|---|---|")
    for label, name in (("plain signature files (.hdb, .hsb, .ndb)", "plain"), ("the same in containers (.cud)", "containers")):
        print(f"| {label} | {seconds[name + 'Main']:.1f} s | {seconds[name + 'Thread']:.1f} s | "
              f"{seconds[name + 'Thread'] / seconds[name + 'Main']:.2f}× |")
    print(f"| containers as two engines of half the signatures, loaded at once | {seconds['twoShards']:.1f} s | | "
          f"{seconds['twoShards'] / seconds['containersThread']:.2f}× one engine on a thread |")
    figures = {"ours": ours, "clamd": clamd, "clamscan": clamscan, "clamscanLoad": clamscan_load, "clamdLoad": clamd_load,
               "reloadAlongside": alongside, "reloadLimited": limited, "memoryMB": memory_mb,
               "loadExperiments": experiments}
    with open(os.path.join(work, "official.json"), "w") as out:
        json.dump(figures, out, sort_keys=True)
    print("\n" + json.dumps(figures, sort_keys=True), file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1], int(sys.argv[2]))
