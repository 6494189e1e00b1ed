#!/usr/bin/env bash
# s19 call 3 (branch s19-d256-wg; prepared, not run; after r1 and r2 if device time is left):
# where the d256 warpgroup rows' time goes, Nsight Compute of both at 128/8 heads x 4 tokens,
# batch 32, kv 32k, contiguous, and of main's mma.sync row named beside them (k=d256). The
# question for the next lever: does the bf16 row stream (DRAM busy) and is the e4m3 row bound by
# its conversion chain (then: a pipelined loop with two copies, as at d64)?
# Device call: command `bash bench/results/prepared-s19/r3.sh r3 400`, carry as PLAN.md says.
. bench/devcall.sh
call_begin "$1" "${2:-400}"
F=decode/d256/b32/kv32768/hq128hkv8/q4/contig/
ncu_profile wg fmha_decode_d256_wg_sm90a default "$F"
ncu_profile e4m3-wg fmha_decode_d256_e4m3_wg_sm90a e4m3 "$F"
ncu_profile mma fmha_decode_d256_sm90a k=d256 "$F"
call_end
