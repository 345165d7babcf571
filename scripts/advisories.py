#!/usr/bin/env python3
"""Known-advisory gate: every crate version in Cargo.lock against a RustSec advisory-db snapshot.

Usage: scripts/advisories.py [DB_DIR]   (default ~/.cache/moose/advisory-db, cloned from the
offline bundle in ../shared/advisory-db by scripts/release-check)

Prints the snapshot's commit date, then each advisory that affects a locked version (id, crate,
version, title, whether it is informational such as "unmaintained"); exits 1 when a
non-informational advisory applies, 0 otherwise. Withdrawn advisories are skipped; a version is
unaffected when it satisfies one of the advisory's `patched` or `unaffected` requirements.
"""
import glob
import os
import re
import subprocess
import sys
import tomllib


def version(v):
    core = v.split("+")[0]
    pre = "-" in core
    nums = [int(x) for x in re.findall(r"\d+", core.split("-")[0])[:3]]
    nums += [0] * (3 - len(nums))
    return tuple(nums), pre


def satisfies(v, requirement):
    """Whether version `v` meets a Cargo-style requirement list such as ">= 1.2, < 1.5"."""
    (ver, _), ok = version(v), True
    for part in requirement.split(","):
        m = re.match(r"\s*(>=|<=|>|<|=|\^|~)?\s*([0-9][0-9A-Za-z.\-+]*)", part)
        if not m:
            continue
        op, (req, _) = m.group(1) or "^", version(m.group(2))
        if op == "^":
            upper = (req[0] + 1, 0, 0) if req[0] else (0, req[1] + 1, 0) if req[1] else (0, 0, req[2] + 1)
            ok &= req <= ver < upper
        elif op == "~":
            ok &= req <= ver < (req[0], req[1] + 1, 0)
        else:
            ok &= {">=": ver >= req, "<=": ver <= req, ">": ver > req, "<": ver < req, "=": ver == req}[op]
    return ok


def main():
    db = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/moose/advisory-db")
    date = subprocess.run(["git", "-C", db, "log", "-1", "--format=%cs %h"], capture_output=True, text=True).stdout.strip()
    print(f"advisories: RustSec advisory-db snapshot of {date or 'unknown date'} ({db})")
    lock = tomllib.load(open("Cargo.lock", "rb"))
    locked = {}
    for p in lock["package"]:
        locked.setdefault(p["name"], set()).add(p["version"])
    findings = []
    for name, versions in sorted(locked.items()):
        for path in glob.glob(os.path.join(db, "crates", name, "*.md")):
            text = open(path, encoding="utf-8").read()
            m = re.search(r"```toml\n(.*?)```", text, re.S)
            if not m:
                continue
            heading = re.search(r"^# (.+)$", text[m.end():], re.M)
            adv = tomllib.loads(m.group(1))
            a, spec = adv.get("advisory", {}), adv.get("versions", {})
            if a.get("withdrawn"):
                continue
            safe = spec.get("patched", []) + spec.get("unaffected", [])
            for v in sorted(versions):
                if not any(satisfies(v, r) for r in safe):
                    title = a.get("title") or (heading.group(1).strip() if heading else "")
                    findings.append((a.get("id"), name, v, a.get("informational"), title))
    blocking = [f for f in findings if not f[3]]
    for fid, name, v, info, title in findings:
        print(f"  {fid} {name} {v}{' (' + info + ')' if info else ''}: {title}")
    print(f"advisories: {len(locked)} crates checked, {len(blocking)} vulnerabilities, {len(findings) - len(blocking)} informational")
    sys.exit(1 if blocking else 0)


if __name__ == "__main__":
    main()
