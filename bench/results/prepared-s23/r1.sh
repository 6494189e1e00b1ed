#!/usr/bin/env bash
# s23's follow-up call (prepared, not run): what s23 merged without running it, and the fp8
# cells its survey left on the old producer / plan; cuDNN off (no FP8 decode on Hopper in cuDNN
# 9.19). Build with prepare.sh.
#   tests      the e4m3 warpgroup-row GPU case (its new 18- and 32-row shapes: the d256
#              _e4m3_wg row through the plan from 17 rows) and the whole gpu-decode suite
#   p16        the fp8 target's d256 cells in pages of 16 (e4m3 ran there with the lane-0
#              producer before s23: 1.45x-1.60x; s23's one re-measured cell 1.98x), one token,
#              32/8 and 64/8 heads, batch 8-128, kv 8k-128k, bf16 and e4m3
#   n32        d256 64/8 x 4 tokens (32 packed rows), every cache: the plan's e4m3 row is the
#              _e4m3_wg row since s23 (its n32 ran it by name, contiguous only)
#   san        memcheck / racecheck / synccheck over both decode sanitizer-shape cases (the bf16
#              rows' shapes did not run after s22's elect.sync producer)
#   d128       the 16 d128 128/8 x 4-token cells s23's r2 did not reach (pages of 64 and the
#              rest of pages of 16), bf16 and e4m3
# Device call: command `tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s23/r1.sh r1 570`.
. bench/devcall.sh
call_begin "$1" "${2:-570}"
part tests 200 "$T" -ts=gpu-decode
for tool in memcheck racecheck synccheck; do
  sanitize $tool "decode gpu: sanitizer shapes*,gpu decode e4m3: sanitizer shapes*" san 80
done
C=$PWD/build-bench/cub
bench_cells p16 "$C" default,e4m3 "decode/d256/b(8|32|64|128)/kv(8192|32768|131072)/hq(32|64)hkv8/q1/page16/"
bench_cells n32 "$C" default,e4m3 "decode/d256/b(8|32|64|128)/kv(8192|32768|131072)/hq64hkv8/q4/"
bench_cells d128 "$C" default,e4m3 "decode/d128/b(8|32|64|128)/kv(8192|32768|131072)/hq128hkv8/q4/page(16|64)/"
call_end
