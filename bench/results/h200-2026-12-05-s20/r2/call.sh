#!/usr/bin/env bash
# s19 call 2 (branch s19-d256-wg; prepared, not run): speed of the d256 warpgroup rows, cuDNN
# off (cuDNN 9.19 has no FP8 decode on Hopper; its bf16 side was timed in s11-s12).
#   ab64     64 packed rows (128/8 x 4 tokens), batch 8-128, kv 8k-128k, every cache: the plan
#            (default: the d256 _wg row; e4m3: _e4m3_wg) against the mma.sync rows named
#            (k=d256, e4m3+k=d256_e4m3: what main runs there), one process, interleaved
#   splits   forced split counts of both rows (batch 1 / 8, kv 32k / 128k, contiguous) to fit the
#            bf16 row's per-CTA rate (host/src/decode.h: kDecodeCtaRateWgD256, not measured yet)
#            and to see whether the e4m3 row's wave model (combine = kDecodeCombineTilesE4m3Wg, 8
#            tile times, fitted at d64 / d128) picks well at d256
#   n32      32 packed rows (64/8 x 4 tokens): the planned mma.sync rows against the warpgroup
#            rows named (kDecodeWgMinRows is 33 from d64 / d128 measurements)
# Device call: command `bash bench/results/prepared-s19/r2.sh r2 560`, carry as PLAN.md says.
. bench/devcall.sh
call_begin "$1" "${2:-560}"
C=$PWD/build-bench/cub
bench_cells ab64 "$C" default,k=d256,e4m3,e4m3+k=d256_e4m3 \
  "decode/d256/b(8|32|64|128)/kv(8192|32768|131072)/hq128hkv8/q4/"
bench_cells splits "$C" default,s1,s2,s4,s8,s16,e4m3,e4m3+s1,e4m3+s2,e4m3+s4,e4m3+s8,e4m3+s16 \
  "decode/d256/b(1|8)/kv(32768|131072)/hq128hkv8/q4/contig"
bench_cells n32 "$C" default,k=d256_wg,e4m3,e4m3+k=d256_e4m3_wg \
  "decode/d256/b(8|32|128)/kv(8192|131072)/hq64hkv8/q4/contig"
call_end
