#!/usr/bin/env bash
# s44 (an H100 ran prepared-s43/call.sh as n1 first): the second call, on whichever card comes
# (an H200 asked for: the cp.async-vs-TMA and d64 questions of s41 are the H200's).
#   d64-128-8   n1's d64 row A/B again on this card (the plan d64_s3, k=d64, k=d64_h2, s2,
#               k=d64_h2+s2; d64 b32 32/8 and 128/8 x 1 contiguous, kv 8k / 32k)
#   h2-128      the two-heads row against the plan at 128 two-heads units (batch 32 at 8 KV heads,
#               batch 8 at 32: one unit fewer per SM than the rule asks), kv 1k-32k, contiguous and
#               pages of 64; n1 (H100): k=d64_h2 0.977-0.990x the plan's time on 4 of 4 cells
#   d128-wg-b1  the s44 half-wave plan against 13 / 16 splits (n1, H100: 13 1.015-1.072x slower)
#   tma-ab      cp.async (the plan) against TMA boxes, contiguous d64 / d128 (n1, H100: d64 1.000,
#               d128 TMA 1.005x slower)
#   headline    (H200) the headline grid with cuDNN autotuned beside, bf16 and e4m3
# Analysis: tools/decode_ab.py default k=d64_h2 NAME/h2-128.json (and the others as in s43).
# Carry: bench/results/prepared-s23/prepare.sh. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s44/call.sh NAME BUDGET
. bench/devcall.sh
call_begin "$1" "${2:-570}"
shift 2
ab_d64_b32 "default,k=d64,k=d64_h2,s2,k=d64_h2+s2"
bench_cells h2-128 "$PTXFMHA_CUBIN_DIR" "default,k=d64_h2" \
  "decode/d64/(b32/kv(1024|4096|8192|32768)/hq(32|64|128)hkv8/q1|b32/kv(1024|4096|8192|32768)/hq32hkv8/q4|b8/kv(1024|4096|8192|32768)/hq32hkv32/q(1|4))/(contig|page64)/"
ab_d128_wg_b1
ab_tma
if nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200; then
  decode_bench headline 200 "$B" "$PTXFMHA_CUBIN_DIR" --ptxfmha_decode_grid=headline \
    "--ptxfmha_decode_variants=default,e4m3"
fi
call_end
