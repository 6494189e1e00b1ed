#!/usr/bin/env bash
# s15 call 3: the final library. GPU decode suite; then the 104 e4m3 cells whose plan moved (the
# rate per m-tile at 32 packed rows, the _e4m3_wg rows by waves): the new plan (e4m3) against
# the old split count forced (e4m3+sK) in the same process; then the fp8 survey. cuDNN off.
set -u
START=$(date +%s)
. .devrun/env.sh
RUN=$1; BUDGET=${2:-540}
R=$OUT/$RUN; mkdir -p $R
date -u > $R/when.txt; nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,driver_version --format=csv >> $R/when.txt
timeout 130 $T -tc='gpu decode*' > $R/tests.txt 2>&1; echo "tests rc $? $(date -u +%T)" >> $R/parts.txt
common="--ptxfmha_suite=decode --ptxfmha_decode_grid=full --ptxfmha_timing=graph --ptxfmha_samples=4 --ptxfmha_batch_ms=2 --ptxfmha_cudnn=0"
while read -r k rx; do
  left=$((START + BUDGET - 200 - $(date +%s)))
  [ $left -lt 10 ] && { echo "ab s$k skipped" >> $R/parts.txt; continue; }
  timeout $left $B $common --ptxfmha_decode_variants=e4m3,e4m3+s$k "--benchmark_filter=$rx" \
    --benchmark_out=$R/ab-s$k.json --benchmark_out_format=json > $R/ab-s$k.txt 2>&1
  echo "ab s$k rc $? $(date -u +%T)" >> $R/parts.txt
done < .devrun/moved-groups.txt
left=$((START + BUDGET - 15 - $(date +%s)))
SURVEY_BATCH_KV='b(8|32|64|128)/kv(8192|32768|131072)' SURVEY_DIMS="128 64 256" PTXFMHA_BENCH=$B \
  bash tools/decode-survey.sh $R/survey $left --ptxfmha_cudnn=0 --ptxfmha_decode_variants=default,e4m3
date -u >> $R/when.txt
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv >> $R/when.txt
cd $OUT && tar czf $RUN.tgz $RUN && rm -rf $RUN
