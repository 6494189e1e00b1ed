#!/usr/bin/env bash
# Prepared in s30 (not run: no device time left): branch s30-cpasync-pages, the plain bf16 rows'
# cp.async producer for paged caches too (CA_PAGED: each 8-row period's page found once from the
# lanes' cached block-table window, its rows copied as the contiguous path does; page ids >= the
# page count read as zeros from a clamped address; the parameter block grows to 640 bytes for
# that count). Why: on s30's machine the d128 32/32 one-token cells in pages of 64 (TMA) sat at a
# median 0.983x cuDNN against 0.996x for the contiguous ones with cp.async. Parts:
#   tests, san-*   the branch's gpu-decode suite (its paged cases: pages of 16 / 32 / 64, ragged,
#                  out-of-range page ids read as zeros) and the three sanitizers
#   a1 b1 .. a3 b3 main and the branch alternating: one-token cells in pages of 16 and 64 (d64 /
#                  d128 / d256, 32/32 and 32/8 heads, batch 8 / 32 / 128, kv 8k / 32k) and 8
#                  contiguous cells (unchanged: the drift)
#   cudnn-b        the branch with cuDNN autotuned beside, d128 / d64 in pages of 64 and 16
# s31 ran these parts on s30-cpasync-pages (prepared-s31/c1.sh): correct, not faster where one CTA
# per SM carries the bytes. Next: the same call on branch s31-cpasync-pages (running pointers).
# s32 ran it on s31-cpasync-pages (2026-12-06 18:41-18:49 UTC, bench/results/h100-2026-12-06-s32/pg):
# correct, and no faster than s30's branch (pages of 64 0.971, pages of 16 0.991): not merged.
# Carry: prepared-s23/prepare.sh, then prepared-s29/prepare-n2.sh s31-cpasync-pages. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s30/pg.sh pg 570 [-- DONE1..] [--- DONE2..]
. bench/devcall.sh
call_begin "$1" "${2:-570}"
shift 2
pages_ab "$PWD/build-mut/ca"
survey_two_pass "$@"
call_end
