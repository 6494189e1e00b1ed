#!/usr/bin/env bash
# Everything the GPU machine should confirm about the Python package, in one call:
#   1. build the wheel (make BUILD=$BUILD python: host library + every cubin + wheel)
#   2. pip-install it, offline, into $BUILD/python/site (exactly what a user gets)
#   3. pytest over python/tests against the installed package: CPU tests, the GPU tests of the
#      torch ops (float64 SDPA references, strided inputs, torch.compile, CUDA graphs, streams,
#      errors; accuracy table at the end), the transformers tests (CPU with reference kernels,
#      GPU with the real ones)
#   4. python/tests/model_check.py: the random Llama with sdpa vs ptxfmha (logits, greedy
#      generation, teacher-forced decode, 8k prefill time); one summary block
# Logs go to $OUT (or $BUILD/python-check): build.log, install.log, pytest.log, model_check.log. Prints a
# summary last; exits non-zero if any step failed.
#
#   bash python/gpu-check.sh                  # from the repository root, on the GPU machine
#   PYTEST_ARGS='-k kvcache' bash python/gpu-check.sh
set -uo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build-gpu}
OUT=${OUT:-$BUILD/python-check}
PY=${PYTHON:-python3}
PYTEST_ARGS=${PYTEST_ARGS:-}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT"
declare -a results
status=0

run_step() {  # name, log, command...
  local name=$1 log=$2; shift 2
  local t0=$SECONDS
  "$@" > >(tee "$log") 2>&1
  local rc=$?
  results+=("$(printf '%-14s %s (%ds, %s)' "$name" "$([ $rc -eq 0 ] && echo ok || echo "FAILED rc=$rc")" \
              $((SECONDS - t0)) "$log")")
  [ $rc -eq 0 ] || status=1
  return $rc
}

echo "== $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -n 1); $($PY -c \
  'import torch, sys; print("python", sys.version.split()[0], "torch", torch.__version__)' 2>&1)"

if run_step build "$OUT/build.log" make -j"$(nproc)" BUILD="$BUILD" python; then
  site="$BUILD/python/site"
  rm -rf "$site"
  if run_step install "$OUT/install.log" "$PY" -m pip install -q --no-index --no-deps --no-compile \
      --disable-pip-version-check --target "$site" "$BUILD"/python/ptxfmha-*.whl; then
    export PYTHONPATH="$PWD/$site${PYTHONPATH:+:$PYTHONPATH}"
    # shellcheck disable=SC2086
    run_step pytest "$OUT/pytest.log" env PTXFMHA_SOURCE_DIR="$PWD" PTXFMHA_BUILD_DIR="$PWD/$BUILD" \
      "$PY" -m pytest -p no:cacheprovider -rs -v python/tests $PYTEST_ARGS
    run_step model_check "$OUT/model_check.log" "$PY" python/tests/model_check.py
  fi
fi

echo
echo "== python gpu-check summary"
for r in "${results[@]}"; do echo "$r"; done
grep -hE '^=+ .* in [0-9.]+s' "$OUT/pytest.log" 2>/dev/null | tail -n 1
sed -n '/^ptxfmha model check/,/^verdict/p' "$OUT/model_check.log" 2>/dev/null
exit $status
