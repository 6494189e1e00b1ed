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
flags="--ptxfmha_decode_variants=default,e4m3"
bkv='[^/]+/[^/]+'
tag=$(printf '%s' "$flags $bkv" | tr -c 'A-Za-z0-9' '_' | cut -c1-60)
mkdir -p "$R/survey"
for c in "$@"; do echo "$c" >> "$R/survey/done-$tag"; done
left=$((START + BUDGET - 25 - $(date +%s)))
SURVEY_MIN_LEFT=100 PTXFMHA_BENCH=$B bash tools/decode-survey.sh "$R/survey" "$left" $flags
call_end
