#!/usr/bin/env python3
"""Two decode variants timed on the same cells, cell by cell (issue 17's A/B calls).

    tools/decode_ab.py A B RESULT.json [RESULT.json ...]

A and B are bench variant items (`--ptxfmha_decode_variants`; `default` is the plan as the
library makes it, e.g. `default tma`, `default k=d64_h2`). For every decode cell with ptx-fmha
entries of both: each side's median (us), % of the read ceiling timed beside it, splits, CTAs and
producer (`ca`: the cp.async producer ran, `tma`: TMA boxes, `-`: not recorded), then B's time
over A's. Then per head dim and cache: cells, median, min and max of B / A and the cells where B
is faster (ratio < 1). Runs are read as tools/decode_targets.py reads them (xz-packed or cut
short; a later run wins a cell); the ratio is taken only where both sides come from one run (one
process, interleaved), other cells are counted as unpaired."""
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from decode_targets import cell_path, load  # noqa: E402  (the runs' reader: xz, cut-short files)


def side_text(e):
    prod = {1: "ca", 0: "tma"}.get(int(e["cpasync"]), "-") if "cpasync" in e else "-"
    pct = "%.1f" % e["pct_ceiling"] if e.get("pct_ceiling") is not None else "-"  # the bench's own
    return "%.1f | %s | %d | %d | %s" % (e["median_us"], pct, int(e.get("splits", 0)), int(e.get("split_ctas", 0)), prod)


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    a, b = ("" if v == "default" else v for v in argv[:2])
    cells, _ = load(argv[2:])
    rows, groups, unpaired = [], {}, 0
    for (key, variant), cell in sorted(cells.items()):
        if variant != a or (key, b) not in cells:
            continue
        ea, eb = cell["ours"], cells[(key, b)]["ours"]
        if ea["source"] != eb["source"]:
            unpaired += 1
            continue
        r = eb["median_us"] / ea["median_us"]
        rows.append((cell_path(key)[len("decode/"):], ea, eb, r))
        groups.setdefault((key[0], key[6]), []).append(r)  # (head dim, cache)
    if not rows:
        print("no decode cells with both %s and %s in one run" % (argv[0], argv[1]))
        return 1
    head = "us | % ceiling | splits | CTAs | producer"
    print("| cell | %s | %s | %s / %s |" % (" | ".join(argv[0] + " " + h for h in head.split(" | ")),
                                             " | ".join(argv[1] + " " + h for h in head.split(" | ")),
                                             argv[1], argv[0]))
    print("|:---|" + "---:|" * 11)
    for name, ea, eb, r in rows:
        print("| %s | %s | %s | %.3f |" % (name, side_text(ea), side_text(eb), r))
    print()
    print("| group | cells | median %s / %s | min | max | %s faster |" % (argv[1], argv[0], argv[1]))
    print("|:---|---:|---:|---:|---:|---:|")
    for (d, cache), v in sorted(groups.items()):
        print("| d%d %s | %d | %.3f | %.3f | %.3f | %d |" % (d, cache, len(v), statistics.median(v), min(v), max(v),
                                                            sum(x < 1.0 for x in v)))
    if unpaired:
        print("\n%d cells had both sides from different runs: not compared" % unpaired)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
