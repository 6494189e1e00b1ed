#!/usr/bin/env bash
# s39 n4 (prepared, not run in s39), after n3: the d64 chunks the two-heads rule moves
# (decode_prefers_two_heads_bf16: batch 32-128 at >= SMs two-heads units, contiguous and pages of
# 64, <= 16 rows per head) with cuDNN autotuned beside: 32/32 x 1 and 4, 32/8 x 1 and 4, 64/8 x 1,
# 128/8 x 1 tokens (the q4 chunks of 64/8 and 128/8 are 32 / 64 rows: not moved, seeded as done),
# 180 cells. tools/decode_targets.py --cells over s35's inputs plus resurvey/*.json (later runs
# win) restates the table. Carry: bench/results/prepared-s23/prepare.sh. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s39/n4.sh n4 BUDGET
. bench/devcall.sh
call_begin "$1" "${2:-570}"
shift 2
export SURVEY_CACHE='(contig|page64)' SURVEY_DIMS=64
survey_tail resurvey "--ptxfmha_decode_variants=default" 'b(32|64|128)/[^/]+' 60 \
  d64_hq64hkv8_q4 d64_hq128hkv8_q4
call_end
