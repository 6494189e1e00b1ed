#!/usr/bin/env python3
"""Turn ptxfmha_bench's Google Benchmark JSON into a Markdown table and PNG plots.

    plot_bench.py bench.json [--md bench.md] [--png bench.png]

Prefill plot: TFLOPS against sequence length, one column per head dim, one row per mask
(non-causal, causal), ptx-fmha (solid) against cuDNN (dashed). Decode results, when present,
go to <png stem>_decode.png (GB/s of K+V read against KV length, one line per batch size, for
head dim 128, 32/8 heads, one query token, contiguous cache; the read ceiling dotted).
Decode names of runs before 2026-12 (no query-token and cache parts) are read too.
The Markdown table needs only the standard library; the PNG needs matplotlib (without it the
script says so, writes the table and exits 0).
Entries that were not timed (no kernel, cuDNN refused the shape, failed correctness check)
appear in the table with their reason and are left out of the plot.
"""
import argparse
import json
import math
import os
import re
import sys

from results_io import open_text

PREFILL = re.compile(r"^fwd/d(?P<d>\d+)/(?P<mask>causal|noncausal)/s(?P<s>\d+)/b(?P<b>\d+)h(?P<h>\d+)/(?P<impl>ptxfmha|cudnn)")
DECODE = re.compile(r"^decode/d(?P<d>\d+)/b(?P<b>\d+)/kv(?P<kv>\d+)/hq(?P<hq>\d+)hkv(?P<hkv>\d+)"
                    r"(?:/q(?P<q>\d+)/(?P<cache>contig|page\d+))?/(?P<impl>ptxfmha|cudnn)")


def load(path):
    with open_text(path) as f:
        data = json.load(f)
    prefill, decode = {}, {}
    for b in data.get("benchmarks", []):
        if b.get("run_type", "iteration") != "iteration":
            continue  # aggregates of --benchmark_repetitions: keep the per-run entries
        name = b.get("name", "")
        entry = {
            "value": None,
            "vs_cudnn": b.get("vs_cudnn"),
            "median_us": b.get("median_us"),
            "sm_mhz": b.get("sm_mhz"),
            "error": b.get("error_message") if b.get("error_occurred") else None,
            "label": b.get("label", ""),
            "vs_cudnn_launch": b.get("vs_cudnn_launch"),
            "cudnn_engine": b.get("cudnn_engine"),
            "cudnn_plans_timed": b.get("cudnn_plans_timed"),
            "ceiling": b.get("ceiling_GBps"),
            "pct_ceiling": b.get("pct_ceiling"),
            "bound_us": b.get("bound_us"),
        }
        m = PREFILL.match(name)
        if m:
            entry["value"] = b.get("TFLOPS")
            key = (int(m["d"]), m["mask"], int(m["s"]), int(m["b"]), int(m["h"]))
            prefill.setdefault(key, {})[m["impl"]] = entry
            continue
        m = DECODE.match(name)
        if m:
            # GB/s of K+V read; runs before 2026-12 only have GBps (K+V+Q+O, within 1% of it)
            entry["value"] = b.get("KV_GBps", b.get("GBps"))
            key = (int(m["d"]), int(m["b"]), int(m["kv"]), int(m["hq"]), int(m["hkv"]),
                   int(m["q"] or 1), m["cache"] or "contig")
            decode.setdefault(key, {})[m["impl"]] = entry
    return data.get("context", {}), prefill, decode


def fmt(v, f="{:.1f}"):
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f.format(v)


def ratio(pair):
    o, c = pair.get("ptxfmha", {}), pair.get("cudnn", {})
    if o.get("vs_cudnn") is not None:
        return o["vs_cudnn"]
    if o.get("median_us") and c.get("median_us"):
        return c["median_us"] / o["median_us"]
    return None


def clocks(pair):
    """Mean SM clocks (MHz) while ours / cuDNN's interleaved batches ran."""
    o, c = pair.get("ptxfmha", {}).get("sm_mhz"), pair.get("cudnn", {}).get("sm_mhz")
    return f"{fmt(o, '{:.0f}')} / {fmt(c, '{:.0f}')}"


def plan(pair):
    """cuDNN's engine and how many plans the tuner timed ("eng8 of 3")."""
    c = pair.get("cudnn", {})
    if c.get("cudnn_engine") is None:
        return "—"
    timed = c.get("cudnn_plans_timed") or 0
    return f"eng{int(c['cudnn_engine'])}" + (f" of {int(timed)}" if timed > 1 else "")


def launch_ratio(pair):
    v = pair.get("ptxfmha", {}).get("vs_cudnn_launch")
    return None if v is None else v


def notes(pair):
    out = []
    for impl, who in (("ptxfmha", "ptx-fmha"), ("cudnn", "cuDNN")):
        e = pair.get(impl, {}).get("error")
        if e:
            e = " ".join(e.split())
            out.append(f"{who}: {e[:140] + '…' if len(e) > 140 else e}")
    return "; ".join(out).replace("|", "\\|")


def markdown(ctx, prefill, decode):
    lines = []
    dev = ctx.get("device", "?")
    lines.append(f"# ptx-fmha vs cuDNN SDPA forward — {dev}")
    lines.append("")
    lines.append(
        f"cuDNN {ctx.get('cudnn_version', '?')} (headers {ctx.get('cudnn_headers_version', '?')}, "
        f"cudnn-frontend {ctx.get('cudnn_frontend_version', '?')}), CUDA driver "
        f"{ctx.get('cuda_driver_version', '?')}, ptx-fmha {ctx.get('ptxfmha_version', '?')}, "
        f"run {ctx.get('run_started_utc', ctx.get('date', '?'))}.")
    lines.append("bf16, layout [batch, seq, heads, head_dim], LSE written, causal = bottom-right. "
                 "Median over timed launches (" + ctx.get("timing", "") + "). "
                 "Ratio = cuDNN time / ptx-fmha time (> 1: ptx-fmha faster).")
    lines.append("")
    lines.append("cuDNN baseline: " + ctx.get("cudnn_baseline", "the heuristics' first plan (runs before 2026-12)") + ".")
    if ctx.get("perturb_scale", "1") not in ("1", "-"):
        lines.append("")
        lines.append(f"**PERTURBED RUN** (softmax scale ×{ctx['perturb_scale']} in ptx-fmha): numbers are not valid.")
    if prefill:
        lines.append("")
        lines.append("## Prefill (16k tokens, hidden 2048)")
        lines.append("")
        lines.append("| head dim | mask | seqlen | batch × heads | ptx-fmha TFLOPS | cuDNN TFLOPS | ratio | ratio (per-launch events) | cuDNN plan | SM MHz ours / cuDNN | notes |")
        lines.append("|---:|:---|---:|---:|---:|---:|---:|---:|:---|---:|:---|")
        for key in sorted(prefill, key=lambda k: (k[0], k[1] != "noncausal", k[2])):
            d, mask, s, b, h = key
            p = prefill[key]
            lines.append(
                f"| {d} | {mask} | {s} | {b} × {h} | {fmt(p.get('ptxfmha', {}).get('value'))} | "
                f"{fmt(p.get('cudnn', {}).get('value'))} | {fmt(ratio(p), '{:.3f}')} | "
                f"{fmt(launch_ratio(p), '{:.3f}')} | {plan(p)} | {clocks(p)} | {notes(p)} |")
    if decode:
        lines.append("")
        lines.append("## Decode (GB/s of K+V read)")
        lines.append("")
        lines.append("Ceiling: a read-only streaming kernel over the same K+V bytes, timed beside both sides; "
                     "% ceiling = ceiling time / side time. Batch 1: our latency next to "
                     "max(read time at the ceiling, empty-kernel launch floor).")
        lines.append("")
        lines.append("| head dim | batch | KV length | heads q/kv | q tokens | cache | ptx-fmha GB/s | cuDNN GB/s | ratio | ceiling GB/s | % ceiling ours / cuDNN | b1 µs ours / bound | cuDNN plan | SM MHz ours / cuDNN | notes |")
        lines.append("|---:|---:|---:|---:|---:|:---|---:|---:|---:|---:|---:|---:|:---|---:|:---|")
        for key in sorted(decode):
            d, b, kv, hq, hkv, q, cache = key
            p = decode[key]
            o, c = p.get("ptxfmha", {}), p.get("cudnn", {})
            ceil = o.get("ceiling") or c.get("ceiling")
            pct = f"{fmt(o.get('pct_ceiling'), '{:.0f}')} / {fmt(c.get('pct_ceiling'), '{:.0f}')}"
            lat = "—"
            if b == 1 and o.get("median_us") is not None:
                lat = f"{fmt(o.get('median_us'), '{:.1f}')} / {fmt(o.get('bound_us'), '{:.1f}')}"
            lines.append(
                f"| {d} | {b} | {kv} | {hq}/{hkv} | {q} | {cache} | {fmt(o.get('value'), '{:.0f}')} | "
                f"{fmt(c.get('value'), '{:.0f}')} | {fmt(ratio(p), '{:.3f}')} | {fmt(ceil, '{:.0f}')} | {pct} | "
                f"{lat} | {plan(p)} | {clocks(p)} | {notes(p)} |")
    lines.append("")
    return "\n".join(lines)


def plot(ctx, prefill, decode, png):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        print(f"plot_bench: matplotlib not available ({e}); PNG skipped (run 'make deps')")
        return False
    title = f"{ctx.get('device', '?')}, cuDNN {ctx.get('cudnn_version', '?')}"
    written = []
    if prefill:
        dims = sorted({k[0] for k in prefill})
        masks = ["noncausal", "causal"]
        fig, axes = plt.subplots(len(masks), len(dims), figsize=(4.2 * len(dims), 7), squeeze=False)
        for r, mask in enumerate(masks):
            for c, d in enumerate(dims):
                ax = axes[r][c]
                keys = sorted(k for k in prefill if k[0] == d and k[1] == mask)
                for impl, style, color, who in (("ptxfmha", "-o", "C0", "ptx-fmha"),
                                                ("cudnn", "--s", "C1", "cuDNN")):
                    xs = [k[2] for k in keys if prefill[k].get(impl, {}).get("value") is not None]
                    ys = [prefill[k][impl]["value"] for k in keys if prefill[k].get(impl, {}).get("value") is not None]
                    if xs:
                        ax.plot(xs, ys, style, color=color, label=who)
                    missing = [prefill[k].get(impl, {}).get("error") for k in keys
                               if prefill[k].get(impl, {}).get("value") is None]
                    if missing and not xs:
                        reason = " ".join((missing[0] or "not run").split())
                        reason = reason[:55] + ("…" if len(reason) > 55 else "")
                        ax.text(0.5, 0.08 if impl == "ptxfmha" else 0.16, f"{who}: {reason}",
                                transform=ax.transAxes, ha="center", fontsize=6.5, color=color)
                ax.set_xscale("log", base=2)
                xt = sorted({k[2] for k in keys})
                if xt:
                    ax.set_xticks(xt)
                    ax.set_xticklabels([f"{x // 1024}k" if x >= 1024 else str(x) for x in xt])
                ax.set_title(f"head dim {d}, {mask}", fontsize=10)
                ax.set_xlabel("sequence length")
                ax.set_ylabel("TFLOPS")
                ax.set_ylim(bottom=0)
                ax.grid(True, alpha=0.3)
                ax.legend(fontsize=8)
        fig.suptitle(f"ptx-fmha vs cuDNN SDPA forward, bf16 — {title}", fontsize=11)
        fig.tight_layout()
        fig.savefig(png, dpi=110)
        plt.close(fig)
        written.append(png)
    if decode:
        out = os.path.splitext(png)[0] + "_decode.png"
        fig, ax = plt.subplots(figsize=(7, 4.5))
        base = [k for k in decode if k[0] == 128 and k[3:] == (32, 8, 1, "contig")]
        batches = sorted({k[1] for k in base})
        for i, b in enumerate(batches):
            keys = sorted(k for k in base if k[1] == b)
            for impl, style, who in (("ptxfmha", "-o", "ptx-fmha"), ("cudnn", "--s", "cuDNN"),
                                     ("ceiling", ":", "read ceiling")):
                get = (lambda k: decode[k].get("ptxfmha", {}).get("ceiling")) if impl == "ceiling" \
                    else (lambda k, impl=impl: decode[k].get(impl, {}).get("value"))
                pts = [(k[2], get(k)) for k in keys if get(k) is not None]
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], style, color=f"C{i}",
                            label=f"{who} b={b}")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("KV length")
        ax.set_ylabel("GB/s (K+V bytes / time)")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
        ax.set_title(f"decode, head dim 128, 32/8 heads — {title}", fontsize=10)
        fig.tight_layout()
        fig.savefig(out, dpi=110)
        plt.close(fig)
        written.append(out)
    for w in written:
        print(f"plot_bench: wrote {w}")
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json")
    ap.add_argument("--md", help="Markdown table output")
    ap.add_argument("--png", help="PNG plot output")
    args = ap.parse_args()
    ctx, prefill, decode = load(args.json)
    if not prefill and not decode:
        print(f"plot_bench: no ptxfmha_bench entries in {args.json}", file=sys.stderr)
        return 1
    md = markdown(ctx, prefill, decode)
    if args.md:
        with open(args.md, "w") as f:
            f.write(md)
        print(f"plot_bench: wrote {args.md}")
    else:
        print(md)
    if args.png:
        plot(ctx, prefill, decode, args.png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
