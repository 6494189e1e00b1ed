#!/usr/bin/env bash
# CUTLASS C++ headers for the "sm100a cutlass cross-check" test (tests/test_cpu_sm100a_cutlass.cpp):
# it computes every tcgen05 descriptor and TMEM offset of the sm100a kernels with CUTLASS's own
# encoders (cute::UMMA::make_instr_desc, make_umma_desc, ...) and compares.
#
# PyPI's nvidia-cutlass wheel ships the headers under cutlass_library/source/include. We install
# the pinned version with pip --target (no dependencies, no byte-compiling) into .deps/cutlass;
# nothing is built. Present already (the header the test includes, and the pinned VERSION):
# do nothing. Optional: without it the cross-check is reported skipped (never passed), so a
# failed install only warns. The GPU machine has no registry: it does not need CUTLASS (the
# cross-check is a CPU test); carry .deps/cutlass if you want it to run there too.
# Idempotent and quiet unless it installs something.
set -euo pipefail
cd "$(dirname "$0")/../.."

VERSION=4.2.0.0
TARGET=.deps/cutlass
HEADER="$TARGET/cutlass_library/source/include/cute/arch/mma_sm100_desc.hpp"

if [ -f "$HEADER" ] && [ "$(cat "$TARGET/VERSION" 2>/dev/null)" = "$VERSION" ]; then exit 0; fi

PY="${PYTHON:-python3}"
if ! "$PY" -m pip --version >/dev/null 2>&1; then
  echo "deps: warning: no pip to install nvidia-cutlass $VERSION; the sm100a cutlass cross-check will be skipped" >&2
  exit 0
fi
echo "deps: installing CUTLASS headers (PyPI nvidia-cutlass==$VERSION) into $TARGET"
tmp="$TARGET.tmp"
rm -rf "$tmp"
mkdir -p "$tmp"
if "$PY" -m pip install -q --disable-pip-version-check --no-deps --no-compile --target "$tmp" \
     "nvidia-cutlass==$VERSION" >"$tmp.log" 2>&1 \
   && [ -f "$tmp/cutlass_library/source/include/cute/arch/mma_sm100_desc.hpp" ]; then
  rm -rf "$TARGET"
  mv "$tmp" "$TARGET"
  echo "$VERSION" > "$TARGET/VERSION"
  rm -f "$tmp.log"
else
  cat "$tmp.log" >&2 || true
  rm -rf "$tmp" "$tmp.log"
  echo "deps: warning: could not install nvidia-cutlass $VERSION; the sm100a cutlass cross-check will be skipped" >&2
fi
