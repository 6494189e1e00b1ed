#!/usr/bin/env bash
# s29's second call (H100 expected). s1's survey on the H100 had cuDNN ahead by 0.2-2.2% on 59 of
# 348 d128 cells, mostly contiguous 1-token cells where ours reads at 99-100% of the read ceiling
# and cuDNN at 101% (eng8). What moves ours there:
#   promo-*  the K / V maps' L2 promotion (PTXFMHA_DECODE_L2_PROMOTION; 128 B chosen on the H200)
#            over 12 of those cells, 128 / 256 / none / 128 in turn (drift check)
#   rows     the same cells: the plan, 2 and 3 splits forced, the 6-stage and `_ef` d128 rows
#   ncu-b32  Nsight Compute of every kernel of one cell (b32 kv8k 32/32, 1 token, cuDNN's one
#            plan beside ours): launch shape, DRAM and L2 traffic
#   survey   then the full-grid survey (survey.sh's flags) over what is left, chunks done skipped
# Carry: bench/results/prepared-s23/prepare.sh. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s29/r2.sh r2 570 [DONE...]
. bench/devcall.sh
call_begin "$1" "${2:-570}"
shift 2
F="decode/d128/b(8|32|128)/kv(8192|32768)/hq32hkv(32|8)/q1/contig/"
C="$PWD/build-bench/cub"
PTXFMHA_DECODE_L2_PROMOTION=128 bench_cells promo-128a "$C" default "$F"
PTXFMHA_DECODE_L2_PROMOTION=256 bench_cells promo-256 "$C" default "$F"
PTXFMHA_DECODE_L2_PROMOTION=none bench_cells promo-none "$C" default "$F"
PTXFMHA_DECODE_L2_PROMOTION=128 bench_cells promo-128b "$C" default "$F"
bench_cells rows "$C" "default,s2,s3,k=d128_s6,k=d128_ef" "$F"
ncu_launches ncu-b32 "decode/d128/b32/kv8192/hq32hkv32/q1/contig/"
survey_tail survey "--ptxfmha_decode_variants=default,e4m3" '[^/]+/[^/]+' 100 "$@"
call_end
