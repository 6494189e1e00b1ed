#!/usr/bin/env python3
"""The read probes of decode bench runs (bench/read_probe.h, `--ptxfmha_read_probes`), cell by cell.

    tools/read_probes.py RESULT.json [RESULT.json ...]

For each decode cell whose ptx-fmha entry carries probe_<name>_GBps counters: the read ceiling
(GB/s of bench_read_stream over the same bytes, timed beside), then ours, cuDNN and every probe as
a percentage of that ceiling, and the plan's split count; then, per column, the median over the
cells and the number of cells above the ceiling. Runs are read as tools/decode_targets.py reads
them (xz-packed or cut short; a later run wins a cell)."""
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from decode_targets import cell_path, load  # noqa: E402  (the runs' reader: xz, cut-short files)


def main(argv):
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    rows, probes = [], []
    cells, _ = load(argv)
    for (key, variant), cell in cells.items():
        ours = cell["ours"]
        if not ours.get("ceiling_GBps"):
            continue
        for k in ours:
            m = re.match(r"^probe_(.+)_GBps$", k)
            if m and m.group(1) not in probes:
                probes.append(m.group(1))
        name = cell_path(key) + (f"/v={variant}" if variant else "")
        rows.append((name, ours, cell["pair"][1] if cell["pair"] else None))
    if not rows or not probes:
        print("no decode cells with read probes")
        return 1
    cols = ["ours", "cuDNN"] + probes
    print("| cell | splits | ceiling GB/s | " + " | ".join(c + " %" for c in cols) + " |")
    print("|:---|---:|---:|" + "---:|" * len(cols))
    pct = {c: [] for c in cols}
    for cell, ours, cud in rows:
        ceil = ours["ceiling_GBps"]
        vals = {"ours": ours.get("KV_GBps"), "cuDNN": cud.get("KV_GBps") if cud else None}
        for p in probes:
            vals[p] = ours.get("probe_%s_GBps" % p)
        line = []
        for c in cols:
            v = vals[c]
            if v:
                pct[c].append(100.0 * v / ceil)
                line.append("%.1f" % (100.0 * v / ceil))
            else:
                line.append("-")
        print("| %s | %d | %.0f | %s |" % (cell[len("decode/"):], int(ours.get("splits", 0)), ceil, " | ".join(line)))
    print("| median | | | " + " | ".join("%.1f" % statistics.median(pct[c]) if pct[c] else "-" for c in cols) + " |")
    print("| cells > 100% | | | " + " | ".join("%d of %d" % (sum(x > 100.0 for x in pct[c]), len(pct[c])) for c in cols) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
