#!/usr/bin/env bash
# s27's call (prepared, see prepare.sh; carry .devrun/carry.tar.xz): the converter rows' tests and
# sanitizers passed twice on H100s (s26, s27 r2) on these cubins, so this call is the A/B first.
#   H200: ab-1 (d256 _e4m3_wg vs _e4m3_wgc), abC-1 (set C's d256 _e4m3_wg), ncu-wg / ncu-wgc
#         (both d256 rows at s23's profiled cell), ab-3 (round 1 again), b128-1 / abC128-1
#         (d128 _e4m3_wg, this tree's then set C's), then the converter rows' GPU case on this device
#   H100 (memory-bound on these cells, A/B neutral twice): nothing, or with a third argument
#         h100-profiles ncu-wg / ncu-wgc (run in s27: h100-2026-12-06-s27/r4)
# (The d128 converter rows were removed in s27, 3893c1d: no d128 round.)
# Device call: `tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s25/r4.sh r4 BUDGET`.
. bench/devcall.sh
call_begin "$1" "${2:-540}"
F="decode/d256/b(8|32|128)/kv(8192|32768|131072)/hq(64|128)hkv8/q4/contig/"
P=decode/d256/b32/kv32768/hq128hkv8/q4/contig/
if nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200; then
  bench_cells ab-1 "$PWD/build-bench/cub" "e4m3+k=d256_e4m3_wg,e4m3+k=d256_e4m3_wgc" "$F"
  bench_cells abC-1 "$PWD/build-bench/cubC" "e4m3+k=d256_e4m3_wg" "$F"
  ncu_profile ncu-wg fmha_decode_d256_e4m3_wg_sm90a "e4m3+k=d256_e4m3_wg" "$P"
  ncu_profile ncu-wgc fmha_decode_d256_e4m3_wgc_sm90a "e4m3+k=d256_e4m3_wgc" "$P"
  bench_cells ab-3 "$PWD/build-bench/cub" "e4m3+k=d256_e4m3_wg,e4m3+k=d256_e4m3_wgc" "$F"
  bench_cells b128-1 "$PWD/build-bench/cub" "e4m3+k=d128_e4m3_wg" "${F//d256/d128}"
  bench_cells abC128-1 "$PWD/build-bench/cubC" "e4m3+k=d128_e4m3_wg" "${F//d256/d128}"
  part tests-wgc 100 "$T" "-tc=gpu decode e4m3: the converter-warp rows*"
elif [ "${3:-}" = h100-profiles ]; then
  ncu_profile ncu-wg fmha_decode_d256_e4m3_wg_sm90a "e4m3+k=d256_e4m3_wg" "$P"
  ncu_profile ncu-wgc fmha_decode_d256_e4m3_wgc_sm90a "e4m3+k=d256_e4m3_wgc" "$P"
else
  echo "not an H200: nothing run (the H100's profiles: third argument h100-profiles)" > "$R/skipped.txt"
fi
call_end
