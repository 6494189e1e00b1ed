#!/usr/bin/env bash
# s28's second call: the plan on _e4m3_wg2c (the manifest lists the WG 4 pair first) and where
# the WG 4 row waits. Carry: bench/results/prepared-s23/prepare.sh.
#   tests     the gpu-decode suite (the e4m3 warpgroup case plans wg2c at d256)
#   plan-q4   d256 e4m3 at 4 tokens, 64/8 and 128/8 heads (32 and 64 packed rows), contiguous and
#             pages of 16: the plan ("e4m3") beside _e4m3_wgc named, one process
#   ncu-wg2c  Nsight Compute of _e4m3_wg2c at b32 kv 32k 128/8 x 8 tokens (kernel-bound here)
# Device call: `tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s28/r2.sh r2 500`.
. bench/devcall.sh
call_begin "$1" "${2:-500}"
part tests 200 "$T" -ts=gpu-decode
bench_cells plan-q4 "$PWD/build-bench/cub" "e4m3,e4m3+k=d256_e4m3_wgc" \
  "decode/d256/b(8|32|128)/kv(8192|32768)/hq(64|128)hkv8/q4/(contig|page16)/"
ncu_profile ncu-wg2c fmha_decode_d256_e4m3_wg2c_sm90a "e4m3+k=d256_e4m3_wg2c+q8" \
  decode/d256/b32/kv32768/hq128hkv8/q4/contig/
call_end
