#!/usr/bin/env bash
# s24's A/B call (prepared, see prepare.sh): the _e4m3_wg rows' V conversion placed so that its
# shared-memory loads do not queue behind the wgmmas' operand reads. cuDNN off.
#   tests-X    the e4m3 GPU cases (every _e4m3_wg row, tails, splits, clusters) on set X
#   race-X / sync-X   racecheck / synccheck over the e4m3 sanitizer shapes on set X
#   ab-X-N     e4m3 cells, set X, round N (a b c d a b c d, one process each): 64 packed rows
#              (128/8 heads x 4 tokens) at d64 / d128 / d256, batch 8 / 32 / 128, kv 8k / 32k /
#              128k, contiguous; d256 32 rows (64/8 x 4) batch 8 / 32 / 128, kv 32k / 128k
. bench/devcall.sh
call_begin "$1" "${2:-570}"
for v in C D B; do
  part tests-$v 60 env PTXFMHA_CUBIN_DIR=$PWD/build-bench/cub$v "$T" "-tc=gpu decode e4m3*"
  for tool in racecheck synccheck; do
    PTXFMHA_CUBIN_DIR=$PWD/build-bench/cub$v sanitize $tool "gpu decode e4m3: sanitizer shapes*" $v 40
  done
done
F="decode/d(64|128|256)/b(8|32|128)/kv(8192|32768|131072)/hq128hkv8/q4/contig/|decode/d256/b(8|32|128)/kv(32768|131072)/hq64hkv8/q4/contig/"
for n in 1 2; do
  for v in "" B C D; do
    bench_cells ab-${v:-A}-$n "$PWD/build-bench/cub$v" e4m3 "$F"
  done
done
call_end
