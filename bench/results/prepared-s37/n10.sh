#!/usr/bin/env bash
# s37's first question after n9 (2026-12-07 07:53 UTC, H100): Nsight Compute showed the d256 split
# kernel's 96-CTA loss as an imbalance between CTAs (the longest SM active 1.134x the busy SMs'
# mean at 96 CTAs, 1.006x at 64 contiguous), not as more DRAM bytes (1.0738 GB at every count).
# Does the same tail explain the largest group of misses against cuDNN, d64 at batch >= 32
# (0.944-0.976x, one wave of long CTAs)? Raw metrics of every kernel (ours and cuDNN's first
# plan) on the worst cells, and ours at forced split counts (more, shorter CTAs: the hardware
# balances across waves).
#   raw-d64-b32-*   all launches of the cell, cuDNN beside (its first plan), ceiling off
#   d64-sN          ours, d64 b32 kv 8k 128/8 x 1 token contiguous, N splits
# Carry: bench/results/prepared-s23/prepare.sh. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s37/n10.sh n10 BUDGET
. bench/devcall.sh
call_begin "$1" "${2:-240}"
shift 2
NCU=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
METRICS=gpu__time_duration.sum,launch__grid_size,launch__block_size,dram__bytes_read.sum
METRICS=$METRICS,dram__throughput.avg.pct_of_peak_sustained_elapsed,sm__cycles_active.avg,sm__cycles_active.max
METRICS=$METRICS,sm__cycles_active.min,sm__cycles_elapsed.max,sm__ctas_launched.max,sm__ctas_launched.min
METRICS=$METRICS,lts__t_sectors_srcunit_tex_op_read.sum,lts__t_sector_hit_rate.pct,launch__occupancy_limit_shared_mem
# ncu_raw NAME KERNEL-REGEX FILTER ARGS...: raw metrics (CSV) of the first 16 launches of the
# kernels KERNEL-REGEX in the decode cells FILTER.
ncu_raw() {
  local name=$1 kernel=$2 filter=$3
  shift 3
  part "$name" 90 "$NCU" --clock-control none --kernel-name "regex:$kernel" --launch-count 16 --csv \
    --page raw --metrics "$METRICS" "$B" \
    --ptxfmha_suite=decode --ptxfmha_decode_grid=full --ptxfmha_ceiling=0 --ptxfmha_samples=1 \
    "--benchmark_filter=$filter" "$@"
}
for c in "d64-b32-kv8k decode/d64/b32/kv8192/hq128hkv8/q1/contig" "d64-b32-kv32k-mha decode/d64/b32/kv32768/hq32hkv32/q4/contig"; do
  set -- $c
  ncu_raw "raw-$1-cudnn" . "$2/cudnn" --ptxfmha_cudnn=1 --ptxfmha_cudnn_max_plans=1
  ncu_raw "raw-$1-ours" fmha_decode "$2/ptxfmha" --ptxfmha_cudnn=0
done
for s in 2 4; do
  ncu_raw "d64-s$s" fmha_decode "decode/d64/b32/kv8192/hq128hkv8/q1/contig/ptxfmha" --ptxfmha_cudnn=0 "--ptxfmha_decode_variants=s$s"
done
call_end
