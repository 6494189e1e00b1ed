#!/usr/bin/env bash
# s16 call 2: where the d64 warpgroup rows' time goes at 64 packed rows (128/8 x 4 tokens, batch
# 32, kv 32k, contiguous: one split, 256 CTAs): Nsight Compute (speed of light, pipes, shared
# memory, warp states, stalls per instruction) of the pipelined e4m3 row (this tree), the e4m3 row
# of 1dd8562 (build-a/dec) and the bf16 _wg row; then compute-sanitizer racecheck and synccheck
# over the e4m3 sanitizer shapes (the warpgroup rows included) on this tree's cubins.
set -u
START=$(date +%s)
. .devrun/env.sh
RUN=$1; BUDGET=${2:-400}
R=$OUT/$RUN; mkdir -p $R
date -u > $R/when.txt; nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,driver_version --format=csv >> $R/when.txt
NCU=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
prof() { # name cubin_dir kernel variant
  rep=/tmp/$1
  PTXFMHA_CUBIN_DIR=$2 timeout 90 $NCU --kernel-name "regex:$3\$" --launch-skip 3 --launch-count 1 \
    --section SpeedOfLight --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis \
    --section WarpStateStats --section SchedulerStats --section InstructionStats --section SourceCounters \
    --section LaunchStats --section Occupancy -o $rep -f $B --ptxfmha_suite=decode --ptxfmha_decode_grid=full \
    --ptxfmha_cudnn=0 --ptxfmha_samples=3 --ptxfmha_decode_variants=$4 \
    --benchmark_filter=decode/d64/b32/kv32768/hq128hkv8/q4/contig/ > $R/$1.log 2>&1
  echo "$1 rc $? $(date -u +%T)" >> $R/parts.txt
  $NCU --import $rep.ncu-rep --page details > $R/$1-details.txt 2>&1
  $NCU --import $rep.ncu-rep --page source --csv --print-source sass > $rep.csv 2>&1
  python3 tools/ncu_stalls.py $rep.csv > $R/$1-stalls.txt 2>&1
}
prof e4m3-pipe $PWD/build-bench/cub fmha_decode_d64_e4m3_wg_sm90a e4m3
prof e4m3-old $PWD/build-a/dec fmha_decode_d64_e4m3_wg_sm90a e4m3
prof bf16-wg $PWD/build-bench/cub fmha_decode_d64_wg_sm90a default
SAN=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
for tool in racecheck synccheck; do
  left=$((START + BUDGET - 15 - $(date +%s)))
  [ $left -lt 30 ] && { echo "$tool skipped" >> $R/parts.txt; continue; }
  extra=""; [ $tool = racecheck ] && extra="--racecheck-report all"
  timeout $left $SAN --tool $tool $extra $T -tc='gpu decode e4m3: sanitizer shapes*' > $R/$tool.txt 2>&1
  echo "$tool rc $? $(date -u +%T)" >> $R/parts.txt
done
date -u >> $R/when.txt
cd $OUT && tar czf $RUN.tgz $RUN && rm -rf $RUN
