#!/usr/bin/env python3
"""Fails when a Swift target depends on a target in its own layer or a layer above it.

    check-module-graph.py PACKAGE_JSON     (the output of `swift package dump-package`)

The layers (docs/architecture.md), lowest first. A target may depend only on targets of
lower layers; tests, test support and benchmarks may depend on anything below them.
"""
import json
import sys

LAYERS = [
    ("C libraries", {"CClamAV", "CArchive"}),
    ("configuration", {"Environment"}),
    ("foundations", {"Observability", "AWSSigV4", "Unpacker"}),
    ("clients and engine", {"AWSClients", "ClamAV", "Lambda"}),
    ("shared domain", {"Definitions", "BusEvents"}),
    ("workflows", {"ScannerCore", "UpdaterCore"}),
    ("executables", {"scanner", "definition-updater"}),
    ("test support", {"TestSupport", "LambdaTesting"}),
    ("test tools and benchmarks", {"runtime-api-server", "test-mirror", "scanner-bench", "s3-download-bench"}),
]


def layer_of(name, targets):
    for index, (_, names) in enumerate(LAYERS):
        if name in names:
            return index
    if targets[name]["type"] == "test":
        return len(LAYERS)
    return None


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as file:
        package = json.load(file)
    targets = {target["name"]: target for target in package["targets"]}
    problems = []
    for name, target in sorted(targets.items()):
        layer = layer_of(name, targets)
        if layer is None:
            problems.append(f"{name} is in no layer: add it to a layer in Tests/lint/check-module-graph.py and docs/architecture.md")
            continue
        for dependency in target.get("dependencies", []):
            reference = dependency.get("byName") or dependency.get("target")
            if not reference or reference[0] not in targets:
                continue  # a product of another package
            other = layer_of(reference[0], targets)
            if other is None or other >= layer:
                where = LAYERS[other][0] if other is not None and other < len(LAYERS) else "tests"
                problems.append(f"{name} ({LAYERS[min(layer, len(LAYERS) - 1)][0] if layer < len(LAYERS) else 'tests'}) "
                                f"depends on {reference[0]} ({where}): dependencies must point to lower layers")
    for problem in problems:
        print(f"module graph: {problem}", file=sys.stderr)
    if not problems:
        print(f"module graph: {len(targets)} targets, every dependency points down")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
