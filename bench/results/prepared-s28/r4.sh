#!/usr/bin/env bash
# s28's fourth call: the plan on the 512-thread _e4m3_wg2c (since r3). Carry:
# bench/results/prepared-s23/prepare.sh.
#   tests     the gpu-decode suite (the e4m3 warpgroup case plans wg2c at d256)
#   plan-q4   d256 e4m3, 4 tokens, 64/8 and 128/8 heads, contiguous and pages of 16, batch 8 / 32 /
#             128, kv 8k / 32k: the plan ("e4m3") beside _e4m3_wgc named, one process
#   plan-small  batch 1 and 4 (splits of few tiles: warpgroup 1 idle in one-tile splits), kv 1k /
#             4k / 32k, the same two
#   plan-q8   the 8-token cells, plan vs _e4m3_wg (WG 2) named
# Device call: `tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s28/r4.sh r4 500`.
. bench/devcall.sh
call_begin "$1" "${2:-500}"
part tests 200 "$T" -ts=gpu-decode
bench_cells plan-q4 "$PWD/build-bench/cub" "e4m3,e4m3+k=d256_e4m3_wgc" \
  "decode/d256/b(8|32|128)/kv(8192|32768)/hq(64|128)hkv8/q4/(contig|page16)/"
bench_cells plan-small "$PWD/build-bench/cub" "e4m3,e4m3+k=d256_e4m3_wgc" \
  "decode/d256/b(1|4)/kv(1024|4096|32768)/hq(64|128)hkv8/q4/contig/"
bench_cells plan-q8 "$PWD/build-bench/cub" "e4m3+q8,e4m3+k=d256_e4m3_wg+q8" \
  "decode/d256/b(8|32|128)/kv(8192|32768|131072)/hq128hkv8/q4/contig/"
call_end
