#!/usr/bin/env bash
# s28's fifth call: the fp8 target (e4m3 >= 1.8x bf16 at batch >= 8, kv >= 8k) on the d256 cells the
# plan now runs on _e4m3_wg2c (>= 17 packed rows: 64/8 and 128/8 heads x 4 tokens), contiguous and
# pages of 16 and 64, on whatever device came: bf16 plan ("default") and e4m3 plan in one process.
# Carry: bench/results/prepared-s23/prepare.sh (as r4).
# Device call: `tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s28/r5.sh r5 500`.
. bench/devcall.sh
call_begin "$1" "${2:-500}"
bench_cells fp8-d256 "$PWD/build-bench/cub" "default,e4m3" \
  "decode/d256/b(8|32|64|128)/kv(8192|32768|131072)/hq(64|128)hkv8/q4/(contig|page16|page64)/"
call_end
