#!/usr/bin/env bash
# s16 call 1: the pipelined d64 _e4m3_wg loop (mainloop_wg_e4m3_pipe.ptxh). GPU decode suite on
# the new library; then 64 packed rows (128/8 x 4 tokens), d64, batch 8-128, kv 8k-128k, every
# cache: the new row (build-bench/cub: this tree's sm90a cubins) against the old (build-a/dec:
# 1dd8562's sm90a decode cubins, the same host) in alternating processes B A B A; then 32 packed rows (64/8 x 4 tokens):
# the library's pick (mma.sync e4m3 row) against the new _e4m3_wg row named. cuDNN off.
set -u
START=$(date +%s)
. .devrun/env.sh
RUN=$1; BUDGET=${2:-560}
R=$OUT/$RUN; mkdir -p $R
date -u > $R/when.txt; nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,driver_version --format=csv >> $R/when.txt
timeout 170 $T -tc='gpu decode*' > $R/tests.txt 2>&1; echo "tests rc $? $(date -u +%T)" >> $R/parts.txt
common="--ptxfmha_suite=decode --ptxfmha_decode_grid=full --ptxfmha_timing=graph --ptxfmha_samples=4 --ptxfmha_batch_ms=2 --ptxfmha_cudnn=0"
run() { # name cubin_dir variants filter
  left=$((START + BUDGET - 15 - $(date +%s)))
  [ $left -lt 20 ] && { echo "$1 skipped" >> $R/parts.txt; return; }
  PTXFMHA_CUBIN_DIR=$2 timeout $left $B $common --ptxfmha_decode_variants=$3 "--benchmark_filter=$4" \
    --benchmark_out=$R/$1.json --benchmark_out_format=json > $R/$1.txt 2>&1
  echo "$1 rc $? $(date -u +%T)" >> $R/parts.txt
}
F64="decode/d64/b(8|32|64|128)/kv(8192|32768|131072)/hq128hkv8/q4/"
F32="decode/d64/b(8|32|64|128)/kv(8192|32768|131072)/hq64hkv8/q4/"
run ab-B1 $PWD/build-bench/cub default,e4m3 "$F64"
run ab-A1 $PWD/build-a/dec e4m3 "$F64"
run ab-B2 $PWD/build-bench/cub e4m3 "$F64"
run ab-A2 $PWD/build-a/dec e4m3 "$F64"
run n32 $PWD/build-bench/cub default,e4m3,e4m3+k=d64_e4m3_wg "$F32"
date -u >> $R/when.txt
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv >> $R/when.txt
cd $OUT && tar czf $RUN.tgz $RUN && rm -rf $RUN
