#!/usr/bin/env bash
# s40 n5 (after n3 / n4, H100 2026-12-07 16:32-16:39 UTC): the plan runs the bf16 d128 two-heads row
# in pages of >= 64 keys where its two-heads grid covers the SMs (decode_prefers_two_heads_bf16;
# n3: 0.977-0.986x the plan's time on 5 paged cells).
#   tests           the gpu-decode suite (the new d128 threshold test among it)
#   h2-memcheck     memcheck of the bf16 d128 two-heads threshold test
#   resurvey/       the d128 chunks in pages of 64 at batch 32-128 with cuDNN autotuned beside:
#                   the plan (default) and the one-head row it ran before (k=d128); 32/32, 32/8 x 1
#                   and 4 tokens, 64/8 and 128/8 x 1 (their 4-token chunks have 32 / 64 rows: not
#                   moved, seeded as done)
#   sweep-*         where the d64 / d128 contiguous misses could go: split counts and the two-heads
#                   rows forced on d64 b32 128/8 x 1 (256 one-head CTAs, 0.943-0.985x cuDNN), d64 b8
#                   32/32 x 1 (0.968-0.984x) and d128 b64 32/32 x 4 (0.973-0.979x)
# Carry: bench/results/prepared-s23/prepare.sh. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s40/n5.sh n5 BUDGET
. bench/devcall.sh
call_begin "$1" "${2:-570}"
shift 2
part tests 300 "$T" -ts=gpu-decode
sanitize memcheck "*bf16 d128 two-heads row*" h2 90
export SURVEY_CACHE=page64 SURVEY_DIMS=128
survey_tail resurvey "--ptxfmha_decode_variants=default,k=d128" \
  'b(32|64|128)/[^/]+' 60 d128_hq64hkv8_q4 d128_hq128hkv8_q4
bench_cells sweep-d64 "$PTXFMHA_CUBIN_DIR" "default,s2,s4,k=d64_h2,k=d64_h2+s2" \
  "decode/d64/(b32/kv(4096|8192|32768)/hq128hkv8|b8/kv(8192|32768)/hq32hkv32)/q1/contig/"
bench_cells sweep-d128 "$PTXFMHA_CUBIN_DIR" "default,s2,k=d128_h2,k=d128_h2+s2" \
  "decode/d128/b64/kv(4096|8192|32768)/hq32hkv32/q4/contig/"
call_end
