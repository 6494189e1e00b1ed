#!/usr/bin/env bash
# s15 call 2: forced split counts for e4m3 at 32 and 64 packed rows (64/8 and 128/8 heads x 4
# tokens), batch 8 and 32: the library's plan against sN (exactly N splits). cuDNN off.
set -u
START=$(date +%s)
. .devrun/env.sh
RUN=$1; BUDGET=${2:-300}
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
run d64-b8 e4m3,e4m3+s6,e4m3+s8,e4m3+s12,e4m3+s16 "decode/d64/b8/kv(8192|32768|131072)/hq(64|128)hkv8/q4/(contig|page16)/"
run d64-b32 e4m3,e4m3+s2,e4m3+s3,e4m3+s4 "decode/d64/b32/kv(8192|32768|131072)/hq(64|128)hkv8/q4/(contig|page16)/"
run d128-b8 e4m3,e4m3+s6,e4m3+s8 "decode/d128/b8/kv(8192|32768|131072)/hq(64|128)hkv8/q4/(contig|page16)/"
run d128-b32 e4m3,e4m3+s2 "decode/d128/b32/kv(32768|131072)/hq(64|128)hkv8/q4/(contig|page16)/"
date -u >> $R/when.txt
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv >> $R/when.txt
cd $OUT && tar czf $RUN.tgz $RUN && rm -rf $RUN
