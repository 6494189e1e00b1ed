#!/usr/bin/env bash
# s28's first call: the two-consumer-warpgroup rows (_e4m3_wg2c / _e4m3_wg2c_cl, WG 4). Carry:
# bench/results/prepared-s23/prepare.sh (the bundle and this tree's cubins).
#   cv        the converter-warp rows' GPU case (_e4m3_wgc and _e4m3_wg2c, their _cl twins)
#   e4m3-TOOL memcheck / racecheck / synccheck over the e4m3 sanitizer shapes (wg2c among them)
#   q8-N      d256 128/8 x 8 tokens (kernel-bound on an H100): _e4m3_wgc vs _e4m3_wg2c named, one
#             process; round 2 again
#   q4-1      the same cells at 4 tokens (the fp8 target's; memory-bound on an H100)
# Device call: `tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s28/r1.sh r1 560`.
. bench/devcall.sh
call_begin "$1" "${2:-560}"
part cv 120 "$T" "-tc=gpu decode e4m3: the converter-warp rows*"
sanitizers "gpu decode e4m3: sanitizer shapes*" e4m3 60
F="decode/d256/b(8|32|128)/kv(8192|32768|131072)/hq128hkv8/q4/contig/"
V="e4m3+k=d256_e4m3_wgc+q8,e4m3+k=d256_e4m3_wg2c+q8"
bench_cells q8-1 "$PWD/build-bench/cub" "$V" "$F"
bench_cells q4-1 "$PWD/build-bench/cub" "e4m3+k=d256_e4m3_wgc,e4m3+k=d256_e4m3_wg2c" "$F"
bench_cells q8-2 "$PWD/build-bench/cub" "$V" "$F"
call_end
