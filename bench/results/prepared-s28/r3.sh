#!/usr/bin/env bash
# s28's third call: WG 4 at 512 threads (four converter warps, one per SM sub-partition; the P V
# in two column halves) against the converter-warp row and against WG 4's first layout (384
# threads, two converter warps: build-bench/cub384). Carry: bench/results/prepared-s28/prepare.sh.
#   cv        the converter-warp rows' GPU case (_e4m3_wgc and _e4m3_wg2c, their _cl twins)
#   e4m3-TOOL memcheck / racecheck / synccheck over the e4m3 sanitizer shapes
#   q8-N      d256 128/8 x 8 tokens (kernel-bound on an H100): _e4m3_wgc vs _e4m3_wg2c (512), one
#             process; q8old-N the same with cub384's _e4m3_wg2c (384), the next process
#   q4-1      4 tokens, wgc vs wg2c (512)
# Device call: `tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s28/r3.sh r3 560`.
. bench/devcall.sh
call_begin "$1" "${2:-560}"
part cv 120 "$T" "-tc=gpu decode e4m3: the converter-warp rows*"
sanitizers "gpu decode e4m3: sanitizer shapes*" e4m3 60
F="decode/d256/b(8|32|128)/kv(8192|32768|131072)/hq128hkv8/q4/contig/"
V="e4m3+k=d256_e4m3_wgc+q8,e4m3+k=d256_e4m3_wg2c+q8"
bench_cells q8-1 "$PWD/build-bench/cub" "$V" "$F"
bench_cells q8old-1 "$PWD/build-bench/cub384" "$V" "$F"
bench_cells q4-1 "$PWD/build-bench/cub" "e4m3+k=d256_e4m3_wgc,e4m3+k=d256_e4m3_wg2c" "$F"
bench_cells q8-2 "$PWD/build-bench/cub" "$V" "$F"
ncu_profile ncu-wg2c fmha_decode_d256_e4m3_wg2c_sm90a "e4m3+k=d256_e4m3_wg2c+q8" \
  decode/d256/b32/kv32768/hq128hkv8/q4/contig/
call_end
