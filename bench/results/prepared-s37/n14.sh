#!/usr/bin/env bash
# s37 n14: where a batch-1 call's time goes outside the split CTAs (n13: 11-19 us of a one-launch
# call). Nsight Compute durations of the split and the combine kernel (raw metrics, the first
# launches of each cell, clocks as the bench runs them), and the bench's graph-timed call on the
# same cells (ours only, the read ceiling beside), so that call = split + combine + the rest.
# Carry: bench/results/prepared-s23/prepare.sh (+ cubin-trace, unused here).
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s37/n14.sh n14 BUDGET
. bench/devcall.sh
call_begin "$1" "${2:-150}"
shift 2
NCU=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
METRICS=gpu__time_duration.sum,launch__grid_size,dram__bytes_read.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed
METRICS=$METRICS,sm__cycles_active.avg,sm__cycles_active.max,sm__ctas_launched.max,sm__ctas_launched.min
CELLS="decode/d128/b1/kv4096/hq128hkv8/q4/contig/|decode/d128/b1/kv8192/hq32hkv8/q1/contig/|decode/d256/b1/kv8192/hq32hkv8/q1/page64/|decode/d64/b1/kv4096/hq32hkv8/q1/contig/"
part ncu-b1 60 "$NCU" --clock-control none --kernel-name regex:fmha_decode --launch-count 40 --csv --page raw \
  --metrics "$METRICS" "$B" --ptxfmha_suite=decode --ptxfmha_decode_grid=full --ptxfmha_ceiling=0 \
  --ptxfmha_samples=1 --ptxfmha_cudnn=0 "--benchmark_filter=$CELLS"
bench_cells b1-graph "$PWD/build-bench/cub" default "$CELLS"
call_end
