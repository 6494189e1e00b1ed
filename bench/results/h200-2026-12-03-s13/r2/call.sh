#!/usr/bin/env bash
# s13 call 2: the final plan rule: GPU decode tests; old/new on the two _wg pages-of-16 cells it
# moves; cuDNN beside the moved cells (new library); then the e4m3 survey of the fp8 target's
# cells with the bench's memory plan fixed (families in turn).
set -u
START=$(date +%s)
. .devrun/env.sh
RUN=$1; BUDGET=${2:-540}
R=$OUT/$RUN; mkdir -p $R
date -u > $R/when.txt; nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,power.draw,driver_version --format=csv >> $R/when.txt
common="--ptxfmha_suite=decode --ptxfmha_decode_grid=full --ptxfmha_timing=graph --ptxfmha_samples=4 --ptxfmha_batch_ms=2"
part() {  # name binary seconds regex-file [flags]
  left=$((START + BUDGET - 30 - $(date +%s)))
  t=$3; [ $t -gt $left ] && t=$left
  [ $t -lt 20 ] && { echo "$1 skipped ($left s left)" >> $R/parts.txt; return; }
  echo "$1 start $(date -u +%T) limit $t" >> $R/parts.txt
  if [ $2 = old ]; then bin=.deps/gpu/ptxfmha_bench_old; else bin=$B; fi
  PTXFMHA_CUBIN_DIR=$PWD/build-bench/cubin timeout $t $bin $common "${@:5}" "--benchmark_filter=$(cat $4)" --benchmark_out=$R/$1.json --benchmark_out_format=json > $R/$1.txt 2>&1
  echo "$1 rc $? end $(date -u +%T)" >> $R/parts.txt
}
timeout 80 $T -tc='gpu decode*' > $R/tests.txt 2>&1; echo "tests rc $? $(date -u +%T)" >> $R/parts.txt
part h4-old old 30 .devrun/h4.rx --ptxfmha_cudnn=0
part h4-new new 30 .devrun/h4.rx --ptxfmha_cudnn=0
part c1 new 230 .devrun/c1.rx
left=$((START + BUDGET - 25 - $(date +%s)))
mkdir -p $R/survey; [ -f .devrun/e4m3-done ] && cp .devrun/e4m3-done "$R/survey/done-__ptxfmha_cudnn_0___ptxfmha_decode_variants_default_e4m3_b_8"
SURVEY_DIMS="${SURVEY_DIMS:-128 64 256}" SURVEY_BATCH_KV='b(8|32|64|128)/kv(8192|32768|131072)' PTXFMHA_BENCH=$B SURVEY_MIN_LEFT=60 \
  tools/decode-survey.sh $R/survey $left --ptxfmha_cudnn=0 --ptxfmha_decode_variants=default,e4m3
date -u >> $R/when.txt
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv >> $R/when.txt
cd $OUT && tar czf $RUN.tgz $RUN && rm -rf $RUN
