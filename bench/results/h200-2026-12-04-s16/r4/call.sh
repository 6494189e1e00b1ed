#!/usr/bin/env bash
# s16 call 4: the final library (the pipelined d64 _e4m3_wg loop). compute-sanitizer memcheck and
# initcheck over the e4m3 sanitizer shapes; then the fp8 survey of the target's cells (batch 8-128,
# kv 8k-128k) in the chunks no earlier run measured with an e4m3 side: d128 128/8 x 1 token and
# the d256 GQA chunks (the done file is seeded with the chunks s14-s16 covered); then d128 64/8 x 4
# tokens at kv 128k. cuDNN off.
set -u
START=$(date +%s)
. .devrun/env.sh
RUN=$1; BUDGET=${2:-560}
R=$OUT/$RUN; mkdir -p $R
date -u > $R/when.txt; nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,driver_version --format=csv >> $R/when.txt
SAN=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
for tool in memcheck initcheck; do
  timeout 60 $SAN --tool $tool $T -tc='gpu decode e4m3: sanitizer shapes*' > $R/$tool.txt 2>&1
  echo "$tool rc $? $(date -u +%T)" >> $R/parts.txt
done
flags="--ptxfmha_cudnn=0 --ptxfmha_decode_variants=default,e4m3"
bkv='b(8|32|64|128)/kv(8192|32768|131072)'
tag=$(printf '%s' "$flags $bkv" | tr -c 'A-Za-z0-9' '_' | cut -c1-60)
mkdir -p $R/survey
for c in d128_hq32hkv32_q1 d128_hq32hkv32_q4 d128_hq32hkv8_q1 d128_hq32hkv8_q4 d128_hq64hkv8_q1 \
         d128_hq64hkv8_q4 d128_hq128hkv8_q4 d256_hq32hkv32_q1 d256_hq32hkv32_q4; do
  echo $c >> $R/survey/done-$tag
done
left=$((START + BUDGET - 70 - $(date +%s)))
SURVEY_BATCH_KV="$bkv" SURVEY_DIMS="128 256" PTXFMHA_BENCH=$B \
  bash tools/decode-survey.sh $R/survey $left $flags
left=$((START + BUDGET - 10 - $(date +%s)))
[ $left -gt 20 ] && timeout $left $B --ptxfmha_suite=decode --ptxfmha_decode_grid=full --ptxfmha_timing=graph \
  --ptxfmha_samples=4 --ptxfmha_batch_ms=2 $flags "--benchmark_filter=decode/d128/b(8|32|64|128)/kv131072/hq64hkv8/q4/" \
  --benchmark_out=$R/d128-64-8-q4-kv128k.json --benchmark_out_format=json > $R/d128-64-8-q4-kv128k.txt 2>&1
echo "d128 64/8 q4 kv128k rc $? $(date -u +%T)" >> $R/parts.txt
date -u >> $R/when.txt
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv >> $R/when.txt
cd $OUT && tar czf $RUN.tgz $RUN && rm -rf $RUN
