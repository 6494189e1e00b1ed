#!/usr/bin/env bash
# s20 call 1 (branch s20-e4m3-qk; prepared, not run): s18's call (bench/results/prepared-s18/r1
# on branch s18-e4m3-qk) on the branch that joins s18's e4m3 QK lever (d64 / d128 _e4m3_wg) with
# s19's d256 warpgroup rows. Build with prepare.sh. cuDNN off.
#   tests     every GPU decode test case (suite gpu-decode): the d64 / d128 _e4m3_wg rows with
#             the LSE bound's logit_mag term (tests/gpu_util.h Tolerance; the summary prints the
#             worst lse_err/mag per kernel), every other row with the plain bound (the d256 rows
#             SASS-identical to s19-d256-wg's, the rest to main's)
#   mut-lo    mutation LO (build-mut/lo over build-bench/cub: the four d64 / d128 _e4m3_wg cubins
#             without Q's lo wgmmas, Q at e4m3 precision) through the e4m3 warpgroup-row case:
#             must fail
#   memcheck / racecheck / synccheck over the e4m3 sanitizer shapes (every head dim's e4m3
#             warpgroup rows among them)
#   d64, d128 128/8 x 4 tokens (64 packed rows), batch 8-128, kv 8k-128k, every cache, bf16 and
#             e4m3 on this library
# Device call: command `bash bench/results/prepared-s20/r1.sh r1 570`, carry as PLAN.md says.
. bench/devcall.sh
call_begin "$1" "${2:-570}"
part tests 240 "$T" -ts=gpu-decode
mkdir -p /tmp/mut-lo/sm90a
cp build-bench/cub/sm90a/*.cubin /tmp/mut-lo/sm90a/
cp build-mut/lo/sm90a/*.cubin /tmp/mut-lo/sm90a/
part mut-lo 90 env PTXFMHA_CUBIN_DIR=/tmp/mut-lo "$T" "-tc=gpu decode e4m3: the warpgroup rows*"
for tool in memcheck racecheck synccheck; do
  sanitize $tool "gpu decode e4m3: sanitizer shapes*" e4m3 60
done
C=$PWD/build-bench/cub
bench_cells d64 "$C" default,e4m3 "decode/d64/b(8|32|64|128)/kv(8192|32768|131072)/hq128hkv8/q4/"
bench_cells d128 "$C" default,e4m3 "decode/d128/b(8|32|64|128)/kv(8192|32768|131072)/hq128hkv8/q4/"
call_end
