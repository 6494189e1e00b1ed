#!/usr/bin/env bash
# Prepared for the session after s29 (not run in s29: its device time went to the H100 survey and
# the box / promotion A/Bs). s29's H100 survey (bench/results/h100-2026-12-06-s29/targets.md):
# the batch-1 misses are fixed costs that grow with the packed rows (d128 kv 4k contiguous: 1
# token 32/8 0.4 us over the read time, 4 tokens 32/8 (16 rows) 2.4, 64/8 (32 rows) 4.4, 128/8
# (64 rows, _wg) 5.9), and the batch-8 kv-8k cells of 32-64 rows miss 95% of the ceiling (85-95%).
# The partials' round trip grows with the rows (64 rows x 13 splits x 128 x 4 B per KV head:
# 3.4 MB written and read back against 16.8 MB of K and V at kv 4k): the cluster merge (`cl`,
# rejected on the H200 at 1 token, s3) has never been timed at 32-64 rows. Cells: d128 / d64,
# 64/8 and 128/8 heads x 4 tokens, batch 1 (kv 4k / 8k / 32k) and batch 8 (kv 8k), contiguous
# and pages of 16. Items: the plan, `cl` (the plan's count as a cluster where it fits), `cl+s8`,
# `cl+s16`, `nocl+s8`, `nocl+s16`, `s24`, `s33`. Then the survey's remaining chunks.
# Carry: bench/results/prepared-s23/prepare.sh. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s29/n1.sh n1 570 [DONE CHUNKS...]
. bench/devcall.sh
call_begin "$1" "${2:-570}"
shift 2
C="$PWD/build-bench/cub"
bench_cells rows-b1 "$C" "default,cl,cl+s8,cl+s16,nocl+s8,nocl+s16,s24,s33" \
  "decode/d(64|128)/b1/kv(4096|8192|32768)/hq(64|128)hkv8/q4/(contig|page16)/"
bench_cells rows-b8 "$C" "default,cl,cl+s2,cl+s4,s2,s4,s8" \
  "decode/d(64|128)/b8/kv8192/hq(64|128)hkv8/q4/(contig|page16)/"
flags="--ptxfmha_decode_variants=default,e4m3"
tag=$(printf '%s' "$flags [^/]+/[^/]+" | tr -c 'A-Za-z0-9' '_' | cut -c1-60)
mkdir -p "$R/survey"
for c in "$@"; do echo "$c" >> "$R/survey/done-$tag"; done
left=$((START + BUDGET - 25 - $(date +%s)))
SURVEY_MIN_LEFT=100 PTXFMHA_BENCH=$B bash tools/decode-survey.sh "$R/survey" "$left" $flags
call_end
