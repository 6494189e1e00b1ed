#!/usr/bin/env bash
# Ran in s35 (H100, 2026-12-07 03:16-03:18 UTC, every part): bench/results/h100-2026-12-07-s35/.
# Prepared in s33, not run; s34 could not start a device (21 asks, none started; the session's device
# time spent on the refusals) and added the 4-m-tile sweep, the H200-only part and the placement
# probe. Carry: bench/results/prepared-s23/prepare.sh on main as of s34 (s33's
# decode_rows_split_floor, s34's `ptxfmha placement`; the carry now holds the CLI). Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s33/n7.sh n7 570
#   d256-floor-b4  the floor's 6 moved plans (batch 4, 64/8 x 4 tokens, kv 8k / 32k / 128k,
#                  contiguous and in pages of 64: 4 splits), run as planned beside the model's 3
#                  forced (n6 timed 4 only as a forced count)
#   d256-sweep     why grids of 80-104 CTAs lose at d256 (s33): every count 8-16 at batch 1, one
#                  token, 32/8 heads, kv 32k / 128k, contiguous and in pages of 64 (64-128 CTAs,
#                  one per SM). If CTAs spread one per TPC (66 on 132 SMs) before a TPC's second
#                  SM fills, and a TPC's bandwidth binds, the time jumps after 66 CTAs (9 splits:
#                  72) and falls back towards 128; a per-SM limit alone gives times that do not
#                  rise with the count. s34's by-grid-size table over n5 / n6
#                  (tools/decode_split_replay.py --by-ctas) already has the TMA rows of 2 and 4
#                  m-tiles losing 1.09-1.14x at 80-96 CTAs and 1.04-1.07x at 104, but n5's
#                  cp.async row of 2 m-tiles (64/8 x 4 contiguous) was fastest at 80 / 88: a cap
#                  per TPC alone does not fit that row
#   d256-sweep-wg  the same counts on the 4-m-tile TMA row (128/8 x 4 tokens, the _wg row), kv 32k
#                  / 128k, contiguous and in pages of 64: the count where its loss starts (72?)
#   d256-half-b1-h200, d256-b4-h200   on an H200 only (none has come since s28): s33's two rules'
#                  cells as n6 timed them on the H100 (the cap's 12 plans beside 10 / 11 / 13 / 16
#                  splits; batch 4 at 2 / 3 / 4 / 6): the H200's d256 plans moved with the rules,
#                  unmeasured
#   placement, placement-test   (s34) `ptxfmha placement --raw`: a read-only kernel of one CTA per
#                  SM (200 KiB of shared memory) at 64, 72, ..., 128, 132 CTAs, each reading its
#                  own 16 MiB (bench/placement_probe.h): the GB/s per grid size, which SMs and TPCs
#                  the CTAs took and how long CTAs sharing a TPC read against CTAs alone; a loss at
#                  80-104 CTAs here is the hardware's, not the split kernel's. Then its GPU test
#                  case (records written, one CTA per SM), never run before
#   resurvey/      the d64 32/32 chunks' contiguous cells, which n6 did not reach (measured in s29
#                  with TMA; cp.async since s30), cuDNN autotuned beside
. bench/devcall.sh
call_begin "$1" "${2:-570}"
shift 2
C="$PWD/build-bench/cub"
part placement 90 .deps/gpu/ptxfmha placement --raw
part placement-test 60 "$T" -tc='gpu placement probe*' -s
bench_cells d256-floor-b4 "$C" "default,s3" \
  "decode/d256/b4/kv(8192|32768|131072)/hq64hkv8/q4/(contig|page64)/"
bench_cells d256-sweep "$C" "default,s9,s10,s11,s12,s13,s14,s15,s16" \
  "decode/d256/b1/kv(32768|131072)/hq32hkv8/q1/(contig|page64)/"
bench_cells d256-sweep-wg "$C" "default,s9,s10,s11,s12,s13,s14,s15,s16" \
  "decode/d256/b1/kv(32768|131072)/hq128hkv8/q4/(contig|page64)/"
if nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200; then
  bench_cells d256-half-b1-h200 "$C" "default,s10,s11,s13,s16" \
    "decode/d256/b1/kv(4096|8192|32768|131072)/(hq64hkv8/q4/page64|hq128hkv8/q4/(contig|page64))/"
  bench_cells d256-b4-h200 "$C" "default,s2,s3,s4,s6" \
    "decode/d256/b4/kv(4096|8192|32768|131072)/hq(64|128)hkv8/q4/(contig|page64)/"
fi
export SURVEY_CACHE=contig SURVEY_DIMS=64
survey_tail resurvey "--ptxfmha_decode_variants=default" '[^/]+/[^/]+' 60 \
  d64_hq32hkv8_q1 d64_hq32hkv8_q4 d64_hq64hkv8_q1 d64_hq64hkv8_q4 d64_hq128hkv8_q1 d64_hq128hkv8_q4
call_end
