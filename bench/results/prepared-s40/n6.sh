#!/usr/bin/env bash
# s40 n6 (after n5, H100 2026-12-07 16:47-16:53 UTC): the d128 paged two-heads rule kept to 4k-32k
# keys (n5, the faster H100 kind: median 1.010x at kv 1k, 1.007x at kv 128k, 0.998x between).
#   tests-2h        every two-heads threshold test (bf16 d64, bf16 d128 at max_seqlen_k 4096, e4m3 d64)
#   h2-memcheck     memcheck of the bf16 d128 one
#   resurvey/       n5's chunks again with the plan as it is now (d128 in pages of 64, batch 32-128,
#                   cuDNN autotuned beside; the old one-head row as k=d128)
#   h2-splits       d128 in pages of 64 at kv 128k: the two-heads row at 1 (its plan), 2 and 4
#                   splits against the plan (n5: its single split, 3.9 waves, lost 0.6-1.7%)
# Carry: bench/results/prepared-s23/prepare.sh. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s40/n6.sh n6 BUDGET
. bench/devcall.sh
call_begin "$1" "${2:-570}"
shift 2
part tests-2h 200 "$T" "-tc=*two-heads*"
sanitize memcheck "*bf16 d128 two-heads row*" h2 90
export SURVEY_CACHE=page64 SURVEY_DIMS=128
survey_tail resurvey "--ptxfmha_decode_variants=default,k=d128" 'b(32|64|128)/[^/]+' 60 \
  d128_hq64hkv8_q4 d128_hq128hkv8_q4
bench_cells h2-splits "$PTXFMHA_CUBIN_DIR" "default,k=d128_h2,k=d128_h2+s2,k=d128_h2+s4" \
  "decode/d128/(b32/kv131072/hq32hkv32|b128/kv131072/hq32hkv8|b64/kv131072/hq32hkv8)/q1/page64/"
call_end
