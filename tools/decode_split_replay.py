#!/usr/bin/env python3
"""The library's decode split counts against forced counts that were timed (issue 17's plan work).

Reads ptxfmha_bench JSON files (plain or .xz, tools/results_io.py) whose decode cells were run at
several split counts (`--ptxfmha_decode_variants=default,s2,s4,...`: entries CELL/ptxfmha/... and
CELL/v=ITEM/ptxfmha/..., each with its `splits` and `median_us`), and the plans of
`ptxfmha decode-plans` (lines "CELL ROW CTAS_PER_SM SPLITS SPLIT_CTAS"). For every cell timed at
two or more split counts it prints the plan's count and time, the fastest timed count and time,
and their ratio, worst first; then the geometric mean of the ratios and how many exceed --over.
Only items that keep the kernel, the cache and the merge path count: `default`, `sN`, `nocl` and
their `+` joins; e4m3, k=, wN, pN, qN and cl items are left out. A cell's time at a count is the
smallest median over the files (several runs of one count: the best one). A plan whose count
was not timed is listed as untimed and left out of the mean.

usage: decode_split_replay.py --plans PLANS [--over 1.02] [--list N] JSON [JSON ...]
"""
import argparse
import json
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from decode_targets import read_plans  # noqa: E402  (`ptxfmha decode-plans` output)
from results_io import open_text  # noqa: E402

_KEEP = re.compile(r"^(default|nocl|s\d+)$")


def item_kept(item):
    return all(_KEEP.match(tok) for tok in item.split("+"))


def read_timings(paths):
    cells = {}
    for path in paths:
        with open_text(path) as f:
            data = json.load(f)
        for b in data.get("benchmarks", []):
            name = b.get("name", "")
            if "/ptxfmha/" not in name or "median_us" not in b or "splits" not in b:
                continue
            head = name.split("/ptxfmha/")[0]
            cell, item = head.split("/v=", 1) if "/v=" in head else (head, "default")
            if not item_kept(item):
                continue
            by_count = cells.setdefault(cell, {})
            s = int(b["splits"])
            t = float(b["median_us"])
            by_count[s] = min(t, by_count.get(s, t))
    return cells


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("json", nargs="+")
    ap.add_argument("--plans", required=True, help="`ptxfmha decode-plans` output")
    ap.add_argument("--over", type=float, default=1.02, help="ratio counted as a miss (default 1.02)")
    ap.add_argument("--list", type=int, default=-1, help="cells listed (default all)")
    a = ap.parse_args(argv)
    cells = {c: t for c, t in read_timings(a.json).items() if len(t) >= 2}
    plans = {cell: splits for cell, (_row, splits, _ctas) in read_plans(a.plans).items()}
    rows, untimed, unplanned = [], [], []
    for cell, times in sorted(cells.items()):
        if cell not in plans:
            unplanned.append(cell)
            continue
        s = plans[cell]
        best = min(times, key=lambda k: (times[k], k))
        if s not in times:
            untimed.append((cell, s, best, times[best]))
            continue
        rows.append((times[s] / times[best], cell, s, times[s], best, times[best]))
    rows.sort(key=lambda r: (-r[0], r[1]))
    shown = rows if a.list < 0 else rows[: a.list]
    for r, cell, s, t, b, tb in shown:
        print(f"{cell} plan {s} {t:.1f} us best {b} {tb:.1f} us ratio {r:.3f}")
    for cell, s, b, tb in untimed:
        print(f"{cell} plan {s} untimed best {b} {tb:.1f} us")
    for cell in unplanned:
        print(f"{cell} no plan in {a.plans}")
    if rows:
        g = math.exp(sum(math.log(r[0]) for r in rows) / len(rows))
        over = sum(1 for r in rows if r[0] > a.over)
        print(f"{len(cells)} cells timed at >= 2 counts; {len(rows)} plans timed; geometric mean "
              f"plan / best {g:.4f}; over {a.over:g}: {over}; untimed {len(untimed)}; no plan {len(unplanned)}")
    else:
        print(f"{len(cells)} cells timed at >= 2 counts; no plan timed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
