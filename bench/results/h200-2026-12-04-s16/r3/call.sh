#!/usr/bin/env bash
# s16 call 3: the pipelined d64 _e4m3_wg loop (mainloop_wg_e4m3_pipe.ptxh) at 120 registers, so
# that 3 CTAs fit an SM (call 1 ran it at 131 registers: 2 per SM, Nsight Compute in call 2). GPU
# decode suite on the new library; then 64 packed rows (128/8 x 4 tokens), d64, batch 8-128, kv 8k-128k, every
# cache: the new row (build-bench/cub: this tree's sm90a cubins) against the old (build-a/dec:
# 1dd8562's sm90a decode cubins, the same host) in alternating processes B A B A; then 32 packed rows (64/8 x 4 tokens):
# the library's pick (mma.sync e4m3 row) against the new _e4m3_wg row named; then compute-sanitizer
# racecheck and synccheck over the e4m3 sanitizer shapes. cuDNN off.
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
SAN=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
for tool in racecheck synccheck; do
  left=$((START + BUDGET - 15 - $(date +%s)))
  [ $left -lt 30 ] && { echo "$tool skipped" >> $R/parts.txt; continue; }
  extra=""; [ $tool = racecheck ] && extra="--racecheck-report all"
  timeout $left $SAN --tool $tool $extra $T -tc='gpu decode e4m3: sanitizer shapes*' > $R/$tool.txt 2>&1
  echo "$tool rc $? $(date -u +%T)" >> $R/parts.txt
done
date -u >> $R/when.txt
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv >> $R/when.txt
cd $OUT && tar czf $RUN.tgz $RUN && rm -rf $RUN
