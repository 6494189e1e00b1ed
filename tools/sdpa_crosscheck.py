#!/usr/bin/env python3
"""Cross-check the bench's cuDNN baseline against PyTorch's SDPA (cuDNN and flash backends).

    sdpa_crosscheck.py [--bench-json FILE ...] [--suite prefill|decode|all] [--out FILE]

Times torch.nn.functional.scaled_dot_product_attention with the cuDNN backend and the flash
backend (torch.nn.attention.sdpa_kernel) on the cells of the bench's JSON from the same run
(or, without --bench-json, the bench's prefill grid and its classic decode grid), the way the
bench times: CUDA events around N back-to-back launches (N chosen so a batch lasts about
--batch-ms), warm-up, the median over --samples batches, inputs rotated over enough copies to
exceed twice the L2 size, Q/K/V in the bench's memory layout [batch, seq, heads, head_dim] (a
transposed view, no copy). Then prints, per cell, the bench's ptx-fmha and cuDNN figures next to
PyTorch's, in TFLOPS (prefill, 4*B*H*Sq*Sk*D, halved for causal) or GB/s of K+V read (decode).

A backend that cannot run a cell (unsupported shape, GQA on a backend without it, no such
backend in this PyTorch) is reported as unavailable for that cell with PyTorch's reason; cells
PyTorch's SDPA cannot express the way the bench runs them (paged caches; several causal query
tokens, since is_causal is top-left aligned) are listed as skipped. Exit status 0 unless the
arguments are wrong; without PyTorch or a GPU it says so and exits 0.
"""
import argparse
import json
import math
import re
import statistics
import sys

from results_io import open_text

PREFILL = re.compile(r"^fwd/d(?P<d>\d+)/(?P<mask>causal|noncausal)/s(?P<s>\d+)/b(?P<b>\d+)h(?P<h>\d+)/(?P<impl>ptxfmha|cudnn)(/|$)")
DECODE = re.compile(r"^decode/d(?P<d>\d+)/b(?P<b>\d+)/kv(?P<kv>\d+)/hq(?P<hq>\d+)hkv(?P<hkv>\d+)"
                    r"(?:/q(?P<q>\d+)/(?P<cache>contig|page\d+))?/(?P<impl>ptxfmha|cudnn)(/|$)")


def cell_from_name(name):
    """(key, cell dict) for a bench entry name, or None."""
    m = PREFILL.match(name)
    if m:
        d, s, b, h = int(m["d"]), int(m["s"]), int(m["b"]), int(m["h"])
        key = name[:m.start("impl") - 1]
        return key, dict(kind="prefill", d=d, b=b, hq=h, hkv=h, sq=s, sk=s, causal=m["mask"] == "causal",
                         page=0, impl=m["impl"])
    m = DECODE.match(name)
    if m:
        q = int(m["q"] or 1)
        cache = m["cache"] or "contig"
        key = name[:m.start("impl") - 1]
        return key, dict(kind="decode", d=int(m["d"]), b=int(m["b"]), hq=int(m["hq"]), hkv=int(m["hkv"]),
                         sq=q, sk=int(m["kv"]), causal=q > 1,
                         page=0 if cache == "contig" else int(cache[4:]), impl=m["impl"])
    return None


def default_cells(suite):
    cells = {}
    if suite in ("prefill", "all"):
        for d in (64, 128, 256):
            for causal in (False, True):
                for s in (512, 1024, 2048, 4096, 8192, 16384):
                    b, h = max(1, 16384 // s), max(1, 2048 // d)
                    key = f"fwd/d{d}/{'causal' if causal else 'noncausal'}/s{s}/b{b}h{h}"
                    cells[key] = dict(kind="prefill", d=d, b=b, hq=h, hkv=h, sq=s, sk=s, causal=causal, page=0)
    if suite in ("decode", "all"):
        for b in (1, 8, 32, 64):
            for kv in (4096, 8192, 32768):
                key = f"decode/d128/b{b}/kv{kv}/hq32hkv8/q1/contig"
                cells[key] = dict(kind="decode", d=128, b=b, hq=32, hkv=8, sq=1, sk=kv, causal=False, page=0)
    return cells


def load_bench(paths):
    """cells and the bench's figures: {key: {"cudnn": entry, "ptxfmha": entry}} and contexts."""
    cells, bench, contexts = {}, {}, []
    for path in paths:
        with open_text(path) as f:
            data = json.load(f)
        contexts.append(data.get("context", {}))
        for b in data.get("benchmarks", []):
            if b.get("run_type", "iteration") != "iteration":
                continue
            parsed = cell_from_name(b.get("name", ""))
            if not parsed:
                continue
            key, cell = parsed
            impl = cell.pop("impl")
            cells[key] = cell
            bench.setdefault(key, {})[impl] = b
    return cells, bench, contexts


def work(cell):
    """TFLOP (prefill) or GB of K+V (decode) per call."""
    if cell["kind"] == "prefill":
        f = 4.0 * cell["b"] * cell["hq"] * cell["sq"] * cell["sk"] * cell["d"]
        return (f / 2 if cell["causal"] else f) / 1e12
    return 4.0 * cell["b"] * cell["sk"] * cell["hkv"] * cell["d"] / 1e9


def skip_reason(cell):
    if cell["page"]:
        return "paged cache: PyTorch's SDPA has no paged form"
    if cell["causal"] and cell["sq"] != cell["sk"]:
        return "causal with seqlen_q != seqlen_k: is_causal is top-left aligned, the bench's mask bottom-right"
    return None


class Timer:
    def __init__(self, torch, args):
        self.torch, self.args = torch, args
        props = torch.cuda.get_device_properties(0)
        self.l2 = getattr(props, "L2_cache_size", 50 << 20)
        self.name = props.name

    def inputs(self, cell):
        """Rotation sets of (q, k, v) views [b, h, s, d] over [b, s, h, d] memory."""
        torch = self.torch
        b, d = cell["b"], cell["d"]
        set_bytes = 2 * d * b * (2 * cell["sq"] * cell["hq"] + 2 * cell["sk"] * cell["hkv"])
        nsets = max(1, min(64, math.ceil(2 * self.l2 / set_bytes)))
        g = torch.Generator(device="cuda").manual_seed(1234)
        sets = []
        for _ in range(nsets):
            def t(s, h):
                return torch.randn(b, s, h, d, device="cuda", dtype=torch.bfloat16, generator=g).transpose(1, 2)
            sets.append((t(cell["sq"], cell["hq"]), t(cell["sk"], cell["hkv"]), t(cell["sk"], cell["hkv"])))
        return sets

    def time(self, fn, sets):
        """ms per launch: median over batches of N back-to-back launches between two events."""
        torch, a = self.torch, self.args
        i = 0

        def one():
            nonlocal i
            q, k, v = sets[i % len(sets)]
            i += 1
            fn(q, k, v)

        for _ in range(a.warmup):
            one()
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(3):
            one()
        end.record()
        end.synchronize()
        est = max(1e-3, start.elapsed_time(end) / 3)
        n = int(min(2000, max(1, math.ceil(a.batch_ms / est))))
        per = []
        for _ in range(a.samples):
            one()  # keeps the queue busy ahead of the start event
            start.record()
            for _ in range(n):
                one()
            end.record()
            end.synchronize()
            per.append(start.elapsed_time(end) / n)
        return statistics.median(per), n


def run_backend(torch, timer, cell, sets, backend):
    """(ms, reps, output of set 0) or (None, reason, None)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    F = torch.nn.functional
    be = getattr(SDPBackend, backend, None)
    if be is None:
        return None, f"this PyTorch has no SDPBackend.{backend}", None
    scale = 1.0 / math.sqrt(cell["d"])
    gqa = cell["hq"] != cell["hkv"]

    def fn(q, k, v):
        kw = {"enable_gqa": True} if gqa else {}
        return F.scaled_dot_product_attention(q, k, v, is_causal=cell["causal"], scale=scale, **kw)

    try:
        with sdpa_kernel([be]):
            out = fn(*sets[0])
            torch.cuda.synchronize()
            ms, reps = timer.time(fn, sets)
        return ms, reps, out
    except (RuntimeError, TypeError, ValueError) as e:
        msg = " ".join(str(e).split())
        return None, msg[:160], None


def fmt(v, f="{:.1f}"):
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f.format(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench-json", action="append", default=[], help="ptxfmha_bench JSON (repeatable)")
    ap.add_argument("--suite", choices=["prefill", "decode", "all"], default="all")
    ap.add_argument("--filter", default="", help="regular expression on the cell names")
    ap.add_argument("--batch-ms", type=float, default=5.0)
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--backends", default="CUDNN_ATTENTION,FLASH_ATTENTION")
    ap.add_argument("--out", help="also write the table here")
    ap.add_argument("--json", help="write the measurements as JSON here")
    ap.add_argument("--list", action="store_true",
                    help="list the cells with the bench's figures and what would be skipped; time nothing")
    args = ap.parse_args()

    if args.bench_json:
        cells, bench, contexts = load_bench(args.bench_json)
    else:
        cells, bench, contexts = default_cells(args.suite), {}, []
    cells = {k: c for k, c in cells.items()
             if (args.suite == "all" or c["kind"] == args.suite) and re.search(args.filter, k)}
    if args.list:
        for key in sorted(cells, key=lambda k: (cells[k]["kind"], cells[k]["d"], k)):
            cell, b = cells[key], bench.get(key, {})
            unit = "TFLOPS" if cell["kind"] == "prefill" else "GB/s"
            rate = {impl: work(cell) / (e["median_us"] * 1e-6) for impl, e in b.items()
                    if e.get("median_us") and not e.get("error_occurred")}
            print(f"{key} {unit} bench ours {fmt(rate.get('ptxfmha'))} cuDNN {fmt(rate.get('cudnn'))}"
                  + (f" skipped: {skip_reason(cell)}" if skip_reason(cell) else ""))
        print(f"{len(cells)} cells")
        return 0
    try:
        import torch
    except ImportError as e:
        print(f"sdpa_crosscheck: PyTorch is not available ({e}); nothing measured")
        return 0
    if not torch.cuda.is_available():
        print("sdpa_crosscheck: no CUDA device; nothing measured")
        return 0
    timer = Timer(torch, args)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    lines, results = [], {}
    ctx = contexts[0] if contexts else {}
    lines.append(f"PyTorch SDPA vs the bench on {timer.name}: torch {torch.__version__}, CUDA {torch.version.cuda}, "
                 f"torch's cuDNN {torch.backends.cudnn.version()}; bench: cuDNN {ctx.get('cudnn_version', '-')}, "
                 f"baseline {ctx.get('cudnn_baseline', '-')}, timing {ctx.get('timing_method', '-')}, "
                 f"run {ctx.get('run_started_utc', '-')}")
    lines.append("torch: median per launch of N back-to-back launches between two CUDA events, inputs rotated "
                 "over > 2x L2, layout [b, s, h, d] (transposed views)")
    short = {"CUDNN_ATTENTION": "torch cuDNN", "FLASH_ATTENTION": "torch flash"}
    head = f"{'cell':48} {'unit':6} {'bench ours':>10} {'bench cuDNN':>11} " + " ".join(
        f"{short.get(b, b):>12}" for b in backends) + f" {'torch/bench cuDNN':>17}  notes"
    lines.append(head)
    for key in sorted(cells, key=lambda k: (cells[k]["kind"], cells[k]["d"], k)):
        cell = cells[key]
        unit = "TFLOPS" if cell["kind"] == "prefill" else "GB/s"
        w = work(cell)
        b = bench.get(key, {})

        def bench_rate(impl):
            e = b.get(impl)
            if not e or e.get("error_occurred") or not e.get("median_us"):
                return None
            return w / (e["median_us"] * 1e-6)

        notes, rates, outs = [], {}, {}
        why = skip_reason(cell)
        if why:
            notes.append("skipped: " + why)
        else:
            try:
                sets = timer.inputs(cell)
            except RuntimeError as e:  # out of memory
                sets = None
                notes.append("inputs: " + " ".join(str(e).split())[:120])
            for be in backends if sets else []:
                ms, info, out = run_backend(torch, timer, cell, sets, be)
                if ms is None:
                    notes.append(f"{short.get(be, be)} unavailable: {info}")
                else:
                    rates[be] = w / (ms * 1e-3)
                    outs[be] = out
            if len(outs) == 2:
                o1, o2 = (x.float() for x in outs.values())
                rel = ((o1 - o2).norm() / o2.norm()).item()
                notes.append(f"backends agree: rel_l2 {rel:.1e}")
            del sets
            torch.cuda.empty_cache()
        bc = bench_rate("cudnn")
        tc = rates.get("CUDNN_ATTENTION")
        ratio = tc / bc if (tc and bc) else None
        f = "{:.1f}" if unit == "TFLOPS" else "{:.0f}"
        lines.append(f"{key:48} {unit:6} {fmt(bench_rate('ptxfmha'), f):>10} {fmt(bc, f):>11} " +
                     " ".join(f"{fmt(rates.get(be), f):>12}" for be in backends) +
                     f" {fmt(ratio, '{:.3f}'):>17}  {'; '.join(notes)}")
        results[key] = dict(cell=cell, unit=unit, bench_ours=bench_rate("ptxfmha"), bench_cudnn=bc,
                            torch=rates, notes=notes)
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
