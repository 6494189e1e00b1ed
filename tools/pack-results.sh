#!/usr/bin/env bash
# Packs a run's raw results for the repository: every .json / .txt / .log file over 64 KiB under
# the given folders (default bench/results) becomes FILE.xz (xz -9; `xz -dk FILE.xz` gives it back).
# The files `ptxfmha bench --out` writes for a headline run (bench.json, table.txt) stay plain.
# The tools that read results (decode_targets.py, plot_bench.py, sdpa_crosscheck.py) open either
# form (tools/results_io.py). Why: the device tool copies the tracked tree (64 MiB in all), and the
# decode surveys' raw JSON had grown to 53 MB of it (s30).
#
#   tools/pack-results.sh [FOLDER...]
set -euo pipefail
[ $# -gt 0 ] || set -- bench/results
find "$@" -type f \( -name '*.json' -o -name '*.txt' -o -name '*.log' \) \
  ! -name bench.json ! -name table.txt -size +64k -print0 | xargs -0 -r -n 8 -P 2 xz -9 -T1
