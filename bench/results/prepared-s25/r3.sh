#!/usr/bin/env bash
# (Run in s26 / s27. Its ab128-1 round names the d128 converter rows, removed in 3893c1d: it runs
# only with a carry built before that; the call for the next H200 is r7.sh.)
# s25's converter-warp call, lean (r2.sh's parts when device time ran short after failed starts):
# the converter-warp rows' GPU case and the named-variant case, racecheck and synccheck over the
# e4m3 sanitizer shapes, on an H200 the A/B of round 1 (r2.sh: _e4m3_wg vs _e4m3_wgc named in one
# process, then set C's _e4m3_wg), memcheck last. Carry: prepare.sh.
# Device call: command `tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s25/r3.sh r3 BUDGET`.
. bench/devcall.sh
call_begin "$1" "${2:-400}"
part tests-wgc 100 "$T" "-tc=gpu decode e4m3: the converter-warp rows*,gpu decode variants*"
for tool in racecheck synccheck; do
  sanitize $tool "gpu decode e4m3: sanitizer shapes*" wgc 50
done
if nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200; then
  F="decode/d256/b(8|32|128)/kv(8192|32768|131072)/hq(64|128)hkv8/q4/contig/"
  bench_cells ab-1 "$PWD/build-bench/cub" "e4m3+k=d256_e4m3_wg,e4m3+k=d256_e4m3_wgc" "$F"
  bench_cells ab128-1 "$PWD/build-bench/cub" "e4m3+k=d128_e4m3_wg,e4m3+k=d128_e4m3_wgc" "${F//d256/d128}"
  bench_cells abC-1 "$PWD/build-bench/cubC" "e4m3+k=d256_e4m3_wg" "$F"
fi
sanitize memcheck "gpu decode e4m3: sanitizer shapes*" wgc 60
call_end
