#!/usr/bin/env bash
# s21 call 3 (branch s21-d256-qgmma; prepared, not run; optional, after r1 / r2): where the
# _e4m3_wg rows' time goes. Nsight Compute (speed of light, pipes, warp states, stalls per SASS
# line) at 128/8 x 4 tokens, batch 32, kv 32k, contiguous: the d256 pipelined row beside the
# serial _e4m3_wgs row and the bf16 d256 _wg row, and s20's profile of the d64 / d128 rows.
# Then the d256 e4m3 one-m-tile row (fmha_decode_d256_e4m3, mma.sync) at 32/8 x 1 token, batch 32,
# kv 32k, in pages of 16 against contiguous: its e4m3 time is 1.21x-1.27x the contiguous one's in
# pages of 16 (s16 survey, 1192.7 against 980.5 us at batch 8 kv 32k 32/32), pages of 64 and the
# bf16 row equal to contiguous: 68 of the 132 fp8 misses at <= 16 packed rows are d256 pages of
# 16. Which unit waits (the producer's TMA issue, the boxes in flight, the consumers)? Beside it
# two rows that keep up in pages of 16: bf16 d128 on the same heads, batch and kv (the same
# 4.29 GB and the same byte pattern: 256 bytes per key and head, 2 KiB boxes, 16 per 32 KiB
# tile, 192 KiB of ring per SM; s20 survey: 977.5 us in pages of 16 against 959.5 contiguous,
# where the e4m3 d256 row runs 1201.5 against 938.7), whose SM holds two CTAs (two producers,
# 8 consumer warps) instead of one; and bf16 d256 (one CTA per SM as e4m3 d256, half the tiles
# and page lookups per byte). Last, if the budget allows, the same cell at pages of 16 / 32 / 64
# / 128 keys (the bench's pN variants, s22: boxes of 16, 32, 64 and 64 keys over the same bytes),
# bf16 and e4m3 at d256 and bf16 d128: a cost per box or per page lookup grows 4x from 64 to 16.
# Carry as r1 without build-mut.
# Device call: command `bash bench/results/prepared-s21/r3.sh r3 570`.
. bench/devcall.sh
call_begin "$1" "${2:-570}"
F=decode/d%s/b32/kv32768/hq128hkv8/q4/contig/
ncu_profile e4m3-d256 fmha_decode_d256_e4m3_wg_sm90a e4m3 "$(printf $F 256)"
ncu_profile e4m3s-d256 fmha_decode_d256_e4m3_wgs_sm90a e4m3+k=d256_e4m3_wgs "$(printf $F 256)"
ncu_profile bf16-d256 fmha_decode_d256_wg_sm90a default "$(printf $F 256)"
ncu_profile e4m3-d64 fmha_decode_d64_e4m3_wg_sm90a e4m3 "$(printf $F 64)"
ncu_profile e4m3-d128 fmha_decode_d128_e4m3_wg_sm90a e4m3 "$(printf $F 128)"
ncu_profile e4m3-d256-p16 fmha_decode_d256_e4m3_sm90a e4m3 decode/d256/b32/kv32768/hq32hkv8/q1/page16/
ncu_profile e4m3-d256-contig fmha_decode_d256_e4m3_sm90a e4m3 decode/d256/b32/kv32768/hq32hkv8/q1/contig/
ncu_profile bf16-d256-p16 fmha_decode_d256_sm90a default decode/d256/b32/kv32768/hq32hkv8/q1/page16/
ncu_profile bf16-d128-p16 fmha_decode_d128_sm90a default decode/d128/b32/kv32768/hq32hkv8/q1/page16/
bench_cells pages "$PWD/build-bench/cub" default,p32,p64,p128,e4m3,e4m3+p32,e4m3+p64,e4m3+p128 \
  "decode/d(128|256)/b32/kv32768/hq32hkv8/q1/page16/"
call_end
