#!/usr/bin/env bash
# s41 n9 (prepared after n8 on an H200, the first since s28; NOT RUN: one try was taken back
# mid-call, then no device was lent for the rest of s41): the decode plan as merged, on the H200.
#   headline   the headline decode grid (d128 32/8 at every batch x kv, then one axis at a time at
#              batch 1 / 8 / 64), bf16 with cuDNN autotuned beside and e4m3 (ours and the ceiling)
#   d64-128-8  d64 batch 32, 128/8 and 32/8 x 1 contiguous, kv 8k / 32k (n8: 128/8 our row 97.5% of
#              the ceiling where one-warp cp.async probes read 100.8%, 0.979x cuDNN): the plan's
#              d64_s3 (3 stages, 256 CTAs), the 4-stage d64 row, the two-heads row and 2 splits,
#              ours only
#   tma-ab     the cp.async producer (the plan) against TMA boxes (`tma`, DecodeOverrides::tma) in one
#              process, contiguous d64 / d128 x 32/8, 128/8 x 1, batch 8 / 32 / 128, kv 8k / 32k:
#              cp.async was merged on H100 numbers (s30: d64 0.998-1.010x); the H200's s16 table
#              had d64 b32 kv 8k 128/8 at 99.0-99.4% of the ceiling on TMA, n8 97.5% on cp.async
# s42: the two A/Bs first (the questions a lever hangs on), then the headline grid; device starts
# failed at 180 s of device time each, so a shorter BUDGET may cut the tail.
#   survey/    the full grid's d128 chunks (tools/decode-survey.sh: 90 cells each, cuDNN beside) in
#              the time left; chunks already done on this run's card are named after BUDGET
# Carry: bench/results/prepared-s23/prepare.sh. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s41/n9.sh n9 BUDGET [DONE_CHUNK...]
. bench/devcall.sh
call_begin "$1" "${2:-570}"
shift 2
bench_cells d64-128-8 "$PTXFMHA_CUBIN_DIR" "default,k=d64,k=d64_h2,s2" \
  "decode/d64/b32/kv(8192|32768)/hq(128|32)hkv8/q1/contig/"
bench_cells tma-ab "$PTXFMHA_CUBIN_DIR" "default,tma" \
  "decode/(d64|d128)/b(8|32|128)/kv(8192|32768)/hq(32|128)hkv8/q1/contig/"
decode_bench headline 200 "$B" "$PTXFMHA_CUBIN_DIR" --ptxfmha_decode_grid=headline \
  "--ptxfmha_decode_variants=default,e4m3"
export SURVEY_DIMS=128
survey_tail survey "--ptxfmha_decode_variants=default" '[^/]+/[^/]+' 90 "$@"
call_end
