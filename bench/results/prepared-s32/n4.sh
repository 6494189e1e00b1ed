#!/usr/bin/env bash
# Ran in s32 (2026-12-06 18:33-18:41 UTC, H100): bench/results/h100-2026-12-06-s32/n4.
# Prepared in s32: forced split counts where s31's cap (`decode_rows_split_cap`: bf16, d64 / d128,
# >= 32 packed rows per CTA, fewer units than SMs, kv <= 32k: at most sms / units splits) was
# not measured.
#   rows-b4     batch 4 (32 KV-head units): the cap plans 4 splits (one CTA per SM); 2, 6, 8, 12
#               beside it. d64 / d128, 64/8 and 128/8 heads x 4 tokens, kv 4k / 8k / 32k,
#               contiguous and pages of 16.
#   rows-b1-128k batch 1 at kv 128k, outside the cap's kv bound (the plan takes 16-49 splits):
#               16, 24, 33 beside it.
# Then the survey's remaining chunks (two passes).
# Carry: bench/results/prepared-s23/prepare.sh. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s32/n4.sh n4 570 [-- DONE1...] [--- DONE2...]
. bench/devcall.sh
call_begin "$1" "${2:-570}"
shift 2
C="$PWD/build-bench/cub"
bench_cells rows-b4 "$C" "default,s2,s6,s8,s12" \
  "decode/d(64|128)/b4/kv(4096|8192|32768)/hq(64|128)hkv8/q4/(contig|page16)/"
bench_cells rows-b1-128k "$C" "default,s16,s24,s33" \
  "decode/d(64|128)/b1/kv131072/hq(64|128)hkv8/q4/(contig|page16)/"
survey_two_pass "$@"
call_end
