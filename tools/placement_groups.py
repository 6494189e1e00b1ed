#!/usr/bin/env python3
"""Read `ptxfmha placement --raw` output: per grid size, how many CTAs each SM group holds and how
long its CTAs took, and CTAs that share a TPC against CTAs alone on theirs.

Input lines (the CLI's):  raw CTAS CTA SMID START_NS END_NS   (%globaltimer, ns)

SM groups are read off the fill order, not from the hardware: at the smallest grid size in the
file, the CTAs after those on the SMs that always fill first (the top 8 SM ids on an H100) each
start a group until the order comes round (an SM id at or below the last start); a group runs
from its first SM id to the next group's first id (the first group is taken down to SM 0, the
last up to the first always-first SM). On the H100 of s35 that gives
starts 2, 18, 34, 50, 64, 78, 92, 106 and the 8 SMs 124-131 as a group of their own. That the
groups are GPCs is a guess. TPC = SMs 2k and 2k+1 (assumed, as in the CLI).

Usage: placement_groups.py FILE [--first N]   (N: the always-first SMs, default 8)
Prints one table per grid size (CTAs per group, median / max CTA us per group) and one summary
table (per size: the spread of group medians, shared-TPC / alone medians, span). Standard
library only.
"""
import argparse
import statistics
import sys


def read_records(path):
    sizes = {}
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) != 6 or p[0] != "raw":
                continue
            ctas, cta, sm, start, end = (int(x) for x in p[1:])
            sizes.setdefault(ctas, []).append((cta, sm, start, end))
    for recs in sizes.values():
        recs.sort()
    return sizes


def group_starts(sizes, first):
    """SM ids that start a group: the CTAs right after the always-first ones at the smallest size."""
    recs = sizes[min(sizes)]
    first_sms = sorted(sm for _, sm, _, _ in recs[:first])
    starts = []
    for _, sm, _, _ in recs[first:]:
        # the rotation visits the groups in rising SM order; it has come round when the id falls
        if sm in first_sms or (starts and sm <= starts[-1]):
            break
        starts.append(sm)
    return sorted(starts), first_sms


def group_of(sm, starts, first_sms):
    if sm in first_sms:
        return "first"
    g = 0
    for i, s in enumerate(starts):
        if sm >= s:
            g = i
    return str(starts[g]) if starts else "all"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file")
    ap.add_argument("--first", type=int, default=8, help="CTAs placed on the always-first SMs")
    a = ap.parse_args()
    sizes = read_records(a.file)
    if not sizes:
        sys.exit(f"{a.file}: no 'raw' records (run ptxfmha placement --raw)")
    starts, first_sms = group_starts(sizes, a.first)
    print(f"groups start at SMs {starts}; always-first SMs {first_sms}")
    names = ["first"] + [str(s) for s in starts]
    summary = []
    for n in sorted(sizes):
        recs = sizes[n]
        t0 = min(r[2] for r in recs)
        t1 = max(r[3] for r in recs)
        us = {cta: (end - start) / 1e3 for cta, _, start, end in recs}
        by_group = {g: [] for g in names}
        for cta, sm, _, _ in recs:
            by_group.setdefault(group_of(sm, starts, first_sms), []).append(us[cta])
        busy = {sm for _, sm, _, _ in recs}
        shared = [us[c] for c, sm, _, _ in recs if (sm ^ 1) in busy]
        alone = [us[c] for c, sm, _, _ in recs if (sm ^ 1) not in busy]
        print(f"\n{n} CTAs: span {(t1 - t0) / 1e3:.1f} us")
        print("| group | CTAs | median us | max us |")
        print("|:---|---:|---:|---:|")
        meds = []
        for g in names:
            v = by_group.get(g, [])
            if v:
                meds.append(statistics.median(v))
                print(f"| {g} | {len(v)} | {statistics.median(v):.1f} | {max(v):.1f} |")
            else:
                print(f"| {g} | 0 | - | - |")
        summary.append((n, min(meds), max(meds), shared, alone, (t1 - t0) / 1e3))
    print("\n| CTAs | group medians min / max us | spread | shared TPC median us (n) | alone median us (n) | span us |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n, lo, hi, shared, alone, span in summary:
        sh = f"{statistics.median(shared):.1f} ({len(shared)})" if shared else "- (0)"
        al = f"{statistics.median(alone):.1f} ({len(alone)})" if alone else "- (0)"
        print(f"| {n} | {lo:.1f} / {hi:.1f} | {hi / lo - 1:.1%} | {sh} | {al} | {span:.1f} |")


if __name__ == "__main__":
    main()
