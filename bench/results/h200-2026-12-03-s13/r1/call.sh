#!/usr/bin/env bash
# s13 call 1: A/B of the plans moved by (1) at least two tiles per split in the bandwidth model
# and (2) bf16 pages of 16 through the bandwidth model at 0.6 shares per CTA (not _wg rows):
# HEAD's library (ptxfmha_bench_old) against the new one, alternating; the GPU decode tests on
# the new library; then the e4m3 survey of the fp8 target's cells (default and e4m3 variants).
set -u
START=$(date +%s)
. .devrun/env.sh
RUN=$1; BUDGET=${2:-560}
R=$OUT/$RUN; mkdir -p $R
date -u > $R/when.txt; nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,power.draw,driver_version --format=csv >> $R/when.txt
common="--ptxfmha_suite=decode --ptxfmha_decode_grid=full --ptxfmha_timing=graph --ptxfmha_samples=4 --ptxfmha_batch_ms=2 --ptxfmha_cudnn=0"
part() {  # name binary seconds regex-file
  left=$((START + BUDGET - 30 - $(date +%s)))
  t=$3; [ $t -gt $left ] && t=$left
  [ $t -lt 20 ] && { echo "$1 skipped ($left s left)" >> $R/parts.txt; return; }
  echo "$1 start $(date -u +%T) limit $t" >> $R/parts.txt
  if [ $2 = old ]; then bin=.deps/gpu/ptxfmha_bench_old; cub=$PWD/build-bench/cubin; else bin=$B; cub=$PWD/build-bench/cubin; fi
  PTXFMHA_CUBIN_DIR=$cub timeout $t $bin $common "--benchmark_filter=$(cat $4)" --benchmark_out=$R/$1.json --benchmark_out_format=json > $R/$1.txt 2>&1
  echo "$1 rc $? end $(date -u +%T)" >> $R/parts.txt
}
part h1-old old 40 .devrun/h1.rx
part h1-new new 40 .devrun/h1.rx
part h2-new new 90 .devrun/h2.rx
part h2-old old 90 .devrun/h2.rx
part h3-old old 90 .devrun/h3.rx
part h3-new new 90 .devrun/h3.rx
timeout 80 $T -tc='gpu decode*' > $R/tests.txt 2>&1; echo "tests rc $? $(date -u +%T)" >> $R/parts.txt
left=$((START + BUDGET - 25 - $(date +%s)))
mkdir -p $R/survey; [ -f .devrun/e4m3-done ] && cp .devrun/e4m3-done "$R/survey/done-__ptxfmha_cudnn_0___ptxfmha_decode_variants_default_e4m3_b_8"
SURVEY_DIMS="${SURVEY_DIMS:-128 64 256}" SURVEY_BATCH_KV='b(8|32|64|128)/kv(8192|32768|131072)' PTXFMHA_BENCH=$B SURVEY_MIN_LEFT=50 \
  tools/decode-survey.sh $R/survey $left --ptxfmha_cudnn=0 --ptxfmha_decode_variants=default,e4m3
date -u >> $R/when.txt
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv >> $R/when.txt
cd $OUT && tar czf $RUN.tgz $RUN && rm -rf $RUN
