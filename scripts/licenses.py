#!/usr/bin/env python3
"""Dependency policy gate: licences, sources and duplicate versions of every package in the
dependency graph (all platforms), from `cargo metadata`.

Usage: scripts/licenses.py [METADATA_JSON]   (default: runs `cargo metadata --locked`)

- Licences: each package's SPDX expression must be satisfiable with the allowed licences below
  (an `OR` needs one allowed side, an `AND` needs both; old `A/B` means `A OR B`). Copyleft
  licences are not allowed unless an allowed alternative is offered.
- Sources: every package comes from crates.io or from this workspace (no git or other
  registries).
- Duplicates: crates present in more than one version are listed (informational: the AWS SDK and
  the Windows crates bring some; a new duplicate is a prompt to align versions).
Exits 1 on a denied licence, a package without licence, or a foreign source.
"""
import collections
import json
import re
import subprocess
import sys

ALLOWED = {
    "MIT", "MIT-0", "Apache-2.0", "Apache-2.0 WITH LLVM-exception", "BSD-2-Clause", "BSD-3-Clause",
    "ISC", "Zlib", "0BSD", "Unicode-3.0", "Unicode-DFS-2016", "CC0-1.0", "BSL-1.0", "Unlicense",
    "CDLA-Permissive-2.0", "OpenSSL",
}
CRATES_IO = "registry+https://github.com/rust-lang/crates.io-index"


def allowed(expr):
    """Whether an SPDX expression can be satisfied with ALLOWED licences."""
    expr = expr.replace("/", " OR ")
    tokens = re.findall(r"\(|\)|AND|OR|[^\s()]+(?:\s+WITH\s+[^\s()]+)?", expr)
    pos = 0

    def atom():
        nonlocal pos
        tok = tokens[pos]
        pos += 1
        if tok == "(":
            value = disjunction()
            pos += 1  # ")"
            return value
        return tok in ALLOWED

    def conjunction():
        nonlocal pos
        value = atom()
        while pos < len(tokens) and tokens[pos] == "AND":
            pos += 1
            value = atom() and value
        return value

    def disjunction():
        nonlocal pos
        value = conjunction()
        while pos < len(tokens) and tokens[pos] == "OR":
            pos += 1
            value = conjunction() or value
        return value

    return disjunction()


def main():
    if len(sys.argv) > 1:
        meta = json.load(open(sys.argv[1]))
    else:
        out = subprocess.run(["cargo", "metadata", "--format-version", "1", "--locked"], capture_output=True, text=True, check=True)
        meta = json.loads(out.stdout)
    denied, foreign = [], []
    versions = collections.defaultdict(set)
    for p in meta["packages"]:
        versions[p["name"]].add(p["version"])
        licence = p.get("license")
        if p.get("source") is None:
            continue  # this workspace
        if p["source"] != CRATES_IO:
            foreign.append(f"{p['name']} {p['version']} from {p['source']}")
        if not licence or not allowed(licence):
            denied.append(f"{p['name']} {p['version']}: {licence or 'no licence'}")
    duplicates = {n: sorted(v) for n, v in versions.items() if len(v) > 1}
    print(f"licences: {len(meta['packages'])} packages; {len(denied)} denied, {len(foreign)} from other sources, {len(duplicates)} crates in several versions")
    for d in denied:
        print(f"  denied licence: {d}")
    for f in foreign:
        print(f"  foreign source: {f}")
    for n, v in sorted(duplicates.items()):
        print(f"  several versions: {n} {', '.join(v)}")
    sys.exit(1 if denied or foreign else 0)


if __name__ == "__main__":
    main()
