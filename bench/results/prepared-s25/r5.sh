#!/usr/bin/env bash
# s27's second call (prepared, see prepare.sh; carry .devrun/carry.tar.xz): the d256 converter
# warps and s24's set C where the kernel, not the memory, bounds the cell on either device.
#   q8-N   d256 128/8 heads x 8 query tokens (qN variant: 128 packed rows per KV head, two CTAs
#          of 64 rows side by side in the grid reading each K / V tile, the second mostly from
#          L2: twice the products per DRAM byte of the q4 cells), e4m3, contiguous, batch 8 / 32 /
#          128, kv 8k / 32k / 128k; _e4m3_wg and _e4m3_wgc named in one process; round 2 again
#   q4-1   the same cells at 4 tokens (64 rows, the fp8 target's cells), the same two rows: on
#          an H100 the memory bound, beside which q8 shows whether the kernel binds
#   q8C-1  set C's _e4m3_wg (cubC) on the q8 cells, after q8-1's process
# then on an H200 r4.sh's A/B rounds (ab-1, abC-1, ...) under the same call.
# Device call: `tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s25/r5.sh r5 BUDGET`.
. bench/devcall.sh
call_begin "$1" "${2:-540}"
V="e4m3+k=d256_e4m3_wg+q8,e4m3+k=d256_e4m3_wgc+q8"
F="decode/d256/b(8|32|128)/kv(8192|32768|131072)/hq128hkv8/q4/contig/"
bench_cells q8-1 "$PWD/build-bench/cub" "$V" "$F"
bench_cells q4-1 "$PWD/build-bench/cub" "e4m3+k=d256_e4m3_wg,e4m3+k=d256_e4m3_wgc" "$F"
bench_cells q8C-1 "$PWD/build-bench/cubC" "e4m3+k=d256_e4m3_wg+q8" "$F"
bench_cells q8-2 "$PWD/build-bench/cub" "$V" "$F"
if nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200; then
  F2="decode/d256/b(8|32|128)/kv(8192|32768|131072)/hq(64|128)hkv8/q4/contig/"
  bench_cells ab-1 "$PWD/build-bench/cub" "e4m3+k=d256_e4m3_wg,e4m3+k=d256_e4m3_wgc" "$F2"
  bench_cells abC-1 "$PWD/build-bench/cubC" "e4m3+k=d256_e4m3_wg" "$F2"
  part tests-wgc 100 "$T" "-tc=gpu decode e4m3: the converter-warp rows*"
fi
call_end
