#!/usr/bin/env bash
# s31's first call (ran 2026-12-06 16:42-16:50 UTC, results in bench/results/h100-2026-12-06-s31/c1):
#   tests, san-*, a1 b1 .. a3 b3, cudnn-b   prepared-s30/pg.sh's parts: branch s30-cpasync-pages
#             (cp.async for paged caches) on the GPU: its gpu-decode suite and the three
#             sanitizers, main and the branch alternating three times on one-token cells in
#             pages of 16 and 64 (and 8 contiguous ones, unchanged: the drift), cuDNN beside it
#   ncu-contig   prepared-s30/n3.sh's first part: Nsight Compute of every kernel of d128 b32 kv8k
#             32/32 x 1 token contiguous, ours (cp.async, merged) and cuDNN's first plan
#   ncu-page64-b the same cell in pages of 64 with the branch's bench and cubins
#   stalls-d128  ours on the contiguous cell: warp states and stalls per SASS line (does the
#             producer warp's LDGSTS issue, or its wait for empty stages, hold the CTA?)
#   stalls-d64   ours on d64 b128 kv32k 32/8 x 1 token contiguous (0.970x cuDNN in s30, 94.2% of
#             the ceiling): warp states and stalls per SASS line (producer issue or consumers?)
#   then the survey's two passes over what is left (DONE lists from the call's arguments)
# Carry: prepared-s23/prepare.sh, then prepared-s29/prepare-n2.sh s30-cpasync-pages. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s31/c1.sh c1 570 [-- DONE1..] [--- DONE2..]
. bench/devcall.sh
call_begin "$1" "${2:-570}"
shift 2
pages_ab "$PWD/build-mut/ca"
ncu_launches ncu-contig "decode/d128/b32/kv8192/hq32hkv32/q1/contig/"
CA="$PWD/build-mut/ca"
B="$CA/bin/ptxfmha_bench" PTXFMHA_CUBIN_DIR="$CA/cub" ncu_launches ncu-page64-b "decode/d128/b32/kv8192/hq32hkv32/q1/page64/"
ncu_profile stalls-d128 'fmha_decode_d128_sm90a' default "decode/d128/b32/kv8192/hq32hkv32/q1/contig/"
ncu_profile stalls-d64 'fmha_decode_d64(_s3)?_sm90a' default "decode/d64/b128/kv32768/hq32hkv8/q1/contig/"
survey_two_pass "$@"
call_end
