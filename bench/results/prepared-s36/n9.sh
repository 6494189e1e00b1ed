#!/usr/bin/env bash
# s36's second call (prepared after n8 ran on an H100, 2026-12-07 05:48 UTC). n8's placement probe
# at 512 / 1024 threads per CTA (up to 44 GB/s per CTA, as much as the d256 split kernel asks) and
# at 12 MiB per CTA showed no loss at 72-120 CTAs: GB/s rose with the grid at every setting, CTAs
# that share a TPC read as fast as CTAs alone, crowded groups as fast as sparse ones (spread of
# the group medians <= 1.3%). So the split kernel's 72-120-CTA loss is its own. This call asks
# Nsight Compute, per forced split count, for what the split kernel does at each grid size:
# duration, DRAM bytes read (a re-read would show), DRAM throughput, L2 read sectors and hit rate,
# and the SMs' active cycles (max / min / avg: with one CTA per SM, the longest CTA against the
# mean of the busy SMs shows an imbalance).
#   d256-contig-sN   batch 1, 32/8 x 1 token, kv 128k, contiguous (cp.async row): 8 / 12 / 16
#                    splits (64 / 96 / 128 CTAs; n7: 96 took 1.106x the time of 64)
#   d256-page64-sN   the same in pages of 64 (the TMA row; n7: 128 fastest, 80-96 1.05-1.06x)
#   d128-wg-sN       head dim 128, batch 1, 128/8 x 4 tokens, kv 4k, contiguous (_wg row): 8 / 13
#                    splits (n8: 13 took 1.079x the time of 8)
# First (device time is short) the library's s36 plans as run (default only, ours, each cell through the bench's correctness
# gate): the 36 cells of the full grid the s36 plan changes move (d256 one m-tile in pages of 64 at
# 32 units and more, kv 8k-128k; d128 in pages of 16 at kv 128k).
# Carry: bench/results/prepared-s23/prepare.sh (this tree, with the s36 plans). Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s36/n9.sh n9 BUDGET
. bench/devcall.sh
call_begin "$1" "${2:-300}"
shift 2
NCU=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
METRICS=gpu__time_duration.sum,launch__grid_size,dram__bytes_read.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed
METRICS=$METRICS,sm__cycles_active.avg,sm__cycles_active.max,sm__cycles_active.min,sm__cycles_elapsed.max
METRICS=$METRICS,lts__t_sectors_srcunit_tex_op_read.sum,lts__t_sector_hit_rate.pct
# ncu_metrics NAME KERNEL VARIANT FILTER: the 4th launch of KERNEL in the decode cells FILTER at
# VARIANT, clocks as the bench runs them (--clock-control none), raw metrics as CSV.
ncu_metrics() {
  part "$1" 60 "$NCU" --clock-control none --kernel-name "regex:$2\$" --launch-skip 3 --launch-count 1 --csv \
    --page raw --metrics "$METRICS" "$B" --ptxfmha_suite=decode --ptxfmha_decode_grid=full --ptxfmha_cudnn=0 \
    --ptxfmha_ceiling=0 --ptxfmha_samples=3 "--ptxfmha_decode_variants=$3" "--benchmark_filter=$4"
}
C="$PWD/build-bench/cub"
bench_cells plans-s36-d256 "$C" default \
  "decode/d256/b(1/kv(8192|32768|131072)/hq32hkv32/q(1|4)|(4|8)/kv(8192|32768|131072)/hq(32|64|128)hkv8/q1|(4|8)/kv(8192|32768|131072)/hq32hkv8/q4)/page64/"
bench_cells plans-s36-d128 "$C" default "decode/d128/b(1|4|8)/kv131072/hq(64|128)hkv8/q4/page16/"
for s in 8 12 16; do
  ncu_metrics "d256-contig-s$s" fmha_decode_d256_sm90a "s$s" "decode/d256/b1/kv131072/hq32hkv8/q1/contig/"
done
for s in 8 12 16; do
  ncu_metrics "d256-page64-s$s" fmha_decode_d256_sm90a "s$s" "decode/d256/b1/kv131072/hq32hkv8/q1/page64/"
done
for s in 8 13; do
  ncu_metrics "d128-wg-s$s" fmha_decode_d128_wg_sm90a "s$s" "decode/d128/b1/kv4096/hq128hkv8/q4/contig/"
done
call_end
