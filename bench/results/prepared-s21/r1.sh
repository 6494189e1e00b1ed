#!/usr/bin/env bash
# s21 call 1 (branch s21-d256-qgmma; prepared, not run): what decides both merges (s20-e4m3-qk's
# d64 / d128 lever and this branch's d256 row), cuDNN off (cuDNN 9.19 has no FP8 decode on Hopper).
# Build with prepare.sh.
#   tests     every GPU decode test case (suite gpu-decode): the _e4m3_wg rows (every head dim now)
#             with the LSE bound's logit_mag term (the summary prints the worst lse_err/mag per
#             kernel), the d256 _e4m3_wgs row (named) and every other row with the plain bound
#   mut-lo    mutation LO (build-mut/lo over build-bench/cub: the six _e4m3_wg cubins without Q's
#             lo wgmmas, Q at e4m3 precision) through the e4m3 warpgroup-row case: must fail, at
#             every head dim (the summary's per-kernel worst figures say which)
#   memcheck / racecheck / synccheck over the e4m3 sanitizer shapes (every head dim's _e4m3_wg
#             rows and the named _e4m3_wgs among them)
#   ab64      d256 128/8 x 4 tokens (64 packed rows), batch 8-128, kv 8k-128k, every cache (36
#             cells): bf16 (the plan: _wg), e4m3 (the plan: the new pipelined _e4m3_wg) and
#             the serial row named (e4m3+k=d256_e4m3_wgs, s19's loop: main's d256 e4m3 row),
#             one process, interleaved
#   ab-new1, ab-old1   the first round of r3's producer A/B (r3.sh's header; build-old/lane0,
#             carried since s23 in one xz archive with the rest, .devrun/carry.tar.xz), here so
#             that one call decides the producer change too if no second call starts; r3 runs
#             the second round
# Device call: command `bash bench/results/prepared-s21/r1.sh r1 570`, carry as PLAN.md says.
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
AB="decode/(d256/b32/kv32768/hq32hkv8/q1/(page16|contig)|d128/b32/kv32768/hq32hkv8/q1/page16|d64/b(8|64)/kv8192/hq128hkv8/q4/page16)/"
bench_cells ab-new1 "$C" default,e4m3 "$AB"
bench_cells ab-old1 "$PWD/build-old/lane0" default,e4m3 "$AB"
bench_cells ab64 "$C" default,e4m3,e4m3+k=d256_e4m3_wgs \
  "decode/d256/b(8|32|64|128)/kv(8192|32768|131072)/hq128hkv8/q4/"
call_end
