#!/usr/bin/env python3
"""The decode targets of issue 17, cell by cell, over one or more ptxfmha_bench JSON files.

    decode_targets.py RUN.json [RUN.json ...] [--md OUT.md] [--cells] [--max-list N] [--plans FILE]

The full decode grid (bench_case.h, DecodeAxes: 2160 cells) is too large for one device call, so
it is run in slices (by --benchmark_filter, with or without the cuDNN side: --ptxfmha_cudnn=0)
and the slices' JSON files are read together here. For each cell and variant the latest run that
timed ptx-fmha gives our time, GB/s and % of the read ceiling (measured in that run); the ratio to
cuDNN comes from the latest run that timed both sides, interleaved in one process.

Targets (issue 17), each reported as met / missed / not measured, misses listed worst first:
  vs cuDNN     cuDNN time / ours >= 1.0 on every cell cuDNN ran
  ceiling      >= 95% of the read ceiling at batch >= 8 and kv >= 8k (bf16 cache)
  batch 1      latency <= max(read time at the ceiling, launch floor) + 3 us
  fp8          bf16 time / e4m3 time >= 1.8 at batch >= 8 and kv >= 8k (same cell, both measured)
Coverage counts the grid's cells with a bf16 measurement, with cuDNN beside it, and the e4m3
cells of the fp8 target; the fp8 target is also split by packed rows per CTA (one m-tile, two,
the warpgroup rows' 33-64), the batch-1 target by its bound (< 30 us, 30-300, >= 300: the 3 us
of slack ask for >= 99% of the read ceiling on the long reads). Only the standard library is
needed.

The baseline under the same rules: the ceiling and batch-1 targets are rules on a time, so cuDNN's
time is held to them too, on the cells where both sides were timed in one run (the pair; each side
against the read ceiling and bound measured in that run): a table of cells met by both, ours
only, cuDNN only and neither, and each listed miss names cuDNN's figure where its pair has one.

Device kinds: each run's read ceiling (the median ceiling_GBps of its entries whose read at the
ceiling takes >= 1 ms, where the launch no longer counts) is in the sources table, and the runs
are grouped into kinds whose ceilings lie within 1.5% of the kind's lowest (the lent H100s come in
two, ~3.08 and ~3.18 TB/s: bench/results/h100-2026-12-07-s40/NOTES.md); the vs-cuDNN target is
then split by the kind of the run that timed each cell's pair.

--plans FILE (the output of `ptxfmha decode-plans`: cell, row, CTAs per SM, splits, CTAs) reads
only the bf16 entries that ran the library's current plan: an entry whose recorded row, splits or
CTAs differ from FILE's (timed by an older library, or the other side of an A/B) is left out with
its cuDNN pair, and the sources table counts them; entries that recorded no plan are kept.
"""
import argparse
import json
import math
import re
import sys

from results_io import open_text

DECODE = re.compile(r"^decode/d(?P<d>\d+)/b(?P<b>\d+)/kv(?P<kv>\d+)/hq(?P<hq>\d+)hkv(?P<hkv>\d+)"
                    r"/q(?P<q>\d+)/(?P<cache>contig|page\d+)(?:/v=(?P<variant>[^/]+))?/(?P<impl>ptxfmha|cudnn)/")

# bench_case.h, DecodeAxes (the `full` grid)
HEAD_DIMS = (64, 128, 256)
HEADS = ((32, 32), (32, 8), (64, 8), (128, 8))
BATCHES = (1, 4, 8, 32, 64, 128)
KVS = (1024, 4096, 8192, 32768, 131072)
Q_TOKENS = (1, 4)
CACHES = ("contig", "page16", "page64")

MIN_VS_CUDNN = 1.0
MIN_PCT_CEILING = 95.0
BATCH1_SLACK_US = 3.0
MIN_FP8_SPEEDUP = 1.8
CEILING_MIN_READ_US = 1000.0  # entries whose read at the ceiling takes this long give a run's ceiling
KIND_SPREAD = 0.015           # runs whose ceilings lie within 1.5% of a kind's lowest: one kind


def run_ceiling(data):
    """The run's read ceiling, GB/s: the median ceiling_GBps of its long reads, or None."""
    v = sorted(b["ceiling_GBps"] for b in data.get("benchmarks", [])
               if b.get("ceiling_GBps") and (b.get("read_us") or 0) >= CEILING_MIN_READ_US)
    if not v:
        return None
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def ceiling_kinds(ceilings):
    """[(lowest, highest)] of the runs' ceilings grouped into kinds (KIND_SPREAD), lowest first."""
    kinds = []
    for c in sorted(x for x in ceilings if x is not None):
        if kinds and c <= kinds[-1][0] * (1 + KIND_SPREAD):
            kinds[-1][1] = c
        else:
            kinds.append([c, c])
    return [tuple(k) for k in kinds]


def full_grid():
    return [(d, b, kv, hq, hkv, q, c) for d in HEAD_DIMS for (hq, hkv) in HEADS for q in Q_TOKENS
            for c in CACHES for b in BATCHES for kv in KVS]


def bandwidth_cell(key):
    return key[1] >= 8 and key[2] >= 8192


def ratio_text(r):
    """A cuDNN / ours ratio to 3 decimals, truncated: a cell below 1.0 never prints as 1.000."""
    return f"{math.floor(r * 1000 + 1e-9) / 1000:.3f}"


def cell_path(key):
    """The bench's name of a cell (decode/d128/b8/kv8192/hq32hkv8/q1/contig)."""
    d, b, kv, hq, hkv, q, c = key
    return f"decode/d{d}/b{b}/kv{kv}/hq{hq}hkv{hkv}/q{q}/{c}"


def cell_name(key):
    d, b, kv, hq, hkv, q, c = key
    return f"d{d} b{b} kv{kv} {hq}/{hkv} q{q} {c}"


def read_run(path):
    """A bench JSON file, or the complete entries of one cut short (a chunk stopped at its
    deadline: Google Benchmark writes the file as it goes, so it ends inside the array). Returns
    (data, entries recovered or None when the file was whole)."""
    with open_text(path) as f:
        text = f.read()
    try:
        return json.loads(text), None
    except json.JSONDecodeError as e:
        whole_error = e
    dec = json.JSONDecoder()
    data = {"context": {}, "benchmarks": []}
    i = text.find('"context"')
    if i >= 0:
        try:
            data["context"] = dec.raw_decode(text, text.index("{", i))[0]
        except (ValueError, json.JSONDecodeError):
            pass
    i = text.find('"benchmarks"')
    j = text.find("[", i) + 1 if i >= 0 else -1
    while j > 0:
        while j < len(text) and text[j] in " \t\r\n,":
            j += 1
        try:
            entry, j = dec.raw_decode(text, j)
        except json.JSONDecodeError:
            break
        data["benchmarks"].append(entry)
    if not data["benchmarks"]:
        raise whole_error
    return data, len(data["benchmarks"])


def read_plans(path):
    """{cell name: (row, splits, CTAs)} from `ptxfmha decode-plans` output."""
    plans = {}
    with open_text(path) as f:
        for line in f:
            w = line.split()
            if len(w) == 5 and not line.startswith("#"):
                plans[w[0]] = (w[1], int(w[3]), int(w[4]))
    return plans


def other_plan(entry, plan):
    """Whether a bench entry recorded a plan other than `plan` (row, splits, CTAs)."""
    if plan is None or not entry.get("splits"):
        return False
    row = entry.get("label", "").split(";")[0].strip()  # the bench's label starts with the row
    return ((row != "" and row != plan[0]) or int(entry["splits"]) != plan[1] or
            int(entry.get("split_ctas", 0)) != plan[2])


def load(paths, plans=None):
    """{(key, variant): {"ours": entry, "pair": (ours, cudnn) or None}} from the runs, later wins.
    With plans (read_plans), bf16 entries of another plan are left out."""
    runs = []
    for p in paths:
        data, recovered = read_run(p)
        runs.append((data.get("context", {}).get("run_started_utc", ""), p, data, recovered))
    runs.sort(key=lambda r: r[0])  # oldest first: later runs overwrite
    cells, sources = {}, []
    for started, path, data, recovered in runs:
        ctx = data.get("context", {})
        base = ctx.get("cudnn_baseline", "?")
        if recovered is not None:
            base += f" (cut short: its {recovered} complete entries read)"
        found = {}
        for b in data.get("benchmarks", []):
            if b.get("run_type", "iteration") != "iteration":
                continue
            m = DECODE.match(b.get("name", ""))
            if not m:
                continue
            key = (int(m["d"]), int(m["b"]), int(m["kv"]), int(m["hq"]), int(m["hkv"]), int(m["q"]), m["cache"])
            found.setdefault((key, m["variant"] or ""), {})[m["impl"]] = b
        if plans is not None:
            other = [kv_ for kv_, sides in found.items() if kv_[1] == "" and
                     other_plan(sides.get("ptxfmha") or {}, plans.get(cell_path(kv_[0])))]
            for kv_ in other:
                del found[kv_]
            if other:
                base += f" ({len(other)} {'entry' if len(other) == 1 else 'entries'} of another plan left out)"
        sources.append((path, started, ctx.get("device", "?"), base, run_ceiling(data)))
        for kv_, sides in found.items():
            ours = sides.get("ptxfmha")
            if ours is None or ours.get("error_occurred") or not ours.get("median_us"):
                continue
            ours = dict(ours, source=path, run_ceiling=sources[-1][4])
            cell = cells.setdefault(kv_, {"ours": None, "pair": None})
            cell["ours"] = ours
            cud = sides.get("cudnn")
            if cud is not None and not cud.get("error_occurred") and cud.get("median_us"):
                cell["pair"] = (ours, dict(cud, source=path))
    return cells, sources


class Target:
    def __init__(self, name, rule):
        self.name, self.rule = name, rule
        self.met, self.missed, self.unmeasured = [], [], []
        self.ceiling = {}  # fp8: {cell key: bf16 / e4m3 read time at the ceilings (read_us)}
        self.run_ceiling = {}  # vs cuDNN: {cell key: the read ceiling of the run that timed its pair}
        # ceiling, batch 1: {cell key: (ours met, cuDNN met, cuDNN's figure)} over the cells whose
        # pair (both sides of one run) has what the rule reads
        self.baseline = {}

    def line(self):
        return (f"| {self.name} | {self.rule} | {len(self.met)} | {len(self.missed)} | "
                f"{len(self.unmeasured)} |")


def ceiling_rule(entry):
    """(met, figure) of the ceiling target for one side's entry, None where it has no % of the ceiling."""
    pct = entry.get("pct_ceiling") if entry else None
    return None if pct is None else (pct >= MIN_PCT_CEILING, f"{pct:.1f}%")


def batch1_rule(entry):
    """(met, figure) of the batch-1 target for one side's entry, None where it has no bound."""
    if not entry or entry.get("bound_us") is None:
        return None
    over = entry["median_us"] - entry["bound_us"]
    return over <= BATCH1_SLACK_US, f"{entry['median_us']:.1f} / {entry['bound_us']:.1f} us"


def hold_baseline(target, key, pair, rule):
    """Both sides of a cell's pair under one rule: target.baseline[key]."""
    if not pair:
        return
    ours, cud = rule(pair[0]), rule(pair[1])
    if ours is not None and cud is not None:
        target.baseline[key] = (ours[0], cud[0], cud[1])


def evaluate(cells):
    grid = full_grid()
    vs = Target("vs cuDNN", f"cuDNN time / ours >= {MIN_VS_CUDNN}")
    ceil = Target("ceiling", f">= {MIN_PCT_CEILING:.0f}% of the read ceiling, batch >= 8, kv >= 8k")
    b1 = Target("batch 1", f"latency <= bound + {BATCH1_SLACK_US:.0f} us")
    fp8 = Target("fp8", f"bf16 / e4m3 time >= {MIN_FP8_SPEEDUP}, batch >= 8, kv >= 8k")
    for key in grid:
        c = cells.get((key, ""))
        ours = c["ours"] if c else None
        pair = c["pair"] if c else None
        if pair:
            r = pair[1]["median_us"] / pair[0]["median_us"]
            (vs.met if r >= MIN_VS_CUDNN else vs.missed).append((r, key, ratio_text(r)))
            vs.run_ceiling[key] = pair[0].get("run_ceiling")
        else:
            vs.unmeasured.append(key)
        if bandwidth_cell(key):
            got = ceiling_rule(ours)
            if got is None:
                ceil.unmeasured.append(key)
            else:
                (ceil.met if got[0] else ceil.missed).append((ours["pct_ceiling"], key, got[1]))
            hold_baseline(ceil, key, pair, ceiling_rule)
            e = cells.get((key, "e4m3"))
            if ours and e and e["ours"]:
                s = ours["median_us"] / e["ours"]["median_us"]
                same = ours["source"] == e["ours"]["source"]
                note = "" if same else " (two runs)"
                if ours.get("read_us") and e["ours"].get("read_us"):
                    # what kernels at the read ceiling on both sides would show
                    fp8.ceiling[key] = ours["read_us"] / e["ours"]["read_us"]
                    note += f" (ceilings {fp8.ceiling[key]:.2f}x)"
                (fp8.met if s >= MIN_FP8_SPEEDUP else fp8.missed).append((s, key, f"{s:.2f}x" + note))
            else:
                fp8.unmeasured.append(key)
        if key[1] == 1:
            got = batch1_rule(ours)
            if got is None:
                b1.unmeasured.append(key)
            else:
                (b1.met if got[0] else b1.missed).append((ours["bound_us"] - ours["median_us"], key, got[1]))
            hold_baseline(b1, key, pair, batch1_rule)
    return grid, [vs, ceil, b1, fp8]


def cta_rows(key):
    """Packed query rows per CTA of a cell: query tokens x GQA ratio, at most 64 (kernel.ptxh)."""
    _, _, _, hq, hkv, q, _ = key
    return min(q * (hq // hkv), 64)


# The kernels' regimes by packed rows per CTA: one 16-row m-tile; two (the mma.sync rows, each
# m-tile's warps converting an e4m3 tile); 33-64 (the warpgroup rows, _wg / _e4m3_wg on Hopper).
ROW_CLASSES = (("<= 16", 1, 16), ("17-32", 17, 32), ("33-64", 33, 64))


def fp8_by_rows(fp8):
    """The fp8 target split by packed rows per CTA: met / missed / not measured, measured range."""
    out = ["", "fp8 by packed rows per CTA (query tokens x GQA ratio, at most 64). Missed at the ceilings:"
           f" misses where the read ceiling's own bf16 / e4m3 ratio (read_us of each, measured in its run)"
           f" is below {MIN_FP8_SPEEDUP}, so that kernels at the ceiling on both sides would miss too:", "",
           "| rows per CTA | met | missed | missed at the ceilings | not measured | bf16 / e4m3 measured |",
           "|:---|---:|---:|---:|---:|:---|"]
    for name, lo, hi in ROW_CLASSES:
        inside = lambda key: lo <= cta_rows(key) <= hi
        met = [m for m in fp8.met if inside(m[1])]
        missed = [m for m in fp8.missed if inside(m[1])]
        unmeasured = [k for k in fp8.unmeasured if inside(k)]
        ratios = [m[0] for m in met + missed]
        span = f"{min(ratios):.2f}x-{max(ratios):.2f}x" if ratios else "—"
        at_ceiling = sum(1 for m in missed if fp8.ceiling.get(m[1], MIN_FP8_SPEEDUP) < MIN_FP8_SPEEDUP)
        out.append(f"| {name} | {len(met)} | {len(missed)} | {at_ceiling} | {len(unmeasured)} | {span} |")
    return out


# The batch-1 target's bound by size: short calls (launch, split and combine latency dominate),
# middle, and long reads, where 3 us of slack asks for >= 99% of the read ceiling.
BOUND_CLASSES = (("< 30 us", 0.0, 30.0), ("30-300 us", 30.0, 300.0), (">= 300 us", 300.0, math.inf))


def batch1_by_bound(b1, cells):
    """The batch-1 target split by its bound: met / missed, and the misses' bound / ours."""
    out = ["", f"batch 1 by the bound (max(read time at the ceiling, launch floor)); the slack of "
           f"{BATCH1_SLACK_US:.0f} us is a smaller share of a longer call. bound / ours: the bound as a share "
           "of our latency on the misses (min-max, median):", "",
           "| bound | met | missed | bound / ours of the misses |", "|:---|---:|---:|:---|"]
    bound = lambda key: cells[(key, "")]["ours"]["bound_us"]
    for name, lo, hi in BOUND_CLASSES:
        met = [m for m in b1.met if lo <= bound(m[1]) < hi]
        missed = [m for m in b1.missed if lo <= bound(m[1]) < hi]
        f = sorted(bound(m[1]) / cells[(m[1], "")]["ours"]["median_us"] for m in missed)
        span = f"{f[0]:.1%}-{f[-1]:.1%} ({f[len(f) // 2]:.1%})" if f else "—"
        out.append(f"| {name} | {len(met)} | {len(missed)} | {span} |")
    return out


def vs_cudnn_by_kind(vs, ceilings):
    """The vs-cuDNN target by the read-ceiling kind of the run that timed each cell's pair."""
    kinds = ceiling_kinds(ceilings)
    if not kinds:
        return []
    rows = {k: [0, 0, 0] for k in kinds + [None]}  # runs, met, missed
    def kind_of(c):
        return next((k for k in kinds if c is not None and k[0] <= c <= k[1]), None)
    for c in ceilings:
        rows[kind_of(c)][0] += 1
    for i, entries in ((1, vs.met), (2, vs.missed)):
        for entry in entries:
            rows[kind_of(vs.run_ceiling.get(entry[1]))][i] += 1
    out = ["", "vs cuDNN by the read ceiling of the run that timed the cell (runs grouped into kinds within "
           f"{KIND_SPREAD:.1%} of a kind's lowest ceiling):", "",
           "| read ceiling GB/s | runs | met | missed |", "|:---|---:|---:|---:|"]
    for k in kinds + [None]:
        runs, met, missed = rows[k]
        if k is None and not (runs or met or missed):
            continue
        name = "— (no long reads)" if k is None else f"{k[0]:.0f}-{k[1]:.0f}"
        out.append(f"| {name} | {runs} | {met} | {missed} |")
    return out


def baseline_table(targets):
    """The targets that are rules on a time (ceiling, batch 1) with cuDNN's time held to them too."""
    held = [t for t in targets if t.baseline]
    if not held:
        return []
    out = ["", "The baseline under the same rules: cuDNN's time held to the ceiling and batch-1 targets on the"
           " cells where both sides were timed in one run (each against that run's read ceiling and bound):", "",
           "| target | cells | both met | ours only | cuDNN only | neither |", "|:---|---:|---:|---:|---:|---:|"]
    for t in held:
        n = {(o, c): 0 for o in (True, False) for c in (True, False)}
        for o, c, _ in t.baseline.values():
            n[(o, c)] += 1
        out.append(f"| {t.name} | {len(t.baseline)} | {n[(True, True)]} | {n[(True, False)]} | "
                   f"{n[(False, True)]} | {n[(False, False)]} |")
    return out


def report(cells, sources, grid, targets, with_cells, max_list):
    out = ["# Decode targets (issue 17) over the full grid", ""]
    out.append("| run | started (UTC) | device | read ceiling GB/s | cuDNN baseline |")
    out.append("|:---|:---|:---|---:|:---|")
    for path, started, dev, base, ceiling in sources:
        out.append(f"| {path} | {started} | {dev} | {'—' if ceiling is None else f'{ceiling:.0f}'} | {base} |")
    measured = sum(1 for k in grid if cells.get((k, ""), {}).get("ours"))
    with_cudnn = sum(1 for k in grid if cells.get((k, ""), {}).get("pair"))
    out += ["", f"Coverage: {measured} of {len(grid)} cells measured (bf16 cache), {with_cudnn} with cuDNN "
            "timed beside ours.", ""]
    out.append("| target | rule | met | missed | not measured |")
    out.append("|:---|:---|---:|---:|---:|")
    out += [t.line() for t in targets]
    vs, _, b1, fp8 = targets
    out += vs_cudnn_by_kind(vs, [src[4] for src in sources])
    out += baseline_table(targets)
    if b1.met or b1.missed:
        out += batch1_by_bound(b1, cells)
    out += fp8_by_rows(fp8)
    for t in targets:
        if not t.missed:
            continue
        out += ["", f"## Missed: {t.name} ({len(t.missed)} cells, worst first)", ""]
        for _, key, what, *_ in sorted(t.missed, key=lambda m: m[0])[:max_list]:
            held = t.baseline.get(key)
            cud = "" if held is None else f" (cuDNN {held[2]}: {'met' if held[1] else 'missed'})"
            out.append(f"- {cell_name(key)}: {what}{cud}")
        if len(t.missed) > max_list:
            out.append(f"- ... and {len(t.missed) - max_list} more")
    if with_cells:
        out += ["", "## Cells", "",
                "vs cuDNN truncated to 3 decimals (below 1.000: below cuDNN); splits (CTAs): the library's"
                " plan for our entry, where the run recorded it (JSON counters `splits`, `split_ctas`).", "",
                "| cell | ours us | GB/s | % ceiling | cuDNN us | vs cuDNN | e4m3 us | bf16/e4m3 | splits (CTAs) |",
                "|:---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for key in grid:
            c = cells.get((key, ""))
            if not c or not c["ours"]:
                continue
            o, p = c["ours"], c["pair"]
            e = (cells.get((key, "e4m3")) or {}).get("ours")
            f = lambda v, s="{:.1f}": "—" if v is None else s.format(v)
            out.append(f"| {cell_name(key)} | {f(o['median_us'])} | {f(o.get('KV_GBps'), '{:.0f}')} | "
                       f"{f(o.get('pct_ceiling'))} | {f(p[1]['median_us'] if p else None)} | "
                       f"{ratio_text(p[1]['median_us'] / p[0]['median_us']) if p else '—'} | "
                       f"{f(e['median_us'] if e else None)} | "
                       f"{f(o['median_us'] / e['median_us'] if e else None, '{:.2f}')} | "
                       f"{'%d (%d)' % (o['splits'], o['split_ctas']) if o.get('splits') else '—'} |")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", nargs="+")
    ap.add_argument("--md", help="write the report here (default: stdout)")
    ap.add_argument("--cells", action="store_true", help="append the cell-by-cell table")
    ap.add_argument("--max-list", type=int, default=40, help="misses listed per target")
    ap.add_argument("--plans", help="`ptxfmha decode-plans` output: read only entries of these plans")
    args = ap.parse_args()
    cells, sources = load(args.json, read_plans(args.plans) if args.plans else None)
    if not cells:
        print("decode_targets: no timed decode cells in " + ", ".join(args.json), file=sys.stderr)
        return 1
    grid, targets = evaluate(cells)
    text = report(cells, sources, grid, targets, args.cells, args.max_list)
    if args.md:
        with open(args.md, "w") as f:
            f.write(text)
        print(f"decode_targets: wrote {args.md}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
