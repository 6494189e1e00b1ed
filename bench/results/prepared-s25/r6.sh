#!/usr/bin/env bash
# s27's third call: the library's plan now runs d256 e4m3 calls of >= 17 packed rows on the
# converter-warp rows (_e4m3_wgc / _e4m3_wgc_cl). Carry: bench/results/prepared-s23/prepare.sh (the
# bundle and this tree's cubins; s27 ran it as prepare6.sh, the same steps).
#   tests     the gpu-decode suite (every decode case; the e4m3 warpgroup case plans wgc at d256)
#   san-TOOL  memcheck / racecheck / synccheck over the e4m3 sanitizer shapes
#   plan-q8   d256 128/8 x 8 tokens: the library's plan ("e4m3+q8") beside WG 2 named, one process
#   plan-q4   the same at 4 tokens, 128/8 and 64/8 heads (64 and 32 packed rows)
. bench/devcall.sh
call_begin "$1" "${2:-420}"
part tests 200 "$T" -ts=gpu-decode
sanitizers "gpu decode e4m3: sanitizer shapes*" e4m3 60
F="decode/d256/b(8|32|128)/kv(8192|32768|131072)/hq128hkv8/q4/contig/"
bench_cells plan-q8 "$PWD/build-bench/cub" "e4m3+q8,e4m3+k=d256_e4m3_wg+q8" "$F"
bench_cells plan-q4 "$PWD/build-bench/cub" "e4m3,e4m3+k=d256_e4m3_wg" \
  "decode/d256/b(8|32|128)/kv(8192|32768)/hq(64|128)hkv8/q4/contig/"
call_end
