#!/usr/bin/env bash
# s14 call 6: the final library (a696a1a): the GPU decode suite, memcheck / racecheck of the
# e4m3 sanitizer shapes, then the 64-packed-row cells (128/8 heads x 4 tokens, d64 and d128,
# batch 8-128, kv 8k-128k, every cache) bf16 and e4m3 side by side; cuDNN off.
set -u
START=$(date +%s)
. .devrun/env.sh
RUN=$1; BUDGET=${2:-330}
R=$OUT/$RUN; mkdir -p $R
date -u > $R/when.txt; nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,driver_version --format=csv >> $R/when.txt
timeout 100 $T -tc='gpu decode*' > $R/tests.txt 2>&1; echo "tests rc $? $(date -u +%T)" >> $R/parts.txt
for tool in memcheck racecheck; do
  extra=(); [ $tool = racecheck ] && extra=(--racecheck-report all)
  timeout 40 compute-sanitizer --tool $tool --error-exitcode 86 --report-api-errors no "${extra[@]}" \
    $T -tc='gpu decode e4m3: sanitizer*' > $R/san-$tool.txt 2>&1
  echo "san $tool rc $? $(date -u +%T)" >> $R/parts.txt
done
common="--ptxfmha_suite=decode --ptxfmha_decode_grid=full --ptxfmha_timing=graph --ptxfmha_samples=4 --ptxfmha_batch_ms=2 --ptxfmha_cudnn=0"
for d in 128 64; do
  left=$((START + BUDGET - 15 - $(date +%s)))
  [ $left -lt 20 ] && { echo "bench d$d skipped" >> $R/parts.txt; continue; }
  timeout $left $B $common --ptxfmha_decode_variants=default,e4m3 \
    "--benchmark_filter=decode/d$d/b(8|32|64|128)/kv(8192|32768|131072)/hq128hkv8/q4/" \
    --benchmark_out=$R/fin-d$d.json --benchmark_out_format=json > $R/fin-d$d.txt 2>&1
  echo "bench d$d rc $? $(date -u +%T)" >> $R/parts.txt
done
date -u >> $R/when.txt
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv >> $R/when.txt
cd $OUT && tar czf $RUN.tgz $RUN && rm -rf $RUN
