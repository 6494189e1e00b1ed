#!/usr/bin/env bash
# Everything the GPU machine should confirm about the Python package, in one call:
#   1. build the wheel (make BUILD=$BUILD python: host library + every cubin + wheel)
#   2. pip-install it, offline, into $BUILD/python/site (exactly what a user gets)
#   3. pytest over python/tests against the installed package: CPU tests (ABI, errors, wheel;
#      the torch layer and transformers models on CPU stand-in kernels), the GPU tests of the
#      torch ops (float64 SDPA / reference for every entry point and feature, the backward
#      against float64 SDPA autograd, the feature backward (window / softcap / ALiBi / sinks,
#      d_sinks) against float64 autograd of the reference, deterministic gradients, strided inputs, torch.compile
#      fwd+bwd, CUDA graphs of decode and of a training step, streams, errors; accuracy table at
#      the end), the transformers tests on the GPU. Features without a kernel on the device are
#      SKIPPED with the library's UNSUPPORTED_FEATURE message (counted in the summary).
#   4. python/tests/model_check.py: the random Llama with sdpa vs ptxfmha (logits, greedy
#      generation, teacher-forced decode, routing of every forward pass, 8k prefill time, a
#      training step's gradients);
#      one summary block; a check that raises is reported and the others still run
# Logs go to $OUT (or $BUILD/python-check): build.log, install.log, pytest.log, model_check.log.
# Every step that can run runs: a failing pytest does not stop model_check, and a step that
# cannot run (nothing built or installed) is listed as not run. The summary, printed last,
# has every step's result, pytest's counts and the ids of its failing tests, the model
# check's block (or the end of its log when it ended without one). Exits non-zero if any step
# failed or did not run.
#
#   bash python/gpu-check.sh                  # from the repository root, on the GPU machine
#   PYTEST_ARGS='-k kvcache' bash python/gpu-check.sh
#   MODEL_CHECK_ARGS='--breakdown' bash python/gpu-check.sh
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

BUILD=${BUILD:-build-gpu}
OUT=${OUT:-$BUILD/python-check}
PY=${PYTHON:-python3}
PYTEST_ARGS=${PYTEST_ARGS:-}
MODEL_CHECK_ARGS=${MODEL_CHECK_ARGS:-}   # e.g. '--breakdown' or '--peaked 10' (model_check.py --help)
export PYTHONUNBUFFERED=1
mkdir -p "$OUT"
rm -f "$OUT/build.log" "$OUT/install.log" "$OUT/pytest.log" "$OUT/model_check.log"  # no stale results
declare -a results
status=0

run_step() {  # name, log, command...
  local name=$1 log=$2; shift 2
  local t0=$SECONDS
  # A pipeline, not a process substitution: bash waits for tee, so the log is complete when
  # the summary reads it.
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  results+=("$(printf '%-14s %s (%ds, %s)' "$name" "$([ "$rc" -eq 0 ] && echo ok || echo "FAILED rc=$rc")" \
              $((SECONDS - t0)) "$log")")
  [ "$rc" -eq 0 ] || status=1
  return "$rc"
}

not_run() {  # name, reason
  results+=("$(printf '%-14s NOT RUN (%s)' "$1" "$2")")
  status=1
}

echo "== $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -n 1); $($PY -c \
  'import torch, sys; print("python", sys.version.split()[0], "torch", torch.__version__)' 2>&1)"

site="$BUILD/python/site"
if run_step build "$OUT/build.log" make -j"$(nproc)" BUILD="$BUILD" python; then
  rm -rf "$site"
  if run_step install "$OUT/install.log" "$PY" -m pip install -q --no-index --no-deps --no-compile \
      --disable-pip-version-check --target "$site" "$BUILD"/python/ptxfmha-*.whl; then
    export PYTHONPATH="$PWD/$site${PYTHONPATH:+:$PYTHONPATH}"
    # -rfEs: failures, errors and skips listed at the end of the log (the summary shows them).
    # shellcheck disable=SC2086
    run_step pytest "$OUT/pytest.log" env PTXFMHA_SOURCE_DIR="$PWD" PTXFMHA_BUILD_DIR="$PWD/$BUILD" \
      "$PY" -m pytest -p no:cacheprovider -rfEs -v python/tests $PYTEST_ARGS
    # shellcheck disable=SC2086
    run_step model_check "$OUT/model_check.log" "$PY" python/tests/model_check.py $MODEL_CHECK_ARGS
  else
    not_run pytest "install failed"
    not_run model_check "install failed"
  fi
else
  not_run install "build failed"
  not_run pytest "build failed"
  not_run model_check "build failed"
fi

echo
echo "== python gpu-check summary"
for r in "${results[@]}"; do echo "$r"; done
if [ -f "$OUT/pytest.log" ]; then
  grep -hE '^=+ .* in [0-9.]+s' "$OUT/pytest.log" | tail -n 1
  grep -hE '^(FAILED|ERROR) ' "$OUT/pytest.log" | head -n 30
  # short summary lines: "SKIPPED [N] file:line: UNSUPPORTED_FEATURE: <the library's message>"
  echo "skipped for UNSUPPORTED_FEATURE (no kernel on this device yet): $(grep -hE '^SKIPPED \[[0-9]+\] .*UNSUPPORTED_FEATURE' \
    "$OUT/pytest.log" | sed -E 's/^SKIPPED \[([0-9]+)\].*/\1/' | awk '{n += $1} END {print n + 0}') tests"
  grep -hE '^SKIPPED \[[0-9]+\] .*UNSUPPORTED_FEATURE' "$OUT/pytest.log" | sed -E 's/.*UNSUPPORTED_FEATURE: //' \
    | cut -c1-150 | sort | uniq -c | head -n 12
fi
if [ -f "$OUT/model_check.log" ]; then
  if grep -q '^ptxfmha model check' "$OUT/model_check.log"; then
    sed -n '/^ptxfmha model check/,/^verdict/p' "$OUT/model_check.log"
  else
    echo "model_check printed no summary block; the end of $OUT/model_check.log:"
    tail -n 8 "$OUT/model_check.log"
  fi
fi
exit $status
