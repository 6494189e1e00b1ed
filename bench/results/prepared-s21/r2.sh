#!/usr/bin/env bash
# s21 call 2 (branch s21-d256-qgmma; prepared, not run; after r1): the d256 32-row threshold, the
# d256 row's split plan, then the fp8 cells of the d64 / d128 lever (s20's r1 bench part; the
# same SASS ran in s17), cuDNN off; what the budget leaves out is marked skipped in parts.txt
# (s20's r2: 4 variants x 36 cells took ~7 min). Carry as r1 without build-mut.
#   n32       32 packed rows (64/8 x 4 tokens): the planned mma.sync rows against the warpgroup
#             rows named (kDecodeWgMinRows is 33 from d64 / d128; s20's 32-row call did not run);
#             n32d128 the same at d128 (s17: the d64 e4m3 QK row at 32 rows 0.88x-1.07x the
#             mma.sync row; d128 not measured)
#   splits    forced split counts of the d256 _e4m3_wg row (batch 1 / 8, kv 32k / 128k,
#             contiguous): does its wave plan (kDecodeCombineTilesE4m3Wg, fitted at d64 / d128;
#             the plan test holds 16 / 16 / 2 splits) pick the best count for the pipelined row?
#   w64       forced split counts of the bf16 d64 _wg row where it misses the ceiling most (128/8
#             x 4 tokens, kv 8k, batch 8 / 64 / 128, contiguous and pages of 16: 75.5-89.9% of the
#             ceiling at the plan's 1-6 splits, s16; e.g. batch 64 contiguous 512 CTAs = 1.29
#             waves of the 396 slots): data for the plan's d64 _wg rate, not a lever yet
#   d64, d128 128/8 x 4 tokens (64 packed rows), batch 8-128, kv 8k-128k, every cache, bf16 and
#             e4m3 on this library (the targets table reads these)
# Device call: command `bash bench/results/prepared-s21/r2.sh r2 560`.
. bench/devcall.sh
call_begin "$1" "${2:-560}"
C=$PWD/build-bench/cub
bench_cells n32 "$C" default,k=d256_wg,e4m3,e4m3+k=d256_e4m3_wg \
  "decode/d256/b(8|32|128)/kv(8192|131072)/hq64hkv8/q4/contig"
bench_cells n32d128 "$C" default,k=d128_wg,e4m3,e4m3+k=d128_e4m3_wg \
  "decode/d128/b(8|32|128)/kv(8192|131072)/hq64hkv8/q4/contig"
bench_cells splits "$C" e4m3,e4m3+s1,e4m3+s2,e4m3+s4,e4m3+s8,e4m3+s16 \
  "decode/d256/b(1|8)/kv(32768|131072)/hq128hkv8/q4/contig"
bench_cells w64 "$C" default,s1,s2,s3,s4,s6 "decode/d64/b(8|64|128)/kv8192/hq128hkv8/q4/(contig|page16)"
bench_cells d64 "$C" default,e4m3 "decode/d64/b(8|32|64|128)/kv(8192|32768|131072)/hq128hkv8/q4/"
bench_cells d128 "$C" default,e4m3 "decode/d128/b(8|32|64|128)/kv(8192|32768|131072)/hq128hkv8/q4/"
call_end
