#!/usr/bin/env bash
# s40 n7 (prepared, not run: no device time left): after n6 (2026-12-07 17:09 UTC, H100 of the
# faster kind, read ceiling ~3.18 TB/s; n3 / n4 ran on the slower, ~3.08).
#   h2-memcheck     memcheck of the bf16 d128 two-heads threshold test to its end (n6's stopped at
#                   its 90 s limit: 4,096-key caches under memcheck)
#   resurvey/       the contiguous d64 and d128 chunks at batch 8-128 with cuDNN autotuned beside,
#                   the plan as merged: d128 contiguous misses 0-3% on either kind (s40 NOTES), d64
#                   contiguous's last cuDNN runs predate s39's rule on the faster kind; when.txt /
#                   gpu-q.txt say which kind this card is
# Carry: bench/results/prepared-s23/prepare.sh. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s40/n7.sh n7 BUDGET
. bench/devcall.sh
call_begin "$1" "${2:-570}"
shift 2
sanitize memcheck "*bf16 d128 two-heads row*" h2 300
export SURVEY_CACHE=contig SURVEY_DIMS="128 64"
survey_tail resurvey "--ptxfmha_decode_variants=default" 'b(8|32|64|128)/[^/]+' 60
call_end
