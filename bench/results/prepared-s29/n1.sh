#!/usr/bin/env bash
# Ran in s31 (2026-12-06 16:50-16:58 UTC, H100): bench/results/h100-2026-12-06-s31/n1.
# Prepared for the session after s29 (not run in s29: its device time went to the H100 survey and
# the box / promotion A/Bs). s29's H100 survey (bench/results/h100-2026-12-06-s29/targets.md):
# the batch-1 misses are fixed costs that grow with the packed rows (d128 kv 4k contiguous: 1
# token 32/8 0.4 us over the read time, 4 tokens 32/8 (16 rows) 2.4, 64/8 (32 rows) 4.4, 128/8
# (64 rows, _wg) 5.9), and the batch-8 kv-8k cells of 32-64 rows miss 95% of the ceiling (85-95%).
# The partials' round trip grows with the rows (64 rows x 13 splits x 128 x 4 B per KV head:
# 3.4 MB written and read back against 16.8 MB of K and V at kv 4k): the cluster merge (`cl`,
# rejected on the H200 at 1 token, s3): DECODE_NOTES holds no timing of it at 32-64 rows. Cells: d128 / d64,
# 64/8 and 128/8 heads x 4 tokens, batch 1 (kv 4k / 8k / 32k) and batch 8 (kv 8k), contiguous
# and pages of 16. Items: the plan, `cl` (the plan's count as a cluster where it fits), `cl+s8`,
# `cl+s16`, `nocl+s8`, `nocl+s16`, `s24`, `s33`. Then forced e4m3 split counts at the fp8 misses,
# split counts at batch 1 in pages of 16, and the survey's remaining chunks in survey2.sh's two
# passes.
# Carry: bench/results/prepared-s23/prepare.sh. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s29/n1.sh n1 570 [-- DONE1...] [--- DONE2...]
. bench/devcall.sh
call_begin "$1" "${2:-570}"
shift 2
C="$PWD/build-bench/cub"
bench_cells rows-b1 "$C" "default,cl,cl+s8,cl+s16,nocl+s8,nocl+s16,s24,s33" \
  "decode/d(64|128)/b1/kv(4096|8192|32768)/hq(64|128)hkv8/q4/(contig|page16)/"
bench_cells rows-b8 "$C" "default,cl,cl+s2,cl+s4,s2,s4,s8" \
  "decode/d(64|128)/b8/kv8192/hq(64|128)hkv8/q4/(contig|page16)/"
# The fp8 misses at batch 8 kv 8k (d128, 1.60x-1.79x: e4m3 at ~85% of its ceiling on 64 KV-head
# units) and d64 32/32 in pages of 16 (1.53x-1.72x): the e4m3 plan's split count.
bench_cells e4m3-b8 "$C" "default,e4m3,e4m3+s2,e4m3+s4,e4m3+s8" \
  "decode/(d128/b8/kv8192/hq(32|64|128)hkv8/q(1|4)/contig|d64/b8/kv(8192|32768)/hq32hkv32/q(1|4)/page16)/"
# Batch 1 in pages of 16 at large kv (32/8 x 1 token kv 128k: 178.3 us against 170.2 + 3): counts.
bench_cells b1-p16 "$C" "default,s16,s24,s48,s64" \
  "decode/d128/b1/kv(32768|131072)/hq32hkv(32|8)/q1/page16/"
survey_two_pass "$@"
call_end
