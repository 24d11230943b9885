#!/usr/bin/env python3
"""Compares two report JSON files field by field: same keys in the same
order, equal integers and strings, floats within 1e-9 relative.
Usage: compare.py SHOAL.json DUCKDB.json   (exit 1 listing every difference)"""

import json
import math
import sys


def diff(a, b, path, out):
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a.keys()) != list(b.keys()):
            out.append(f"{path}: keys {list(a.keys())} != {list(b.keys())}")
        for k in a:
            if k in b:
                diff(a[k], b[k], f"{path}.{k}", out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: length {len(a)} != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            diff(x, y, f"{path}[{i}]", out)
    elif isinstance(a, float) or isinstance(b, float):
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) \
                or not math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0):
            out.append(f"{path}: {a!r} != {b!r}")
    elif type(a) is not type(b) or a != b:
        out.append(f"{path}: {a!r} != {b!r}")


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        shoal = json.load(f)
    with open(sys.argv[2], encoding="utf-8") as f:
        peer = json.load(f)
    out = []
    diff(shoal, peer, "report", out)
    if out:
        print(f"{len(out)} differences between {sys.argv[1]} and {sys.argv[2]}:")
        for line in out[:50]:
            print("  " + line)
        sys.exit(1)
    fields = sum(1 for _ in walk(shoal))
    print(f"cross-check ok: {fields} values agree ({sys.argv[1]} vs {sys.argv[2]})")


def walk(v):
    if isinstance(v, dict):
        for x in v.values():
            yield from walk(x)
    elif isinstance(v, list):
        for x in v:
            yield from walk(x)
    else:
        yield v


if __name__ == "__main__":
    main()
