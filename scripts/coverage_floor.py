"""Fail when coverage of the modules that guard data and permissions drops below 100%.

Usage: python scripts/coverage_floor.py coverage.xml
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

#: Packages held to 100% line and branch coverage (practices.md §8).
FLOORS = {"flotilla/sharing/": 1.0, "flotilla/authz/": 1.0, "flotilla/exchange/": 1.0}


def main(path: str) -> int:
    root = ET.parse(path).getroot()
    totals: dict[str, list[int]] = {p: [0, 0, 0, 0] for p in FLOORS}
    for cls in root.iter("class"):
        filename = cls.get("filename", "")
        for prefix in FLOORS:
            if filename.startswith(prefix) or ("flotilla/" + filename).startswith(prefix):
                t = totals[prefix]
                for line in cls.iter("line"):
                    t[0] += 1
                    t[1] += int(line.get("hits", "0")) > 0
                    cond = line.get("condition-coverage")
                    if cond:
                        covered, total = cond.split("(")[1].rstrip(")").split("/")
                        t[2] += int(total)
                        t[3] += int(covered)
    failed = False
    for prefix, floor in FLOORS.items():
        lines, hit, branches, taken = totals[prefix]
        rate = (hit + taken) / (lines + branches) if lines + branches else 1.0
        status = "ok" if rate >= floor else "BELOW FLOOR"
        print(f"coverage {prefix}: {hit}/{lines} lines, {taken}/{branches} branches ({status})")
        failed |= rate < floor
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "coverage.xml"))
