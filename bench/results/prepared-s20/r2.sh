#!/usr/bin/env bash
# s20 call 2 (branch s20-e4m3-qk; prepared, not run; after r1): s18's call after
# (bench/results/prepared-s18/r2 on branch s18-e4m3-qk): where the d64 / d128 _e4m3_wg rows'
# time goes now that only V is converted (d64 at 52-68% of the e4m3 read ceiling, d128 68-79%,
# s17): Nsight Compute (speed of light, pipes with their details, warp states, stalls per
# instruction) of both rows at 128/8 x 4 tokens, batch 32, kv 32k, contiguous, and of the bf16
# _wg row of d64 beside them. The question for the next lever: is the row bound by a pipe
# (MUFU's exp2 and the conversions: FA4 moves part of exp2 to the FMA pipe) or by its chain
# (waits on the copy barrier, the conversion's loads, the QK)? Carry as r1 without build-mut.
# Device call: command `bash bench/results/prepared-s20/r2.sh r2 400`.
. bench/devcall.sh
call_begin "$1" "${2:-400}"
F=decode/d%s/b32/kv32768/hq128hkv8/q4/contig/
ncu_profile e4m3-d64 fmha_decode_d64_e4m3_wg_sm90a e4m3 "$(printf $F 64)"
ncu_profile e4m3-d128 fmha_decode_d128_e4m3_wg_sm90a e4m3 "$(printf $F 128)"
ncu_profile bf16-d64 fmha_decode_d64_wg_sm90a default "$(printf $F 64)"
call_end
