#!/usr/bin/env bash
# Ran 2026-12-06 20:41-20:50 UTC (s33) on an H100: bench/results/h100-2026-12-06-s33/n5.
# Prepared in s32 (not run). First the A/B of s32's two-per-SM rule (below). The H100 table
# after s32 (bench/results/h100-2026-12-06-s32):
# 94 of the 182 batch-1 misses are d256, where the plan runs 64 CTAs (8 KV heads: 8 splits;
# 32/32: 2) at kv 4k-128k on the per-CTA rate measured on the H200 (kDecodeCtaRateD256 2.1), and
# the 64-row `_wg` cells take 13-16 splits (60-81% of the ceiling at kv 8k-32k). Forced counts:
#   d256-b1-mha  32/32 heads (32 units): 2, 3, 4 splits beside the plan
#   d256-b1-gqa  32/8, 64/8, 128/8 heads (8 units): 8, 12, 16 beside the plan
# 1 and 4 tokens, kv 4k / 8k / 32k / 128k, contiguous (cp.async) and pages of 64 (TMA).
# Then the fp8 pass's remaining chunks, then d128 surveyed again (resurvey/): s29 measured its
# contiguous cells with TMA; since s30 the plain rows load them with cp.async.
# Carry: bench/results/prepared-s23/prepare.sh. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s32/n5.sh n5 570 [-- DONE1...] [--- DONE2...]
# DONE1 / DONE2 as for survey_two_pass. After s32 pass 1 is complete: name all 24 chunks after
# `--` (d256_hq128hkv8_q4 too: 89 of its 90 cells are read). Pass 2 (fp8) done: d128_* (8),
# d64_hq32hkv32_q1/q4, d64_hq32hkv8_q1/q4, d64_hq64hkv8_q1.
. bench/devcall.sh
call_begin "$1" "${2:-570}"
shift 2
C="$PWD/build-bench/cub"
# The A/B of s32's two-per-SM rule (decode_rows_split_cap at head dim 64): its 18 moved plans
# against the count before it (s31's cap: 4 splits at batch 4, 2 at batch 8), forced on the same
# library. 2 of the 18 (batch 8 kv 4k / 32k, 128/8 in pages of 16) were never timed at the new count.
bench_cells two-per-sm-b4 "$C" "default,s4" \
  "decode/d64/b4/kv(4096|8192|32768)/(hq64hkv8/q4/(contig|page16)|hq128hkv8/q4/page16)/"
bench_cells two-per-sm-b8 "$C" "default,s2" \
  "decode/d64/b8/kv(4096|8192|32768)/(hq64hkv8/q4/(contig|page16)|hq128hkv8/q4/page16)/"
bench_cells d256-b1-mha "$C" "default,s2,s3,s4" \
  "decode/d256/b1/kv(4096|8192|32768|131072)/hq32hkv32/q(1|4)/(contig|page64)/"
bench_cells d256-b1-gqa "$C" "default,s8,s12,s16" \
  "decode/d256/b1/kv(4096|8192|32768|131072)/hq(32|64|128)hkv8/q(1|4)/(contig|page64)/"
survey_two_pass "$@"
export SURVEY_DIMS=128
survey_tail resurvey "--ptxfmha_decode_variants=default" '[^/]+/[^/]+' 100
unset SURVEY_DIMS
call_end
