#!/usr/bin/env bash
# Ran 2026-12-06 20:50-20:59 UTC (s33) on an H100: bench/results/h100-2026-12-06-s33/dst (merged).
# Prepared in s32 (not run): branch s32-dst (3501454), the decode producer's stage address (%dst)
# computed once at PRODUCER_ISSUE for the cp.async and the TMA path (a review item since s30).
# Its SASS differs from main's in 34 decode cubins (sm90a and sm100a: instruction order), so it
# runs before it is merged:
#   tests, san-*   the branch's gpu-decode suite and the three sanitizers on the decode shapes
#   a1 b1 .. a3 b3 main and the branch alternating on 24 cells: d64 / d128 / d256, batch 32 kv 8k,
#                  32/8 and 128/8 heads, 1 and 4 tokens, contiguous (cp.async / TMA `_wg`) and
#                  pages of 64 (TMA); expected within the drift (+-0.5%)
# then the survey tail as n5.sh's.
# Carry: prepared-s23/prepare.sh, then prepared-s29/prepare-n2.sh s32-dst. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s32/dst.sh dst 570 [-- DONE1..] [--- DONE2..]
. bench/devcall.sh
call_begin "$1" "${2:-570}"
shift 2
branch_check "$PWD/build-mut/ca" "decode/d(64|128|256)/b32/kv8192/hq(32|128)hkv8/q(1|4)/(contig|page64)/" 3
survey_two_pass "$@"
call_end
