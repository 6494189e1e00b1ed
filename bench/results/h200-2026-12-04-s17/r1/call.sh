#!/usr/bin/env bash
# s17 call 1: the _e4m3_wg rows with the QK wgmma on the e4m3 K tile (Q split into two e4m3
# tiles, hi + lo; only V converted), d64 and d128 both on the pipelined loop
# (mainloop_wg_e4m3_pipe.ptxh; d128 3 stages at 168 registers). GPU decode suite on the new
# library; compute-sanitizer memcheck, racecheck and synccheck over the e4m3 sanitizer shapes;
# then 64 packed rows (128/8 x 4 tokens), batch 8-128, kv 8k-128k, every cache, d64 then d128:
# the new rows (this tree's binary and sm90a cubins, build-bench/cub) against the old (4e57a20's
# bench binary, build-a/ptxfmha_bench_a, with 4e57a20's _e4m3_wg cubins: build-a/dec) in
# alternating processes B A B A; then 32 packed rows (64/8 x 4 tokens, d64): the library's pick
# (mma.sync e4m3 row) against the new _e4m3_wg row named. cuDNN off.
set -u
START=$(date +%s)
. .devrun/env.sh
RUN=$1; BUDGET=${2:-560}
R=$OUT/$RUN; mkdir -p $R
date -u > $R/when.txt; nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,driver_version --format=csv >> $R/when.txt
timeout 150 $T -tc='gpu decode*' > $R/tests.txt 2>&1; echo "tests rc $? $(date -u +%T)" >> $R/parts.txt
SAN=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
for tool in memcheck racecheck synccheck; do
  extra=""; [ $tool = racecheck ] && extra="--racecheck-report all"; [ $tool = memcheck ] && extra="--report-api-errors no"
  timeout 60 $SAN --tool $tool $extra $T -tc='gpu decode e4m3: sanitizer shapes*' > $R/$tool.txt 2>&1
  echo "$tool rc $? $(date -u +%T)" >> $R/parts.txt
done
common="--ptxfmha_suite=decode --ptxfmha_decode_grid=full --ptxfmha_timing=graph --ptxfmha_samples=4 --ptxfmha_batch_ms=2 --ptxfmha_cudnn=0"
run() { # name binary cubin_dir variants filter
  left=$((START + BUDGET - 15 - $(date +%s)))
  [ $left -lt 20 ] && { echo "$1 skipped" >> $R/parts.txt; return; }
  PTXFMHA_CUBIN_DIR=$3 timeout $left $2 $common --ptxfmha_decode_variants=$4 "--benchmark_filter=$5" \
    --benchmark_out=$R/$1.json --benchmark_out_format=json > $R/$1.txt 2>&1
  echo "$1 rc $? $(date -u +%T)" >> $R/parts.txt
}
F64="decode/d64/b(8|32|64|128)/kv(8192|32768|131072)/hq128hkv8/q4/"
F128="decode/d128/b(8|32|64|128)/kv(8192|32768|131072)/hq128hkv8/q4/"
F32="decode/d64/b(8|32|64|128)/kv(8192|32768|131072)/hq64hkv8/q4/"
run ab-B1 $B $PWD/build-bench/cub default,e4m3 "$F64"
run ab-A1 $BA $PWD/build-a/dec e4m3 "$F64"
run ab-B2 $B $PWD/build-bench/cub e4m3 "$F64"
run ab-A2 $BA $PWD/build-a/dec e4m3 "$F64"
run ab128-B1 $B $PWD/build-bench/cub default,e4m3 "$F128"
run ab128-A1 $BA $PWD/build-a/dec e4m3 "$F128"
run ab128-B2 $B $PWD/build-bench/cub e4m3 "$F128"
run ab128-A2 $BA $PWD/build-a/dec e4m3 "$F128"
run n32 $B $PWD/build-bench/cub default,e4m3,e4m3+k=d64_e4m3_wg "$F32"
date -u >> $R/when.txt
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv >> $R/when.txt
cd $OUT && tar czf $RUN.tgz $RUN && rm -rf $RUN
