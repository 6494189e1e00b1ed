#!/usr/bin/env bash
# s19 call 1 (branch s19-d256-wg; prepared, not run): correctness of the d256 warpgroup rows.
#   tests    every GPU decode test case (suite gpu-decode): the d256 _wg / _e4m3_wg rows run in
#            the warpgroup-row cases (33..128 packed rows, paged, ragged, causal, split, cluster)
#            and the sanitizer shapes; every other decode kernel is SASS-identical to main's
#   mut-q    mutation Q (build-mut/q over build-bench/cub) through both warpgroup-row cases: must
#            fail, and at head dim 256
#   mut-cv   mutation CV (build-mut/cv) through the e4m3 warpgroup-row case: must fail at d256
#   memcheck / racecheck / synccheck over both decode sanitizer-shape cases
# Device call: command `bash bench/results/prepared-s19/r1.sh r1 560`, carry as PLAN.md says.
. bench/devcall.sh
call_begin "$1" "${2:-560}"
part tests 200 "$T" -ts=gpu-decode
for m in q cv; do
  mkdir -p /tmp/mut-$m/sm90a
  cp build-bench/cub/sm90a/*.cubin /tmp/mut-$m/sm90a/
  cp build-mut/$m/sm90a/*.cubin /tmp/mut-$m/sm90a/
done
part mut-q 60 env PTXFMHA_CUBIN_DIR=/tmp/mut-q "$T" "-tc=*the warpgroup rows at 33..128*"
part mut-cv 45 env PTXFMHA_CUBIN_DIR=/tmp/mut-cv "$T" "-tc=gpu decode e4m3: the warpgroup rows at 33..128*"
for tool in memcheck racecheck synccheck; do
  sanitize $tool "decode gpu: sanitizer shapes*,gpu decode e4m3: sanitizer shapes*" san 80
done
call_end
