#!/usr/bin/env bash
# s27's last call (carry: bench/results/prepared-s23/prepare.sh, the bundle and this tree's
# cubins): on an H200 only, the plan (d256 e4m3 on _e4m3_wgc since b6b03ab) against WG 2's d256
# row named, one process per round: the 4-token cells of 32 and 64
# packed rows (the fp8 target's, kernel-bound on the H200, s23) and the 8-token cells; an H100
# stops at once (its rounds ran in r5 / r6).
# Device call: `tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s25/r7.sh r7 BUDGET`.
. bench/devcall.sh
call_begin "$1" "${2:-400}"
if ! nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200; then
  echo "not an H200: nothing run" > "$R/skipped.txt"; call_end; exit 0
fi
F="decode/d256/b(8|32|128)/kv(8192|32768|131072)/hq(64|128)hkv8/q4/contig/"
bench_cells h200-q4 "$PWD/build-bench/cub" "e4m3,e4m3+k=d256_e4m3_wg" "$F"
bench_cells h200-q8 "$PWD/build-bench/cub" "e4m3+q8,e4m3+k=d256_e4m3_wg+q8" \
  "decode/d256/b(8|32|128)/kv(8192|32768|131072)/hq128hkv8/q4/contig/"
part tests-e4m3 120 "$T" "-tc=gpu decode e4m3*"
call_end
