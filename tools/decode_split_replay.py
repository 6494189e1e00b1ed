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

With --by-ctas it prints no plans (--plans is not read): the same cells' times at each grid
size (the entries' `split_ctas`) over the cell's fastest count, grouped by head dim, m-tiles per
CTA (packed rows, 16 to an m-tile, at most 64 rows) and cache, cells at kv >= --min-kv only:
"d256 mt1 contig ctas 96: 12 cells, median 1.107, max 1.114" (s34: which grid sizes lose at
d256 on the H100).

usage: decode_split_replay.py --plans PLANS [--over 1.02] [--list N] JSON [JSON ...]
       decode_split_replay.py --by-ctas [--min-kv KEYS] JSON [JSON ...]
"""
import argparse
import json
import math
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from decode_targets import read_plans  # noqa: E402  (`ptxfmha decode-plans` output)
from results_io import open_text  # noqa: E402

_KEEP = re.compile(r"^(default|nocl|s\d+)$")


def item_kept(item):
    return all(_KEEP.match(tok) for tok in item.split("+"))


def read_entries(paths):
    """(cell, splits, median_us, split_ctas or None) of every kept ptx-fmha entry."""
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
            ctas = int(b["split_ctas"]) if "split_ctas" in b else None
            yield cell, int(b["splits"]), float(b["median_us"]), ctas


def read_timings(paths, key_ctas=False):
    """cell -> {splits (or split_ctas with key_ctas): smallest median_us over the files}."""
    cells = {}
    for cell, s, t, ctas in read_entries(paths):
        if key_ctas and ctas is None:
            continue
        by_count = cells.setdefault(cell, {})
        k = ctas if key_ctas else s
        by_count[k] = min(t, by_count.get(k, t))
    return cells


_CELL = re.compile(r"^decode/d(\d+)/b\d+/kv(\d+)/hq(\d+)hkv(\d+)/q(\d+)/([^/]+)$")


def by_ctas(paths, min_kv):
    """Lines "dD mtM CACHE ctas N: C cells, median R, max R" (time at N CTAs / the cell's best)."""
    groups = {}
    for cell, times in read_timings(paths, key_ctas=True).items():
        m = _CELL.match(cell)
        if m is None or len(times) < 2 or int(m.group(2)) < min_kv:
            continue
        d, hq, hkv, q, cache = int(m.group(1)), int(m.group(3)), int(m.group(4)), int(m.group(5)), m.group(6)
        rows = min(q * (hq // hkv), 64)
        best = min(times.values())
        for n, t in times.items():
            groups.setdefault((d, (rows + 15) // 16, cache, n), []).append(t / best)
    lines = []
    for (d, mt, cache, n), r in sorted(groups.items()):
        lines.append(f"d{d} mt{mt} {cache} ctas {n}: {len(r)} cells, median {statistics.median(r):.3f}, "
                     f"max {max(r):.3f}")
    return lines


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("json", nargs="+")
    ap.add_argument("--plans", help="`ptxfmha decode-plans` output (required without --by-ctas)")
    ap.add_argument("--by-ctas", action="store_true", help="time over the best per grid size, grouped")
    ap.add_argument("--min-kv", type=int, default=0, help="--by-ctas: cells of at least this many keys")
    ap.add_argument("--over", type=float, default=1.02, help="ratio counted as a miss (default 1.02)")
    ap.add_argument("--list", type=int, default=-1, help="cells listed (default all)")
    a = ap.parse_args(argv)
    if a.by_ctas:
        lines = by_ctas(a.json, a.min_kv)
        print("\n".join(lines) if lines else "no cell timed at >= 2 grid sizes")
        return 0 if lines else 1
    if a.plans is None:
        ap.error("--plans is required (or --by-ctas)")
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
