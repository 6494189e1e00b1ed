#!/usr/bin/env bash
# s14 call 1: the _e4m3_wg rows. GPU decode tests (e4m3 warpgroup cases included); compute-sanitizer
# memcheck / racecheck / synccheck over the e4m3 sanitizer shapes; then the bench at 64 packed
# rows (128/8 heads x 4 tokens): bf16 (the _wg row), e4m3 by the library's pick (the _e4m3_wg row)
# and e4m3 on the mma.sync row named (k=dNN_e4m3), in one process per head dim; cuDNN off.
set -u
START=$(date +%s)
. .devrun/env.sh
RUN=$1; BUDGET=${2:-540}
R=$OUT/$RUN; mkdir -p $R
date -u > $R/when.txt; nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,power.draw,driver_version --format=csv >> $R/when.txt
timeout 150 $T -tc='gpu decode*' > $R/tests.txt 2>&1; echo "tests rc $? $(date -u +%T)" >> $R/parts.txt
for tool in memcheck racecheck synccheck; do
  extra=(); [ $tool = racecheck ] && extra=(--racecheck-report all)
  timeout 70 compute-sanitizer --tool $tool --error-exitcode 86 --report-api-errors no "${extra[@]}" \
    $T -tc='gpu decode e4m3: sanitizer*' > $R/san-$tool.txt 2>&1
  echo "san $tool rc $? $(date -u +%T)" >> $R/parts.txt
done
common="--ptxfmha_suite=decode --ptxfmha_decode_grid=full --ptxfmha_timing=graph --ptxfmha_samples=4 --ptxfmha_batch_ms=2 --ptxfmha_cudnn=0"
for d in 64 128; do
  left=$((START + BUDGET - 25 - $(date +%s)))
  [ $left -lt 20 ] && { echo "bench d$d skipped" >> $R/parts.txt; continue; }
  timeout $left $B $common --ptxfmha_decode_variants=default,e4m3,e4m3+k=d${d}_e4m3 \
    "--benchmark_filter=decode/d$d/b(8|32|64|128)/kv(8192|32768|131072)/hq128hkv8/q4/" \
    --benchmark_out=$R/ab-d$d.json --benchmark_out_format=json > $R/ab-d$d.txt 2>&1
  echo "bench d$d rc $? $(date -u +%T)" >> $R/parts.txt
done
date -u >> $R/when.txt
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv >> $R/when.txt
cd $OUT && tar czf $RUN.tgz $RUN && rm -rf $RUN
