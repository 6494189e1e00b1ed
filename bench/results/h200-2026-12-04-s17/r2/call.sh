#!/usr/bin/env bash
# s17 call 2: after call 1 found the d128 _e4m3_wg rows wrong (their Q tiles' descriptor had the
# 64-byte swizzle of d64), the GPU e4m3 decode suites, compute-sanitizer memcheck / racecheck /
# synccheck over the e4m3 sanitizer shapes, and 64 packed rows d128 (128/8 x 4 tokens), batch
# 8-128, kv 8k-128k, every cache: new (B) against 4e57a20 (A), B A B. cuDNN off.
set -u
START=$(date +%s)
. .devrun/env.sh
RUN=$1; BUDGET=${2:-330}
R=$OUT/$RUN; mkdir -p $R
date -u > $R/when.txt; nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,driver_version --format=csv >> $R/when.txt
timeout 120 $T -tc='gpu decode e4m3*' > $R/tests.txt 2>&1; echo "tests rc $? $(date -u +%T)" >> $R/parts.txt
SAN=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
for tool in memcheck racecheck synccheck; do
  extra=""; [ $tool = racecheck ] && extra="--racecheck-report all"; [ $tool = memcheck ] && extra="--report-api-errors no"
  timeout 60 $SAN --tool $tool $extra $T -tc='gpu decode e4m3: sanitizer shapes*' > $R/$tool.txt 2>&1
  echo "$tool rc $? $(date -u +%T)" >> $R/parts.txt
done
common="--ptxfmha_suite=decode --ptxfmha_decode_grid=full --ptxfmha_timing=graph --ptxfmha_samples=4 --ptxfmha_batch_ms=2 --ptxfmha_cudnn=0"
run() { # name binary cubin_dir variants filter
  left=$((START + BUDGET - 10 - $(date +%s)))
  [ $left -lt 20 ] && { echo "$1 skipped" >> $R/parts.txt; return; }
  PTXFMHA_CUBIN_DIR=$3 timeout $left $2 $common --ptxfmha_decode_variants=$4 "--benchmark_filter=$5" \
    --benchmark_out=$R/$1.json --benchmark_out_format=json > $R/$1.txt 2>&1
  echo "$1 rc $? $(date -u +%T)" >> $R/parts.txt
}
F128="decode/d128/b(8|32|64|128)/kv(8192|32768|131072)/hq128hkv8/q4/"
run ab128-B1 $B $PWD/build-bench/cub default,e4m3 "$F128"
run ab128-A1 $BA $PWD/build-a/dec e4m3 "$F128"
run ab128-B2 $B $PWD/build-bench/cub e4m3 "$F128"
date -u >> $R/when.txt
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv >> $R/when.txt
cd $OUT && tar czf $RUN.tgz $RUN && rm -rf $RUN
