#!/usr/bin/env bash
# Prepared in s31 for the next session (not run: s31's device time went to c1 and n1). s31's c1
# ran branch s30-cpasync-pages (cp.async for paged caches, per-row address arithmetic): correct
# and sanitizer-clean, d128 32/32 in pages of 64 1.2-2.5% faster than main's TMA pages, but 0.67x-
# 0.84x where one CTA per SM carries the bytes (batch 8, 32/8 heads, pages of 64: the producer
# warp's ~12 instructions per pair of LDGSTS). Branch s31-cpasync-pages (fded5bd, merged with
# main at 039d451) puts the paged period on running pointers (about 7 per pair). Parts:
#   tests, san-*   the branch's gpu-decode suite (paged cases: pages of 16 / 32 / 64, ragged,
#                  out-of-range page ids read as zeros) and the three sanitizers
#   a1 b1 .. a3 b3 main and the branch alternating: c1's 78 cells (one-token cells in pages of
#                  16 and 64, d64 / d128 / d256, 32/32 and 32/8, batch 8 / 32 / 128, kv 8k / 32k;
#                  8 contiguous cells: the drift)
#   cudnn-b        the branch with cuDNN autotuned beside, d128 / d64 in pages of 64 and 16
#   then the survey's two passes over what is left (DONE lists from the call's arguments; s31's
#   chunks are below)
# Carry: prepared-s23/prepare.sh, then prepared-s29/prepare-n2.sh s31-cpasync-pages. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s31/c2.sh c2 570 [-- DONE1..] [--- DONE2..]
# Chunks finished on the H100 by s29-s31 (pass 1; pass 2 the same less d64_hq64hkv8_*,
# d64_hq128hkv8_*): d128_* (8), d64_hq32hkv32_q1 d64_hq32hkv32_q4 d64_hq32hkv8_q1
# d64_hq32hkv8_q4 d64_hq64hkv8_q1 d64_hq64hkv8_q4 d64_hq128hkv8_q1 (d64_hq128hkv8_q4 was cut).
. bench/devcall.sh
call_begin "$1" "${2:-570}"
shift 2
CA="$PWD/build-mut/ca"
branch_check "$CA" "decode/(d(64|128|256)/b(8|32|128)/kv(8192|32768)/hq32hkv(32|8)/q1/page(16|64)|d128/b(32|128)/kv(8192|32768)/hq32hkv(32|8)/q1/contig)/" 3
branch_cudnn cudnn-b "$CA" "decode/d(64|128)/b(32|128)/kv(8192|32768)/hq32hkv(32|8)/q1/page(16|64)/"
survey_two_pass "$@"
call_end
