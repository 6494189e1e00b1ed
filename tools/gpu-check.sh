#!/usr/bin/env bash
# One-call GPU check: everything the GPU machine should confirm, in one command.
#
#   bash tools/gpu-check.sh            (from anywhere inside the repository)
#
# Steps, each logged, then a summary table (last thing printed):
#   1. nvidia-smi
#   2. build everything: make -j$JOBS BUILD=$BUILD all (cubins, host library, tests, bench, CLI)
#   3. the whole test binary (CPU and GPU tests; GPU tests run only on a matching device)
#   4. compute-sanitizer memcheck, racecheck, synccheck, initcheck over the forward kernels at
#      small and odd shapes (the test case "gpu fwd: sanitizer shapes ...": a full tile,
#      residue tiles with causal masking and GQA 4, more queries than keys, padded strides)
#   5. a short benchmark, when the bench binary was built
# Exits non-zero when any step failed.
#
# Environment:
#   BUILD=build-gpu        build directory
#   OUT=<dir>              where logs go (the device tool's $OUT; default $BUILD/gpu-check).
#                          At most 8 files: gpu-check.log (nvidia-smi, build, summary),
#                          tests.log, memcheck.log, racecheck.log, synccheck.log,
#                          initcheck.log, bench.log, bench.json
#   JOBS=16                make -j
#   TEST_ARGS=''           extra doctest options for step 3
#   TEST_TIMEOUT=300       seconds for step 3; SAN_TIMEOUT=150 for each sanitizer run
#   SANITIZER_TOOLS='memcheck racecheck synccheck initcheck'
#   BENCH_FILTER='fwd/d128/.*/s4096/'   Google Benchmark filter for step 5 (''= skip step 5)
#   BENCH_TIMEOUT=120
set -uo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build-gpu}
OUT=${OUT:-$BUILD/gpu-check}
JOBS=${JOBS:-16}
TEST_ARGS=${TEST_ARGS:-}
TEST_TIMEOUT=${TEST_TIMEOUT:-300}
SAN_TIMEOUT=${SAN_TIMEOUT:-150}
SANITIZER_TOOLS=${SANITIZER_TOOLS:-memcheck racecheck synccheck initcheck}
BENCH_FILTER=${BENCH_FILTER-fwd/d128/.*/s4096/}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-120}
CUDA=${CUDA:-/usr/local/cuda}
SAN_FILTER='*sanitizer shapes*'  # forward and decode cases

mkdir -p "$OUT"
MAIN_LOG=$OUT/gpu-check.log
: > "$MAIN_LOG"
TEST_BIN=$BUILD/tests/ptxfmha_tests
BENCH_BIN=$BUILD/bin/ptxfmha_bench
export PTXFMHA_SOURCE_DIR=$PWD PTXFMHA_BUILD_DIR=$BUILD PTXFMHA_CUBIN_DIR=$PWD/$BUILD/cubin

declare -a STEP_NAMES STEP_RESULTS STEP_DETAILS STEP_SECONDS
failures=0
record() {  # name result detail seconds
  STEP_NAMES+=("$1"); STEP_RESULTS+=("$2"); STEP_DETAILS+=("$3"); STEP_SECONDS+=("$4")
  [ "$2" = FAIL ] && failures=$((failures + 1))
  printf '== %-22s %-5s %s (%ss)\n' "$1" "$2" "$3" "$4" | tee -a "$MAIN_LOG"
}
say() { echo "$*" | tee -a "$MAIN_LOG"; }
# doctest's "test cases: N | N passed | N failed | N skipped" line of a log, shortened.
doctest_counts() {
  grep -E '^\[doctest\] test cases:' "$1" | tail -n 1 |
    sed -E 's/.*test cases: *([0-9]+) *\| *([0-9]+) passed *\| *([0-9]+) failed *\| *([0-9]+) skipped.*/\2 passed, \3 failed, \4 skipped/'
}

# ---- 1. nvidia-smi --------------------------------------------------------------------------
t0=$SECONDS
say "== nvidia-smi"
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi 2>&1 | tee -a "$MAIN_LOG"; then
  gpu_name=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -n 1)
  record nvidia-smi ok "${gpu_name:-?}" $((SECONDS - t0))
else
  record nvidia-smi FAIL "nvidia-smi missing or failed: no GPU here" $((SECONDS - t0))
fi

# ---- 2. build ----------------------------------------------------------------------------------
t0=$SECONDS
say "== make -j$JOBS BUILD=$BUILD all"
make -k -j"$JOBS" BUILD="$BUILD" all >>"$MAIN_LOG" 2>&1
build_rc=$?
if [ "$build_rc" -eq 0 ]; then
  record build ok "make all" $((SECONDS - t0))
else
  grep -E 'error|Error' "$MAIN_LOG" | head -n 20
  record build FAIL "make all exited $build_rc (errors in gpu-check.log)" $((SECONDS - t0))
fi

# ---- 3. tests ----------------------------------------------------------------------------------
t0=$SECONDS
if [ -x "$TEST_BIN" ]; then
  say "== $TEST_BIN $TEST_ARGS"
  # shellcheck disable=SC2086
  timeout "$TEST_TIMEOUT" "$TEST_BIN" $TEST_ARGS >"$OUT/tests.log" 2>&1
  rc=$?
  counts=$(doctest_counts "$OUT/tests.log")
  worst=$(grep -c 'worst error figures' "$OUT/tests.log")
  if [ "$rc" -eq 0 ] && [ -n "$counts" ]; then
    record tests ok "$counts" $((SECONDS - t0))
  else
    [ "$rc" -eq 124 ] && counts="timed out after ${TEST_TIMEOUT}s; $counts"
    grep -E 'ERROR:|FATAL|CHECK.*failed|REQUIRE.*failed' "$OUT/tests.log" | head -n 20
    record tests FAIL "exit $rc: ${counts:-no doctest summary}" $((SECONDS - t0))
    if [ "$rc" -ge 124 ]; then
      # A crash or a timeout hides the rest: run each test source file on its own to say
      # which ones crash and what the others report (appended to tests.log).
      say "== the whole run crashed or timed out (exit $rc): each tests/*.cpp on its own"
      for src in tests/*.cpp; do
        f=$(basename "$src")
        t1=$SECONDS
        {
          echo
          echo "######## $TEST_BIN -sf='*$f' ########"
        } >>"$OUT/tests.log"
        # shellcheck disable=SC2086
        timeout "$TEST_TIMEOUT" "$TEST_BIN" -sf="*$f" $TEST_ARGS >"$OUT/tests.part" 2>&1
        frc=$?
        cat "$OUT/tests.part" >>"$OUT/tests.log"
        fcounts=$(doctest_counts "$OUT/tests.part")
        if [ "$frc" -eq 0 ]; then fres=ok; else fres=FAIL; fi
        case "$fcounts" in "0 passed, 0 failed"*) [ "$frc" -eq 0 ] && fres=skipped ;; esac
        last=$(grep -E '^TEST CASE:' "$OUT/tests.part" | tail -n 1 | sed 's/^TEST CASE: *//')
        detail="exit $frc: ${fcounts:-no doctest summary}"
        [ "$frc" -ge 124 ] && detail="$detail; last test case: ${last:-?}"
        record "  $f" "$fres" "$detail" $((SECONDS - t1))
      done
      rm -f "$OUT/tests.part"
    fi
  fi
  [ "$worst" -gt 0 ] && sed -n '/worst error figures/,$p' "$OUT/tests.log" | grep '^\[ptxfmha-tests\]' | tee -a "$MAIN_LOG"
else
  record tests FAIL "$TEST_BIN was not built" 0
fi

# ---- 4. compute-sanitizer ------------------------------------------------------------------
SANITIZER=$(command -v compute-sanitizer || echo "$CUDA/bin/compute-sanitizer")
for tool in $SANITIZER_TOOLS; do
  t0=$SECONDS
  log=$OUT/$tool.log
  if [ ! -x "$TEST_BIN" ]; then record "sanitizer $tool" FAIL "no test binary" 0; continue; fi
  if [ ! -x "$SANITIZER" ]; then record "sanitizer $tool" FAIL "compute-sanitizer not found" 0; continue; fi
  say "== compute-sanitizer --tool $tool $TEST_BIN -tc='$SAN_FILTER'"
  extra=()
  [ "$tool" = racecheck ] && extra=(--racecheck-report all)
  # API errors are not reported: the library probes on purpose with calls that fail
  # (cuPointerGetAttribute on host pointers, cuFuncGetParamInfo past the last parameter).
  timeout "$SAN_TIMEOUT" "$SANITIZER" --tool "$tool" --error-exitcode 86 --report-api-errors no "${extra[@]}" \
    "$TEST_BIN" -tc="$SAN_FILTER" >"$log" 2>&1
  rc=$?
  counts=$(doctest_counts "$log")
  san_summary=$(grep -E '========= (ERROR SUMMARY|RACECHECK SUMMARY)' "$log" | tail -n 1 | sed 's/^========= //')
  ran=$(sed -nE 's/^([0-9]+) passed.*/\1/p' <<<"$counts")
  if [ "$rc" -eq 0 ] && [ "${ran:-0}" -gt 0 ]; then
    record "sanitizer $tool" ok "${san_summary:-no summary}; $counts" $((SECONDS - t0))
  elif [ "$rc" -eq 0 ]; then
    record "sanitizer $tool" FAIL "no test case ran ($counts): no device or no forward kernel?" $((SECONDS - t0))
  else
    [ "$rc" -eq 124 ] && san_summary="timed out after ${SAN_TIMEOUT}s; $san_summary"
    grep -E '^========= ' "$log" | head -n 12
    record "sanitizer $tool" FAIL "exit $rc: ${san_summary:-?}; ${counts:-no doctest summary}" $((SECONDS - t0))
  fi
done

# ---- 5. short benchmark ----------------------------------------------------------------------
t0=$SECONDS
if [ -z "$BENCH_FILTER" ]; then
  record bench skipped "BENCH_FILTER is empty" 0
elif [ -x "$BENCH_BIN" ]; then
  say "== $BENCH_BIN --benchmark_filter=$BENCH_FILTER"
  timeout "$BENCH_TIMEOUT" "$BENCH_BIN" --benchmark_filter="$BENCH_FILTER" \
    --benchmark_out="$OUT/bench.json" --benchmark_out_format=json >"$OUT/bench.log" 2>&1
  rc=$?
  lines=$(grep -cE '^(fwd|decode)/' "$OUT/bench.log")
  if [ "$rc" -eq 0 ] && [ "$lines" -gt 0 ]; then
    record bench ok "$lines benchmark lines (bench.log, bench.json)" $((SECONDS - t0))
    grep -E '^(fwd|decode)/|^-+$|^Benchmark' "$OUT/bench.log" | head -n 20 | tee -a "$MAIN_LOG"
  elif [ "$rc" -eq 0 ]; then
    tail -n 5 "$OUT/bench.log"
    record bench FAIL "nothing measured (bench.log)" $((SECONDS - t0))
  else
    tail -n 20 "$OUT/bench.log"
    record bench FAIL "exit $rc (bench.log)" $((SECONDS - t0))
  fi
else
  record bench skipped "$BENCH_BIN not built" 0
fi

# ---- summary ---------------------------------------------------------------------------------
{
  echo
  echo "gpu-check summary ($(date -u '+%Y-%m-%d %H:%M UTC'), logs in $OUT)"
  printf '%-22s %-8s %6s  %s\n' step result seconds detail
  for i in "${!STEP_NAMES[@]}"; do
    printf '%-22s %-8s %6s  %s\n' "${STEP_NAMES[$i]}" "${STEP_RESULTS[$i]}" "${STEP_SECONDS[$i]}" "${STEP_DETAILS[$i]}"
  done
  if [ "$failures" -eq 0 ]; then echo "gpu-check: all steps passed"; else echo "gpu-check: $failures step(s) FAILED"; fi
} | tee -a "$MAIN_LOG"
[ "$failures" -eq 0 ]
