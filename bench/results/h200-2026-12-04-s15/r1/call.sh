#!/usr/bin/env bash
# s15 call 1: (a) 64 packed rows (128/8 x 4 tokens), d128 e4m3: the library's _e4m3_wg row (4 stages,
# one copy) against the named _e4m3_wg_s2 row (2 stages, two copies: tile t + 1's conversion beside
# tile t's P V); (b) 32 packed rows (64/8 x 4 tokens), d64 and d128: bf16, e4m3 by the library's
# pick (the mma.sync e4m3 row) and the _e4m3_wg rows named. cuDNN off; every entry gated first.
set -u
START=$(date +%s)
. .devrun/env.sh
RUN=$1; BUDGET=${2:-480}
R=$OUT/$RUN; mkdir -p $R
date -u > $R/when.txt; nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,driver_version --format=csv >> $R/when.txt
common="--ptxfmha_suite=decode --ptxfmha_decode_grid=full --ptxfmha_timing=graph --ptxfmha_samples=4 --ptxfmha_batch_ms=2 --ptxfmha_cudnn=0"
run() { # name variants filter
  left=$((START + BUDGET - 15 - $(date +%s)))
  [ $left -lt 20 ] && { echo "$1 skipped" >> $R/parts.txt; return; }
  timeout $left $B $common --ptxfmha_decode_variants=$2 "--benchmark_filter=$3" \
    --benchmark_out=$R/$1.json --benchmark_out_format=json > $R/$1.txt 2>&1
  echo "$1 rc $? $(date -u +%T)" >> $R/parts.txt
}
run a-d128 e4m3,e4m3+k=d128_e4m3_wg_s2 "decode/d128/b(8|32|64|128)/kv(8192|32768|131072)/hq128hkv8/q4/"
run b-d64 default,e4m3,e4m3+k=d64_e4m3_wg "decode/d64/b(8|32|64|128)/kv(8192|32768)/hq64hkv8/q4/"
run b-d128 default,e4m3,e4m3+k=d128_e4m3_wg,e4m3+k=d128_e4m3_wg_s2 "decode/d128/b(8|32|64|128)/kv(8192|32768)/hq64hkv8/q4/"
date -u >> $R/when.txt
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv >> $R/when.txt
cd $OUT && tar czf $RUN.tgz $RUN && rm -rf $RUN
