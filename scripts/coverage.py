#!/usr/bin/env python3
"""Line coverage per crate from cargo-tarpaulin's JSON report, and the release gate on it.

Usage: scripts/coverage.py TARPAULIN_JSON MIN_PERCENT

Prints one line per crate (covered/coverable lines of its src/) and the workspace total, writes
summary.json next to the report ({"workspace": pct, "crates": {name: pct}}), and exits 1 when the
workspace total is below MIN_PERCENT.
"""
import collections
import json
import os
import sys


def main():
    path, minimum = sys.argv[1], float(sys.argv[2])
    if not os.path.exists(path):
        print(f"coverage: no report at {path} (the instrumented test run did not finish)")
        sys.exit(1)
    report = json.load(open(path))
    per = collections.defaultdict(lambda: [0, 0])
    for f in report.get("files", []):
        p = "/".join(f["path"]) if isinstance(f["path"], list) else f["path"]
        p = p.replace("//", "/")
        if "/crates/" not in p:
            continue
        crate = p.split("/crates/")[-1].split("/")[0]
        per[crate][0] += f.get("covered", 0)
        per[crate][1] += f.get("coverable", 0)
    covered = sum(c for c, _ in per.values())
    coverable = sum(n for _, n in per.values())
    total = 100.0 * covered / max(coverable, 1)
    crates = {k: round(100.0 * c / max(n, 1), 1) for k, (c, n) in sorted(per.items())}
    for k, (c, n) in sorted(per.items()):
        print(f"  {k:<24} {crates[k]:5.1f} %  ({c}/{n} lines)")
    print(f"  {'workspace':<24} {total:5.1f} %  ({covered}/{coverable} lines; gate {minimum:.0f} %)")
    json.dump({"workspace": round(total, 1), "crates": crates},
              open(os.path.join(os.path.dirname(path), "summary.json"), "w"), indent=2)
    sys.exit(0 if total >= minimum else 1)


main()
