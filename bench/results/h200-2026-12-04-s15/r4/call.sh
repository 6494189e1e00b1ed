#!/usr/bin/env bash
# s15 call 4: the final library (kDecodeCombineTilesE4m3Wg added): the fp8 survey (bf16 and e4m3 on
# the fp8 target's cells: batch 8-128, kv 8k-128k), head dims 64, 256, then 128's rest. cuDNN off.
set -u
START=$(date +%s)
. .devrun/env.sh
RUN=$1; BUDGET=${2:-540}
R=$OUT/$RUN; mkdir -p $R
date -u > $R/when.txt; nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,driver_version --format=csv >> $R/when.txt
left=$((START + BUDGET - 15 - $(date +%s)))
SURVEY_BATCH_KV='b(8|32|64|128)/kv(8192|32768|131072)' SURVEY_DIMS="64 256 128" SURVEY_MIN_LEFT=45 PTXFMHA_BENCH=$B \
  bash tools/decode-survey.sh $R/survey $left --ptxfmha_cudnn=0 --ptxfmha_decode_variants=default,e4m3
date -u >> $R/when.txt
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv >> $R/when.txt
cd $OUT && tar czf $RUN.tgz $RUN && rm -rf $RUN
