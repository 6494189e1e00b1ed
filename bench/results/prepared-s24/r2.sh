#!/usr/bin/env bash
# s24's second call (prepared after r1 ran on an H100, where the d256 64-row e4m3 cells already
# read at 93-98% of the ceiling and the A/B could not show the lever): sets A (main), B and C
# (prepare.sh) only, D dropped (r1: d256 0.984x-1.005x main).
#   ncu-X      Nsight Compute of the d256 _e4m3_wg row on set X (A, C) at s23's profiled cell
#              (b32, kv 32k, 128/8 x 4 tokens; SM clock locked by ncu: the kernel nearer its
#              own limit than at boost clock), stalls per SASS line
#   ab-X-N     e4m3 cells, set X, round N (a b c a b c): d256 64 and 32 packed rows, d128 64
#              rows, batch 8 / 32 / 128, kv 8k / 32k / 128k, contiguous
# Device call: command `tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s24/r2.sh r2 420`
# (r3, 349 s of device time left: `... r2.sh r3 260 h200-only 'decode/d256/b(8|32|128)/kv(8192|32768|131072)/hq128hkv8/q4/contig/'`).
. bench/devcall.sh
call_begin "$1" "${2:-420}"
# r3 (the same script after r2 ran on an H100 too): an H100 reads these cells at 90-98% of its
# ceiling whatever the set (r1, r2), so on an H100 the call stops here
if [ "${3:-}" = h200-only ] && ! nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200; then
  echo "not an H200: nothing run" > "$R/skipped.txt"; call_end; exit 0
fi
for v in "" C; do
  PTXFMHA_CUBIN_DIR=$PWD/build-bench/cub$v ncu_profile ncu-${v:-A} fmha_decode_d256_e4m3_wg_sm90a e4m3 decode/d256/b32/kv32768/hq128hkv8/q4/contig/
done
F=${4:-"decode/d(128|256)/b(8|32|128)/kv(8192|32768|131072)/hq128hkv8/q4/contig/|decode/d256/b(8|32|128)/kv(8192|32768|131072)/hq64hkv8/q4/contig/"}
for n in 1 2; do
  for v in "" B C; do
    bench_cells ab-${v:-A}-$n "$PWD/build-bench/cub$v" e4m3 "$F"
  done
done
call_end
