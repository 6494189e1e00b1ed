#!/usr/bin/env bash
# Prepared in s30 for the next session (not run: s30's device time went to failed starts and the
# cp.async call). After the cp.async merge, s30's machine had the one-token contiguous cells at
# 0.983x-1.003x cuDNN (d128) and pages of 64 (still TMA) at a median 0.983x on d128 32/32.
#   ncu-contig / ncu-page64   Nsight Compute of every kernel of one cell, ours and cuDNN's first
#             plan: d128 b32 kv8k 32/32 x 1 token contiguous (s29's cell: TMA 93.4% of DRAM
#             peak against cuDNN's 94.9-95.2%) and the same cell in pages of 64
#   stalls    ours on the contiguous cell: warp states and stalls per SASS line (does the
#             producer warp's LDGSTS issue hold the CTA?)
#   then survey2's two passes over what is left (pass 1: re-run the d128 chunks measured with TMA
#             where the plain rows now load with cp.async, then d64 / d256)
# Carry: prepared-s23/prepare.sh. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s30/n3.sh n3 570 [-- DONE1..] [--- DONE2..]
. bench/devcall.sh
call_begin "$1" "${2:-570}"
shift 2
ncu_launches ncu-contig "decode/d128/b32/kv8192/hq32hkv32/q1/contig/"
ncu_launches ncu-page64 "decode/d128/b32/kv8192/hq32hkv32/q1/page64/"
ncu_profile stalls 'fmha_decode_d128_sm90a' default "decode/d128/b32/kv8192/hq32hkv32/q1/contig/"
survey_two_pass "$@"
call_end
