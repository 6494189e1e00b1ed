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
# Added in s36 (offline):
#   placement at 1024 threads with 12 MiB per CTA: ranges that start 12 MiB apart, not a power of
#                  two (a split's range at 10-15 splits is not either)
#   and, from the replay's misses, after the above:
#   d128-p16-128k  head dim 128, 64/8 and 128/8 x 4 tokens (32 / 64 rows), pages of 16, kv 128k,
#                  batches 4 / 8: the plan's two CTAs per SM (8 / 4 splits) against one (4 / 2).
#                  At batch 1 one per SM (16) was the best on all 4 kv-128k cells (s32 n4).
#   d128-wg-b1     head dim 128, 128/8 x 4 tokens (the _wg row), batch 1, contiguous and pages of
#                  64, kv 4k-32k: the plan's 13 splits (104 CTAs) against 8 and 16 (s31 n1: 8
#                  was 7.8% / 2.3% faster at kv 4k / 8k contiguous)
#   d64-mha-splits head dim 64, 32/32 heads (MHA), contiguous, batches 32 / 64 / 128, kv 8k / 32k,
#                  1 and 4 tokens: 1-4 splits (never timed as forced counts; s35's resurvey has
#                  these cells 0.948-1.003x cuDNN at 95.5-97.0% of the read ceiling)
# Carry: bench/results/prepared-s23/prepare.sh on main as of s35 (the CLI's --threads). Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s35/n8.sh n8 BUDGET
. bench/devcall.sh
call_begin "$1" "${2:-300}"
shift 2
part placement-t1024 60 .deps/gpu/ptxfmha placement --threads 1024 --raw
part placement-t512 60 .deps/gpu/ptxfmha placement --threads 512 --raw
part placement-t1024-4mib 60 .deps/gpu/ptxfmha placement --threads 1024 --cta-mib 4 --raw
part placement-t1024-12mib 60 .deps/gpu/ptxfmha placement --threads 1024 --cta-mib 12 --raw
C="$PWD/build-bench/cub"
bench_cells d256-tma-b48 "$C" "default,s1,s2,s4" \
  "decode/d256/b(4|8)/kv(4096|8192|32768|131072)/hq(32|64|128)hkv8/q1/page64/"
bench_cells d256-16row-b1 "$C" "default,s8,s9,s10,s11,s16" \
  "decode/d256/b1/kv(4096|8192|32768|131072)/(hq128hkv8/q1|hq32hkv8/q4)/page64/"
bench_cells d128-p16-128k "$C" "default,s2,s4,s8" \
  "decode/d128/b(4|8)/kv131072/hq(64|128)hkv8/q4/page16/"
bench_cells d128-wg-b1 "$C" "default,s8,s13,s16" \
  "decode/d128/b1/kv(4096|8192|32768)/hq128hkv8/q4/(contig|page64)/"
bench_cells d64-mha-splits "$C" "default,s1,s2,s3,s4" \
  "decode/d64/b(32|64|128)/kv(8192|32768)/hq32hkv32/q(1|4)/contig/"
call_end
