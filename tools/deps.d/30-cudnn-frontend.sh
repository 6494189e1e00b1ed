#!/usr/bin/env bash
# cudnn-frontend C++ headers (header-only) for bench/'s cuDNN SDPA baseline, and Google
# Benchmark for the bench binary.
#
# cudnn-frontend: PyPI's nvidia-cudnn-frontend wheel carries the C++ headers under include/.
# We take only those (pinned version) into .deps/cudnn-frontend/include; nothing is built.
# The wheel is platform-tagged, so we name a platform pip can always match; the headers are the
# same in every wheel. The GPU machine has no registry: carry .deps/cudnn-frontend there
# (`run` ... carry: [".deps/cudnn-frontend"]).
# cuDNN's own headers (cudnn.h) come with the CUDA toolkit here, and with PyTorch's
# nvidia-cudnn-cu13 package on the GPU machine; bench/bench.mk finds them.
#
# Google Benchmark: Debian's libbenchmark-dev when no benchmark/benchmark.h + libbenchmark is
# found. Optional for the rest of the build: bench.mk says so and skips the bench without it.
# Idempotent and quiet unless it installs something.
set -euo pipefail
cd "$(dirname "$0")/../.."

FE_VERSION=1.32.0
FE_DIR=.deps/cudnn-frontend

if [ -f "$FE_DIR/include/cudnn_frontend.h" ] && [ "$(cat "$FE_DIR/VERSION" 2>/dev/null)" = "$FE_VERSION" ]; then
  :
else
  PY="${PYTHON:-python3}"
  if ! "$PY" -m pip --version >/dev/null 2>&1; then
    echo "deps: cudnn-frontend headers missing and no pip to fetch them; the bench will build without cuDNN" >&2
  else
    echo "deps: fetching cudnn-frontend $FE_VERSION headers (PyPI nvidia-cudnn-frontend) into $FE_DIR"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    if "$PY" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
         --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 \
         --platform manylinux_2_27_x86_64 -d "$tmp" "nvidia-cudnn-frontend==$FE_VERSION" >"$tmp/log" 2>&1 \
       && "$PY" -m zipfile -e "$tmp"/nvidia_cudnn_frontend-*.whl "$tmp/x" \
       && [ -f "$tmp/x/include/cudnn_frontend.h" ]; then
      rm -rf "$FE_DIR"
      mkdir -p "$FE_DIR"
      mv "$tmp/x/include" "$FE_DIR/include"
      echo "$FE_VERSION" > "$FE_DIR/VERSION"
    else
      cat "$tmp/log" >&2 || true
      echo "deps: warning: could not fetch cudnn-frontend $FE_VERSION; the bench will build without cuDNN" >&2
    fi
  fi
fi

have_benchmark() {
  printf '#include <benchmark/benchmark.h>\nint main(){benchmark::Shutdown();}\n' |
    "${CXX:-g++}" -x c++ -std=c++17 - -o /dev/null -lbenchmark -lpthread >/dev/null 2>&1
}
have_benchmark && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "deps: installing libbenchmark-dev (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends libbenchmark-dev >/dev/null
  have_benchmark || echo "deps: warning: libbenchmark-dev installed but does not link" >&2
else
  echo "deps: warning: Google Benchmark not found and cannot be installed here; the bench will be skipped" >&2
fi
