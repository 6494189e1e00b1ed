#!/usr/bin/env python3
"""Per launch, how evenly a kernel's CTAs finish: Nsight Compute raw metrics (CSV) in, a table out.

Input: the output of `ncu --csv --page raw --metrics M ...` (log lines before the CSV are
skipped), where M holds at least gpu__time_duration.sum, launch__grid_size and the SMs' active
cycles (sm__cycles_active.avg / .max); dram__bytes_read.sum,
dram__throughput.avg.pct_of_peak_sustained_elapsed, sm__ctas_launched.min / .max and
lts__t_sector_hit_rate.pct are printed where present. bench/results/prepared-s37/n10.sh and
n11.sh ask for them.

The imbalance column: sm__cycles_active.max over the mean of the busy SMs. ncu's .avg is over
every SM, so with a grid smaller than the SM count the idle SMs are taken out:
busy mean = avg x SMs / min(grid, SMs). With one CTA per SM, 1.00 says every CTA took as long as
the longest; 1.13 says the longest ran 13% past the mean, and the grid's end waits for it.

  tools/ncu_balance.py [--sms 132] FILE...
"""
import argparse
import csv
import sys

NEEDED = ("gpu__time_duration.sum", "launch__grid_size", "sm__cycles_active.avg", "sm__cycles_active.max")


def number(text):
    """ncu's raw page writes 1,073,832,192 and 85.41; '' or 'n/a' is None."""
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def launches(path):
    """The rows of FILE's CSV (header row: the one naming gpu__time_duration.sum; the next row
    holds units), as dicts; an error names the file when the header or a needed column is missing."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    head = next((i for i, r in enumerate(rows) if "gpu__time_duration.sum" in r), None)
    if head is None:
        raise SystemExit(f"{path}: no Nsight Compute raw CSV (no gpu__time_duration.sum column)")
    names = rows[head]
    missing = [m for m in NEEDED if m not in names]
    if missing:
        raise SystemExit(f"{path}: columns missing: {', '.join(missing)}")
    return [dict(zip(names, r)) for r in rows[head + 2:] if len(r) == len(names)]


def summary(row, sms):
    grid = int(number(row["launch__grid_size"]))
    busy = number(row["sm__cycles_active.avg"]) * sms / min(grid, sms)
    out = {
        "kernel": row.get("Kernel Name", "?"),
        "us": number(row["gpu__time_duration.sum"]) / 1000.0,
        "grid": grid,
        "imbalance": number(row["sm__cycles_active.max"]) / busy if busy > 0 else None,
    }
    for key, col in (("gb", "dram__bytes_read.sum"), ("dram_pct", "dram__throughput.avg.pct_of_peak_sustained_elapsed"),
                     ("hit_pct", "lts__t_sector_hit_rate.pct"), ("ctas_min", "sm__ctas_launched.min"),
                     ("ctas_max", "sm__ctas_launched.max")):
        out[key] = number(row[col]) if col in row else None
    if out["gb"] is not None:
        out["gb"] /= 1e9
    return out


def cell(value, fmt):
    return "-" if value is None else format(value, fmt)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sms", type=int, default=132, help="SMs of the device (H100 SXM: 132)")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    for path in a.files:
        rows = launches(path)
        print(f"## {path}: {len(rows)} launches\n")
        print("| kernel | us | grid | CTAs per SM | DRAM GB read | DRAM % of peak | L2 hit % | max / busy mean |")
        print("|:---|---:|---:|---:|---:|---:|---:|---:|")
        for row in rows:
            s = summary(row, a.sms)
            per_sm = "-" if s["ctas_min"] is None else f"{s['ctas_min']:.0f}-{s['ctas_max']:.0f}"
            print(f"| {s['kernel'][:48]} | {s['us']:.1f} | {s['grid']} | {per_sm} | {cell(s['gb'], '.4f')} | "
                  f"{cell(s['dram_pct'], '.2f')} | {cell(s['hit_pct'], '.2f')} | {cell(s['imbalance'], '.3f')} |")
        print()


if __name__ == "__main__":
    sys.exit(main())
