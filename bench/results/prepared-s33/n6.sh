#!/usr/bin/env bash
# Ran 2026-12-06 21:27-21:32 UTC (s33) on an H100 with a budget of 360 s: bench/results/h100-2026-12-06-s33/n6
# (the d64 32/32 resurvey chunks did not start).
# Prepared in s33 after n5 (bench/results/h100-2026-12-06-s33). Carry:
# bench/results/prepared-s23/prepare.sh on this tree (its library has s33's head-dim-256 half-wave
# cap, decode_rows_split_cap). Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s33/n6.sh n6 570
#   d256-half-b1  the cap's 12 moved plans (batch 1, 64/8 x 4 tokens in pages of 64, 128/8 x 4
#                 contiguous and in pages of 64, kv 4k-128k: 8 splits) beside the counts the
#                 model planned before it (10 / 11 / 13 / 16), forced on the same library
#   d256-b4       batch 4 at 32 / 64 rows (64/8 and 128/8 x 4 tokens; 32 units, where the plan
#                 takes 3-4 splits, 96-128 CTAs, and the cap does not apply): 2 / 3 / 4 / 6 splits
#   ncu-d64-r16, ncu-d64-r4   Nsight Compute of the split kernel at d64 batch 32 kv 8k, one token,
#                 128/8 heads (16 rows per CTA, 0.952x cuDNN, 94.1% of the read ceiling) and
#                 32/8 (4 rows, 97.8%): the same 256 CTAs and bytes
#   resurvey/     the contiguous cells of the chunks measured before s30's cp.async producer (d128
#                 32/8 x 4, 64/8 x 1 / 4, 128/8 x 1; d64 32/32 x 1 / 4), cuDNN autotuned beside
. bench/devcall.sh
call_begin "$1" "${2:-570}"
shift 2
C="$PWD/build-bench/cub"
bench_cells d256-half-b1 "$C" "default,s10,s11,s13,s16" \
  "decode/d256/b1/kv(4096|8192|32768|131072)/(hq64hkv8/q4/page64|hq128hkv8/q4/(contig|page64))/"
bench_cells d256-b4 "$C" "default,s2,s3,s4,s6" \
  "decode/d256/b4/kv(4096|8192|32768|131072)/hq(64|128)hkv8/q4/(contig|page64)/"
ncu_profile ncu-d64-r16 "fmha_decode_d64.*" default "decode/d64/b32/kv8192/hq128hkv8/q1/contig/"
ncu_profile ncu-d64-r4 "fmha_decode_d64.*" default "decode/d64/b32/kv8192/hq32hkv8/q1/contig/"
export SURVEY_CACHE=contig SURVEY_DIMS="128 64"
survey_tail resurvey "--ptxfmha_decode_variants=default" '[^/]+/[^/]+' 60 \
  d128_hq32hkv32_q1 d128_hq32hkv32_q4 d128_hq32hkv8_q1 d128_hq128hkv8_q4 \
  d64_hq32hkv8_q1 d64_hq32hkv8_q4 d64_hq64hkv8_q1 d64_hq64hkv8_q4 d64_hq128hkv8_q1 d64_hq128hkv8_q4
call_end
