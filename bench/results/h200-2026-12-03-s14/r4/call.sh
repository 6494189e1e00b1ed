#!/usr/bin/env bash
# s14 call 5: three builds of the _e4m3_wg rows, bench A B C A B C on the 64-packed-row cells (e4m3
# only, cuDNN off): A = build-a (ae39c28: cvt per pass), B = build-b (every load of a tile
# first), C = build-bench (B + at d64 two copies, tile t + 1's conversion beside tile t's P V;
# 4 stages). GPU e4m3 tests and racecheck / synccheck of the e4m3 sanitizer shapes on C; forced
# split counts on C at batch 32.
set -u
START=$(date +%s)
. .devrun/env.sh
RUN=$1; BUDGET=${2:-400}
R=$OUT/$RUN; mkdir -p $R
date -u > $R/when.txt; nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,driver_version --format=csv >> $R/when.txt
timeout 100 $T -tc='gpu decode e4m3*' > $R/tests.txt 2>&1; echo "tests rc $? $(date -u +%T)" >> $R/parts.txt
for tool in racecheck synccheck; do
  extra=(); [ $tool = racecheck ] && extra=(--racecheck-report all)
  timeout 60 compute-sanitizer --tool $tool --error-exitcode 86 --report-api-errors no "${extra[@]}" \
    $T -tc='gpu decode e4m3: sanitizer*' > $R/san-$tool.txt 2>&1
  echo "san $tool rc $? $(date -u +%T)" >> $R/parts.txt
done
common="--ptxfmha_suite=decode --ptxfmha_decode_grid=full --ptxfmha_timing=graph --ptxfmha_samples=4 --ptxfmha_batch_ms=2 --ptxfmha_cudnn=0"
for rep in 1 2; do
  for side in a b bench; do
    left=$((START + BUDGET - 60 - $(date +%s)))
    [ $left -lt 20 ] && { echo "bench $side $rep skipped" >> $R/parts.txt; continue; }
    PTXFMHA_CUBIN_DIR=$PWD/build-$side/cubin timeout $left $B $common --ptxfmha_decode_variants=e4m3 \
      "--benchmark_filter=decode/d(64|128)/b(8|32|128)/kv(8192|32768|131072)/hq128hkv8/q4/contig/" \
      --benchmark_out=$R/ab-$side-$rep.json --benchmark_out_format=json > $R/ab-$side-$rep.txt 2>&1
    echo "bench $side $rep rc $? $(date -u +%T)" >> $R/parts.txt
  done
done
left=$((START + BUDGET - 10 - $(date +%s)))
[ $left -gt 20 ] && timeout $left $B $common --ptxfmha_decode_variants=e4m3,e4m3+s2,e4m3+s3 \
  "--benchmark_filter=decode/d(64|128)/b32/kv(8192|32768)/hq128hkv8/q4/contig/" \
  --benchmark_out=$R/splits.json --benchmark_out_format=json > $R/splits.txt 2>&1
echo "splits rc $? $(date -u +%T)" >> $R/parts.txt
date -u >> $R/when.txt
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv >> $R/when.txt
cd $OUT && tar czf $RUN.tgz $RUN && rm -rf $RUN
