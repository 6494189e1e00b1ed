#!/usr/bin/env bash
# (Run in s26 / s27. Its ab128-1 round names the d128 converter rows, removed in 3893c1d: it runs
# only with a carry built before that; the call for the next H200 is r7.sh.)
# s25's converter-warp call (prepared, see prepare.sh). cuDNN off (no FP8 decode on Hopper).
#   tests-wgc        the converter-warp rows' GPU case, the named-variant case (every variant row)
#   wgc-TOOL         memcheck / racecheck / synccheck over the e4m3 sanitizer shapes (the wgc
#                    rows' among them)
#   ab-N             e4m3 d256 cells, the rows named in one process, per cell in turn: _e4m3_wg
#                    (this tree = main), _e4m3_wgc (converter warps); 64 packed rows (128/8 x 4
#                    tokens) and 32 (64/8 x 4), batch 8 / 32 / 128, kv 8k / 32k / 128k,
#                    contiguous; round 2 in pages of 16
#   ab128-1          the same for d128 (_e4m3_wg: two CTAs of 3 stages per SM; _e4m3_wgc: one
#                    of 6 stages, s26), the same heads, batches and lengths
#   abC-N / abC128-N the same cells on set C's _e4m3_wg (s24's V-load lever), _e4m3_wg named
#   ncu-wg / ncu-wgc Nsight Compute of both rows at s23's profiled cell (b32, kv 32k, 128/8 x 4)
# On an H100 (it reads these cells at 90-98% of its ceiling whatever the kernel): the tests, the
# sanitizers and round 1 only.
. bench/devcall.sh
call_begin "$1" "${2:-560}"
part tests-wgc 120 "$T" "-tc=gpu decode e4m3: the converter-warp rows*,gpu decode variants*"
for tool in memcheck racecheck synccheck; do
  sanitize $tool "gpu decode e4m3: sanitizer shapes*" wgc 60
done
V="e4m3+k=d256_e4m3_wg,e4m3+k=d256_e4m3_wgc"
F="decode/d256/b(8|32|128)/kv(8192|32768|131072)/hq(64|128)hkv8/q4/contig/"
V128="e4m3+k=d128_e4m3_wg,e4m3+k=d128_e4m3_wgc"
F128="decode/d128/b(8|32|128)/kv(8192|32768|131072)/hq(64|128)hkv8/q4/contig/"
bench_cells ab-1 "$PWD/build-bench/cub" "$V" "$F"
bench_cells ab128-1 "$PWD/build-bench/cub" "$V128" "$F128"
if ! nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200; then
  echo "not an H200: round 1 only" > "$R/skipped.txt"; call_end; exit 0
fi
bench_cells abC-1 "$PWD/build-bench/cubC" "e4m3+k=d256_e4m3_wg" "$F"
bench_cells abC128-1 "$PWD/build-bench/cubC" "e4m3+k=d128_e4m3_wg" "$F128"
ncu_profile ncu-wgc fmha_decode_d256_e4m3_wgc_sm90a "e4m3+k=d256_e4m3_wgc" decode/d256/b32/kv32768/hq128hkv8/q4/contig/
bench_cells ab-2 "$PWD/build-bench/cub" "$V" "decode/d256/b(8|32|128)/kv(8192|32768|131072)/hq(64|128)hkv8/q4/page16/"
bench_cells ab-3 "$PWD/build-bench/cub" "$V" "$F"
bench_cells abC-2 "$PWD/build-bench/cubC" "e4m3+k=d256_e4m3_wg" "$F"
call_end
