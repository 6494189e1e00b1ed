#!/usr/bin/env python3
"""Summarise `ncu --page source --csv --print-source sass` (tools/ncu-stalls.sh): the SASS
instructions with the most warp-state samples, as offsets from the function's first
instruction (the numbering of `cuobjdump -sass`), with their leading stall reasons, then the
share of every stall reason over the whole kernel."""
import csv
import sys

TOP = 40


def number(text):
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return 0.0


def main(path):
    rows = list(csv.reader(open(path, newline="")))
    head = next((i for i, r in enumerate(rows) if "Source" in r and "Address" in r), None)
    if head is None:
        sys.exit(f"{path}: no 'Address'/'Source' header (not an ncu source-page CSV?)")
    cols = rows[head]
    col = {name: i for i, name in enumerate(cols)}
    samples = col.get("Warp Stall Sampling (All Samples)")
    if samples is None:
        sys.exit(f"{path}: no 'Warp Stall Sampling (All Samples)' column (SourceCounters section?)")
    reasons = [(name[len("stall_"):], i) for name, i in col.items()
               if name.startswith("stall_") and not name.endswith("(Not Issued)")]
    data = [r for r in rows[head + 1:] if len(r) == len(cols) and r[col["Address"]].startswith("0x")]
    if not data:
        sys.exit(f"{path}: no instruction rows")
    base = int(data[0][col["Address"]], 16)
    total = sum(number(r[samples]) for r in data) or 1.0
    print(f"{len(data)} instructions, {total:.0f} samples; offset = address - {base:#x}")
    print(f"{'offset':>7} {'share':>6}  leading reasons              instruction")
    for r in sorted(data, key=lambda r: -number(r[samples]))[:TOP]:
        share = number(r[samples]) / total * 100
        lead = sorted(((number(r[i]), n) for n, i in reasons), reverse=True)[:2]
        why = ", ".join(f"{n} {v / max(number(r[samples]), 1) * 100:.0f}%" for v, n in lead if v > 0)
        off = int(r[col["Address"]], 16) - base
        print(f"{off:#07x} {share:5.1f}%  {why:<28} {r[col['Source']].strip()[:70]}")
    print("\nsamples per stall reason (whole kernel):")
    per = sorted(((sum(number(r[i]) for r in data), n) for n, i in reasons), reverse=True)
    for v, n in per:
        if v > 0:
            print(f"  {n:<20} {v / total * 100:5.1f}%")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: ncu_stalls.py SOURCE_PAGE.csv")
    main(sys.argv[1])
