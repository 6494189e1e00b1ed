#!/usr/bin/env bash
# s43 (prepared; no device was lent in s43): whichever card the tool lends. First what this
# session changed and could not run, then n9's A/Bs with one variant more, then the card's own
# plan (an H200: n9's headline grid and d128 survey chunks; an H100: n7's memcheck and the
# contiguous re-survey).
#   tests       the GPU cases over the launch's parameter block (b801373 / 1db8811: the cp.async
#               cache pointers are passed on plan.cpasync; 1dc62cb: the `tma` override's case in
#               "gpu decode variants"), the contiguous, cluster and wide-twin cases
#   d64-128-8   d64 batch 32, 128/8 and 32/8 x 1 contiguous, kv 8k / 32k, ours only: the plan
#               (d64_s3, 256 CTAs), k=d64 (4 stages), k=d64_h2 (two heads, 128 CTAs), s2 (two
#               splits, 512 CTAs), and new k=d64_h2+s2 (two heads at two splits: 256 CTAs reading
#               256 contiguous bytes per key; the two-heads row reads 98.3-100.2% of the ceiling at
#               batch 64 on the H100, where its grid is 256 CTAs, s40)
#   d128-wg-b1  (added in s44, no device then either) the d128 _wg half-wave plan (8 splits, 64
#               CTAs) as the library runs it, beside the model's 13 and a full wave (16), batch 1
#               128/8 x 4 tokens, kv 4k / 8k, contiguous and pages of 64 (the forced counts it
#               was set from: s36 n8, H100); pages of 16 (not moved) as the control
#   tma-ab      the cp.async producer (the plan) against TMA boxes (`tma`) on contiguous d64 / d128
#               cells, 32/8 and 128/8 x 1, batch 8 / 32 / 128, kv 8k / 32k
# The read ceiling of each JSON says the card's kind (H100 ~3.08 / ~3.18 TB/s, H200 ~4.53 / ~4.64:
# bench/DECODE_NOTES.md s40, s43); compare only within the call. Analysis:
#   tools/decode_ab.py default k=d64_h2+s2 NAME/d64-128-8.json (and k=d64, k=d64_h2, s2)
#   tools/decode_ab.py default tma NAME/tma-ab.json
#   tools/decode_ab.py default s13 NAME/d128-wg-b1.json (and s16)
# Carry: bench/results/prepared-s23/prepare.sh. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s43/call.sh NAME BUDGET
. bench/devcall.sh
call_begin "$1" "${2:-570}"
shift 2
part tests 150 "$T" -ts=gpu-decode \
  "-tc=gpu decode variants*,decode gpu: contiguous cache*,decode gpu: cluster merge*,decode gpu: the wide d64 twin*"
bench_cells d64-128-8 "$PTXFMHA_CUBIN_DIR" "default,k=d64,k=d64_h2,s2,k=d64_h2+s2" \
  "decode/d64/b32/kv(8192|32768)/hq(128|32)hkv8/q1/contig/"
bench_cells d128-wg-b1 "$PTXFMHA_CUBIN_DIR" "default,s13,s16" \
  "decode/d128/b1/kv(4096|8192)/hq128hkv8/q4/(contig|page64|page16)/"
bench_cells tma-ab "$PTXFMHA_CUBIN_DIR" "default,tma" \
  "decode/(d64|d128)/b(8|32|128)/kv(8192|32768)/hq(32|128)hkv8/q1/contig/"
if nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200; then
  decode_bench headline 200 "$B" "$PTXFMHA_CUBIN_DIR" --ptxfmha_decode_grid=headline \
    "--ptxfmha_decode_variants=default,e4m3"
  export SURVEY_DIMS=128
  survey_tail survey "--ptxfmha_decode_variants=default" '[^/]+/[^/]+' 90 "$@"
else
  sanitize memcheck "*bf16 d128 two-heads row*" h2 300
  export SURVEY_CACHE=contig SURVEY_DIMS="128 64"
  survey_tail resurvey "--ptxfmha_decode_variants=default" 'b(8|32|64|128)/[^/]+' 60 "$@"
fi
call_end
