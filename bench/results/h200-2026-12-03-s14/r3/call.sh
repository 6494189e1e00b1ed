#!/usr/bin/env bash
# s14 call 4: the _e4m3_wg conversion by integer operations (build-bench/cubin, "B") against
# cvt.rn.f16x2.e4m3x2 (build-a/cubin, HEAD ae39c28, "A"): GPU e4m3 tests on B; Nsight Compute of
# the d64 row, A and B (128/8 heads x 4 tokens, batch 32, kv 32k); the bench, A B A B, on the
# 64-packed-row cells (e4m3 only), cuDNN off.
set -u
START=$(date +%s)
. .devrun/env.sh
RUN=$1; BUDGET=${2:-560}
R=$OUT/$RUN; mkdir -p $R
date -u > $R/when.txt; nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,driver_version --format=csv >> $R/when.txt
timeout 100 $T -tc='gpu decode e4m3*' > $R/tests.txt 2>&1; echo "tests rc $? $(date -u +%T)" >> $R/parts.txt
for side in a bench; do
  rep=$R/ncu-$side
  PTXFMHA_CUBIN_DIR=$PWD/build-$side/cubin timeout 120 ncu --kernel-name "regex:fmha_decode_d64_e4m3_wg_sm90a" --launch-skip 3 --launch-count 1 \
    --section SpeedOfLight --section ComputeWorkloadAnalysis --section InstructionStats --section WarpStateStats \
    --section SourceCounters --section Occupancy \
    -o $rep -f $B --ptxfmha_suite=decode --ptxfmha_decode_grid=full --ptxfmha_cudnn=0 --ptxfmha_ceiling=0 \
    --ptxfmha_decode_variants=e4m3 "--benchmark_filter=decode/d64/b32/kv32768/hq128hkv8/q4/contig/" \
    --ptxfmha_samples=3 > $R/ncu-$side.log 2>&1
  echo "ncu $side rc $? $(date -u +%T)" >> $R/parts.txt
  ncu --import $rep.ncu-rep --page details > $R/details-$side.txt 2>&1
  ncu --import $rep.ncu-rep --page source --csv --print-source sass > $R/src-$side.csv 2>&1
  python3 tools/ncu_stalls.py $R/src-$side.csv > $R/stalls-$side.txt 2>&1
  rm -f $R/src-$side.csv $rep.ncu-rep
done
common="--ptxfmha_suite=decode --ptxfmha_decode_grid=full --ptxfmha_timing=graph --ptxfmha_samples=4 --ptxfmha_batch_ms=2 --ptxfmha_cudnn=0 --ptxfmha_decode_variants=e4m3"
for rep in 1 2; do
  for side in a bench; do
    left=$((START + BUDGET - 20 - $(date +%s)))
    [ $left -lt 20 ] && { echo "bench $side $rep skipped" >> $R/parts.txt; continue; }
    PTXFMHA_CUBIN_DIR=$PWD/build-$side/cubin timeout $left $B $common \
      "--benchmark_filter=decode/d(64|128)/b(8|32|128)/kv(8192|32768|131072)/hq128hkv8/q4/contig/" \
      --benchmark_out=$R/ab-$side-$rep.json --benchmark_out_format=json > $R/ab-$side-$rep.txt 2>&1
    echo "bench $side $rep rc $? $(date -u +%T)" >> $R/parts.txt
  done
done
date -u >> $R/when.txt
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv >> $R/when.txt
cd $OUT && tar czf $RUN.tgz $RUN && rm -rf $RUN
