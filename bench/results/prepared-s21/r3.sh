#!/usr/bin/env bash
# s21 call 3 (branch s21-d256-qgmma; prepared, not run; after r1 / r2): where the time goes, and
# the s22 producer change's A/B. In this order (what the budget leaves out is "skipped" in
# parts.txt):
#   e4m3-d256   Nsight Compute (speed of light, pipes, warp states, stalls per SASS line) of the
#               d256 pipelined _e4m3_wg row at 128/8 x 4 tokens, batch 32, kv 32k, contiguous
#   ab*         the producer's boxes issued by the elect.sync lane (this tree, build-bench/cub)
#               against the lane-0 branch with a per-lane loop around every TMA (build-old/lane0:
#               the form before s22), a b a b in four bench processes, bf16 and e4m3: d256 and
#               d128 at 32/8 x 1 token, batch 32, kv 32k in pages of 16 (e4m3 d256 runs there at
#               3.4-3.6 TB/s, 1.21x-1.27x its contiguous time, where bf16 d128 on the same bytes
#               and boxes keeps up), d256 contiguous (the producer's 4 boxes a tile in pages of
#               16, 1 contiguous), the bf16 d64 _wg row's worst ceiling misses (128/8 x 4 tokens,
#               kv 8k, batch 8 / 64, pages of 16). Kept (PLAN.md) only if no cell is slower by > 2%
#   *-p16 / -contig   Nsight Compute of the e4m3 d256 one-m-tile row in pages of 16 and
#               contiguous, of bf16 d256 and bf16 d128 in pages of 16 on the same cell (which unit
#               waits: a producer that seldom waits in WAIT_EMPTY in pages of 16 is the limit)
#   e4m3s-d256, bf16-d256, e4m3-d64, e4m3-d128   the serial d256 row, bf16 d256 _wg and the d64 /
#               d128 _e4m3_wg rows on the 64-row cell of the first profile
#   pages       the pages-of-16 cells in pages of 16 / 32 / 64 / 128 keys (the bench's pN
#               variants, s22), bf16 and e4m3: a cost per box or page lookup shows as time that
#               grows from 64 to 16
# Carry: [".deps/gpu/ptxfmha_bench", ".deps/gpu/ptxfmha_tests", ".deps/benchmark",
# "build-bench/cub", "build-bench/cubin-bench", "build-old"] (prepare.sh prints its bytes).
# Since s23 r1 runs the A/B's first round (ab-new1, ab-old1); this call the second.
# Device call: command `bash bench/results/prepared-s21/r3.sh r3 570`.
. bench/devcall.sh
call_begin "$1" "${2:-570}"
F=decode/d%s/b32/kv32768/hq128hkv8/q4/contig/
NEW=$PWD/build-bench/cub OLD=$PWD/build-old/lane0
AB="decode/(d256/b32/kv32768/hq32hkv8/q1/(page16|contig)|d128/b32/kv32768/hq32hkv8/q1/page16|d64/b(8|64)/kv8192/hq128hkv8/q4/page16)/"
P16=decode/d%s/b32/kv32768/hq32hkv8/q1/page16/
ncu_profile e4m3-d256 fmha_decode_d256_e4m3_wg_sm90a e4m3 "$(printf $F 256)"
bench_cells ab-new2 "$NEW" default,e4m3 "$AB"
bench_cells ab-old2 "$OLD" default,e4m3 "$AB"
ncu_profile e4m3-d256-p16 fmha_decode_d256_e4m3_sm90a e4m3 "$(printf $P16 256)"
ncu_profile e4m3-d256-contig fmha_decode_d256_e4m3_sm90a e4m3 decode/d256/b32/kv32768/hq32hkv8/q1/contig/
ncu_profile bf16-d256-p16 fmha_decode_d256_sm90a default "$(printf $P16 256)"
ncu_profile bf16-d128-p16 fmha_decode_d128_sm90a default "$(printf $P16 128)"
ncu_profile e4m3s-d256 fmha_decode_d256_e4m3_wgs_sm90a e4m3+k=d256_e4m3_wgs "$(printf $F 256)"
ncu_profile bf16-d256 fmha_decode_d256_wg_sm90a default "$(printf $F 256)"
ncu_profile e4m3-d64 fmha_decode_d64_e4m3_wg_sm90a e4m3 "$(printf $F 64)"
ncu_profile e4m3-d128 fmha_decode_d128_e4m3_wg_sm90a e4m3 "$(printf $F 128)"
bench_cells pages "$NEW" default,p32,p64,p128,e4m3,e4m3+p32,e4m3+p64,e4m3+p128 \
  "decode/d(128|256)/b32/kv32768/hq32hkv8/q1/page16/"
call_end
