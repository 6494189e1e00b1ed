#!/usr/bin/env bash
# The full decode grid (2160 cells, bench/bench_case.h) in resumable chunks, within a deadline.
#
#   tools/decode-survey.sh OUTDIR SECONDS [BENCH FLAGS...]
#
# One chunk = one head dim x heads pair x query-token count (90 cells: 6 batches x 5 KV lengths
# x 3 caches), run as one ptxfmha_bench process over `--ptxfmha_decode_grid=full` filtered to
# it, with `--ptxfmha_timing=graph --ptxfmha_samples=4 --ptxfmha_batch_ms=2` and the given
# flags (e.g. `--ptxfmha_cudnn=0` for ptx-fmha and the read ceiling only; a later flag of the
# same name wins). Each chunk writes OUTDIR/<chunk>.json and <chunk>.txt; a chunk that finishes
# (exit 0) is appended to OUTDIR/done-<flags tag>, and a later call with the same OUTDIR and flags
# skips it, so the grid can be covered over several device calls or sessions. No chunk starts
# with less than SURVEY_MIN_LEFT (90) seconds left of SECONDS; a running chunk is stopped at the
# deadline (its JSON is then missing; its .txt keeps the cells done). OUTDIR/chunks.txt logs the
# chunks with times. tools/decode_targets.py reads the JSON files (of several calls) together.
#
# Environment: PTXFMHA_BENCH (default build/bin/ptxfmha_bench), SURVEY_DIMS (head dims in order,
# default "128 64 256"), SURVEY_BATCH_KV (regex of the batch/kv part of a cell's name, default
# every batch and length; e.g. 'b(8|32|64|128)/kv(8192|32768|131072)' for the fp8 target's
# cells), SURVEY_CACHE (regex of the cache part: contig, page16, page64; default every cache; a
# survey with it keeps its own done file, its name first in the tag), SURVEY_MIN_LEFT.
set -u
if [ $# -lt 2 ]; then
  sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
fi
out=$1
seconds=$2
shift 2
bench=${PTXFMHA_BENCH:-build/bin/ptxfmha_bench}
dims=${SURVEY_DIMS:-128 64 256}
batch_kv=${SURVEY_BATCH_KV:-[^/]+/[^/]+}
cache=${SURVEY_CACHE:-}
min_left=${SURVEY_MIN_LEFT:-90}
deadline=$(( $(date +%s) + seconds ))

mkdir -p "$out" || exit 1
tag=$(printf '%s' "${cache:+$cache }$* $batch_kv" | tr -c 'A-Za-z0-9' '_' | cut -c1-60)
done_file="$out/done-${tag:-default}"
touch "$done_file"

for d in $dims; do
  for heads in hq32hkv32 hq32hkv8 hq64hkv8 hq128hkv8; do
    for q in 1 4; do
      chunk="d${d}_${heads}_q${q}"
      grep -qx "$chunk" "$done_file" && continue
      left=$(( deadline - $(date +%s) ))
      if [ "$left" -lt "$min_left" ]; then
        echo "stop before $chunk: ${left} s left" >> "$out/chunks.txt"
        exit 0
      fi
      echo "$chunk start $(date -u +%T) (${left} s left)" >> "$out/chunks.txt"
      timeout "$left" "$bench" --ptxfmha_suite=decode --ptxfmha_decode_grid=full \
        --ptxfmha_timing=graph --ptxfmha_samples=4 --ptxfmha_batch_ms=2 "$@" \
        "--benchmark_filter=decode/d$d/$batch_kv/$heads/q$q/$cache" \
        "--benchmark_out=$out/$chunk.json" --benchmark_out_format=json > "$out/$chunk.txt" 2>&1
      rc=$?
      echo "$chunk rc $rc end $(date -u +%T)" >> "$out/chunks.txt"
      [ "$rc" -eq 0 ] && echo "$chunk" >> "$done_file"
    done
  done
done
echo "every chunk done" >> "$out/chunks.txt"
