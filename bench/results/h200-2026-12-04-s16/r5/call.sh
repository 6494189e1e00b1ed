#!/usr/bin/env bash
# s16 call 5: the last fp8 survey chunk no run measured, d256 128/8 x 4 tokens (batch 8-128, kv
# 8k-128k), bf16 and e4m3, on the final library (the done file is seeded with every other chunk).
# cuDNN off.
set -u
START=$(date +%s)
. .devrun/env.sh
RUN=$1; BUDGET=${2:-200}
R=$OUT/$RUN; mkdir -p $R/survey
date -u > $R/when.txt; nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,driver_version --format=csv >> $R/when.txt
flags="--ptxfmha_cudnn=0 --ptxfmha_decode_variants=default,e4m3"
bkv='b(8|32|64|128)/kv(8192|32768|131072)'
tag=$(printf '%s' "$flags $bkv" | tr -c 'A-Za-z0-9' '_' | cut -c1-60)
for d in 128 256; do for h in hq32hkv32 hq32hkv8 hq64hkv8 hq128hkv8; do for q in 1 4; do
  [ "d${d}_${h}_q${q}" = d256_hq128hkv8_q4 ] || echo "d${d}_${h}_q${q}" >> $R/survey/done-$tag
done; done; done
left=$((START + BUDGET - 10 - $(date +%s)))
SURVEY_MIN_LEFT=30 SURVEY_BATCH_KV="$bkv" SURVEY_DIMS="128 256" PTXFMHA_BENCH=$B \
  bash tools/decode-survey.sh $R/survey $left $flags
date -u >> $R/when.txt
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv >> $R/when.txt
cd $OUT && tar czf $RUN.tgz $RUN && rm -rf $RUN
