#!/usr/bin/env bash
# s44 n3 (after n1 / n2 on an H100): the two plan changes of s44 as the library runs them.
#   (order: h2-plan, tests, h2-128k, cudnn: a short call still times the moved plan)
#   tests       the two-heads threshold cases (d64 over 300 keys, d64 near a wave at 8k keys: the new
#               rule's turn at batch 32, d128 in pages) and the variants case
#   h2-plan     the 24 cells the near-wave rule moves (d64, 128 two-heads units, kv 8k / 32k,
#               contiguous and pages of 64): the plan (now _h2) against k=d64_s3 (the old plan's row)
#   h2-128k     the same grids at kv 128k (left out of the rule, not measured): default against k=d64_h2
#   cudnn       the moved cells (these 24 and the 4 of the d128 _wg half-wave rule) with cuDNN autotuned
# On an H200 first the open H200 questions: the d64 A/B (the old plan's row k=d64_s3 against the
# plan, now _h2 on these cells, the 4-stage row and two splits), cp.async against TMA (`tma`), and
# the d128 _wg half-wave plan against 13 / 16 splits.
# Carry: bench/results/prepared-s23/prepare.sh. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s44/n3.sh NAME BUDGET
. bench/devcall.sh
call_begin "$1" "${2:-570}"
shift 2
if nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200; then
  ab_d64_b32 "default,k=d64_s3,k=d64,s2"
  ab_tma
  ab_d128_wg_b1
fi
H2='decode/d64/(b32/kv(8192|32768|131072)/hq(32|64|128)hkv8/q1|b32/kv(8192|32768|131072)/hq32hkv8/q4|b8/kv(8192|32768|131072)/hq32hkv32/q(1|4))/(contig|page64)/'
bench_cells h2-plan "$PTXFMHA_CUBIN_DIR" "default,k=d64_s3" "${H2//|131072/}"
part tests 150 "$T" -ts=gpu-decode "-tc=*short of a wave*,*two-heads row*,gpu decode variants*"
bench_cells h2-128k "$PTXFMHA_CUBIN_DIR" "default,k=d64_h2" "${H2//8192|32768|/}"
decode_bench cudnn 240 "$B" "$PTXFMHA_CUBIN_DIR" "--ptxfmha_decode_variants=default" \
  "--benchmark_filter=(${H2//|131072/}|decode/d128/b1/kv(4096|8192)/hq128hkv8/q4/(contig|page64)/)"
call_end
