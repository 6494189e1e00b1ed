#!/usr/bin/env bash
# s37 n11, after n10 (2026-12-07 07:57 UTC, H100): under Nsight Compute (one launch, L2 flushed,
# boost clock) ours and cuDNN's kernel are within 1.3% on d64 b32 kv 8k 128/8 x 1 token
# (177.7 against 175.4 us), but the bench's back-to-back graph timing has ours at 184-186 us
# (s31 / s33) against cuDNN's 176.7: ours loses ~7 us per launch run back to back, cuDNN ~1.
# On d64 b32 kv 32k 32/32 x 4 tokens cuDNN runs a persistent kernel (132 CTAs x 384 threads) and
# ours 2048 CTAs (12-20 per SM): 2.755 ms + 7.5 us combine against 2.687 ms isolated, 0.948x in
# the bench. Which timing shows the loss, and does the L2 left by the previous launch matter?
#   modes-*      ours and cuDNN (autotuned, 4 plans) timed back to back in a graph and one launch
#                per event pair, the same process and buffers
#   ncu-nocache-*  raw metrics of ours and cuDNN's kernel with the L2 not flushed between launches
#   ncu-d64-sN     raw metrics of ours at 2 / 4 splits on the kv-8k cell (n10's filter missed the
#                  variant's v=sN path part)
# Carry: bench/results/prepared-s23/prepare.sh. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s37/n11.sh n11 BUDGET
. bench/devcall.sh
call_begin "$1" "${2:-240}"
shift 2
NCU=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
CELLS="decode/d64/b32/kv8192/hq128hkv8/q1/contig/|decode/d64/b32/kv32768/hq32hkv32/q4/contig/|decode/d128/b32/kv8192/hq32hkv32/q1/contig/"
part modes 150 "$B" --ptxfmha_suite=decode --ptxfmha_decode_grid=full --ptxfmha_timing=graph,launch,b2b \
  --ptxfmha_samples=4 --ptxfmha_cudnn_max_plans=4 "--benchmark_filter=$CELLS" \
  "--benchmark_out=$R/modes.json" --benchmark_out_format=json
METRICS=gpu__time_duration.sum,launch__grid_size,dram__bytes_read.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed
METRICS=$METRICS,sm__cycles_active.avg,sm__cycles_active.max,sm__cycles_active.min,sm__cycles_elapsed.max
METRICS=$METRICS,sm__ctas_launched.max,sm__ctas_launched.min,lts__t_sector_hit_rate.pct
for side in cudnn ptxfmha; do
  part "ncu-nocache-$side" 60 "$NCU" --clock-control none --cache-control none --launch-count 16 --csv --page raw \
    --metrics "$METRICS" "$B" --ptxfmha_suite=decode --ptxfmha_decode_grid=full --ptxfmha_ceiling=0 \
    --ptxfmha_samples=1 --ptxfmha_cudnn_max_plans=1 "--benchmark_filter=decode/d64/b32/kv8192/hq128hkv8/q1/contig/$side"
done
for v in s2 s4; do
  part "ncu-d64-$v" 40 "$NCU" --clock-control none --kernel-name regex:fmha_decode --launch-count 8 --csv --page raw \
    --metrics "$METRICS" "$B" --ptxfmha_suite=decode --ptxfmha_decode_grid=full --ptxfmha_ceiling=0 \
    --ptxfmha_samples=1 --ptxfmha_cudnn=0 "--ptxfmha_decode_variants=$v" \
    "--benchmark_filter=decode/d64/b32/kv8192/hq128hkv8/q1/contig/v=$v/ptxfmha"
done
call_end
