#!/usr/bin/env bash
# s42's last device seconds (254 left after eight failed starts): n9's two A/Bs alone, on
# whichever card comes (ours only, no cuDNN; prepared-s41/n9.sh says why each):
#   d64-128-8  d64 batch 32, 128/8 and 32/8 x 1 contiguous, kv 8k / 32k: the plan, k=d64 (4 stages),
#              k=d64_h2 (two heads), s2
#   tma-ab     the cp.async producer (the plan) against TMA boxes (`tma`) on contiguous d64 / d128
#              cells, 32/8 and 128/8 x 1, batch 8 / 32 / 128, kv 8k / 32k
# Carry: bench/results/prepared-s23/prepare.sh. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s42/short.sh NAME BUDGET
. bench/devcall.sh
call_begin "$1" "${2:-130}"
bench_cells d64-128-8 "$PTXFMHA_CUBIN_DIR" "default,k=d64,k=d64_h2,s2" \
  "decode/d64/b32/kv(8192|32768)/hq(128|32)hkv8/q1/contig/"
bench_cells tma-ab "$PTXFMHA_CUBIN_DIR" "default,tma" \
  "decode/(d64|d128)/b(8|32|128)/kv(8192|32768)/hq(32|128)hkv8/q1/contig/"
call_end
