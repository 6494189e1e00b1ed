#!/usr/bin/env bash
# s35's second call (prepared after n7 ran on an H100, 2026-12-07 03:16 UTC). n7's placement probe
# at 256 threads per CTA read 21-31 GB/s per CTA, below the 24-48 GB/s that the d256 split kernel
# reads per CTA at 64-128 CTAs, and showed no loss at 80-104 CTAs and no difference between CTAs
# that share a TPC and CTAs alone. This call asks the same at 512 and 1024 threads per CTA (2x
# and 4x the loads in flight), where a CTA can ask for more than its share of the read bandwidth.
# Then the counts a per-CTA rate for the one-m-tile d256 CTA on TMA boxes (tried offline in s35,
# bench/DECODE_NOTES.md, not adopted) would move to, untimed so far:
#   d256-tma-b48   batches 4 / 8, one token, 32/8 64/8 128/8 heads (4-16 rows, one m-tile), pages of
#                  64, kv 4k-128k: 64 CTAs (b4 2 splits, b8 1) against 128 (b4 4, b8 2)
#   d256-16row-b1  batch 1, 16 packed rows (128/8 x 1, 32/8 x 4 tokens), pages of 64, kv 4k-128k:
#                  the plan's 8 splits against 9 / 10 / 11 (where the rate moved them) and 16
# Carry: bench/results/prepared-s23/prepare.sh on main as of s35 (the CLI's --threads). Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s35/n8.sh n8 BUDGET
. bench/devcall.sh
call_begin "$1" "${2:-300}"
shift 2
part placement-t1024 60 .deps/gpu/ptxfmha placement --threads 1024 --raw
part placement-t512 60 .deps/gpu/ptxfmha placement --threads 512 --raw
part placement-t1024-4mib 60 .deps/gpu/ptxfmha placement --threads 1024 --cta-mib 4 --raw
C="$PWD/build-bench/cub"
bench_cells d256-tma-b48 "$C" "default,s1,s2,s4" \
  "decode/d256/b(4|8)/kv(4096|8192|32768|131072)/hq(32|64|128)hkv8/q1/page64/"
bench_cells d256-16row-b1 "$C" "default,s8,s9,s10,s11,s16" \
  "decode/d256/b1/kv(4096|8192|32768|131072)/(hq128hkv8/q1|hq32hkv8/q4)/page64/"
call_end
