#!/usr/bin/env bash
# s29: the full decode grid (2160 cells) on the GPU the tool lends (an H100 in s24-s28), so that
# issue 17's targets ("on the H200 or H100") have a whole table on one device: every chunk of
# tools/decode-survey.sh with cuDNN autotuned beside ours (bf16 cache) and the e4m3 variant
# (plan's e4m3 row) on every cell, the read ceiling in the same process. Resumable over calls:
# the chunks earlier calls finished are named on the command line and seeded into the done file.
# Carry: bench/results/prepared-s23/prepare.sh. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s29/survey.sh RUN BUDGET [DONE...]
. bench/devcall.sh
call_begin "$1" "${2:-550}"
shift 2
survey_tail survey "--ptxfmha_decode_variants=default,e4m3" '[^/]+/[^/]+' 100 "$@"
call_end
