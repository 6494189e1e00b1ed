#!/usr/bin/env bash
# cuobjdump (+ the nvdisasm it runs for -sass) for `make sass` and the SASS contract tests.
# Present on PATH or in $CUDA/bin (the GPU machine's full toolkit): do nothing. Else install
# NVIDIA's PyPI wheels into .deps/cuda-tools (pip --target) and link the binaries into
# .deps/bin/, where the Makefile's CUOBJDUMP looks. Idempotent and quiet unless it installs.
# Optional: without it the SASS tests are reported skipped, so a failed install only warns.
#
# Version: the toolkit here is CUDA 13.0, but PyPI has no 13.0.x release of
# nvidia-cuda-cuobjdump / nvidia-cuda-nvdisasm (the oldest 13.x on PyPI is 13.2.51). We pin
# 13.2.51, the nearest to 13.0; a newer disassembler reads cubins from an older ptxas.
# cuobjdump -sass needs nvdisasm beside it (it looks next to its resolved path, PATH or
# NVDISASM_PATH), hence both wheels.
set -euo pipefail
cd "$(dirname "$0")/../.."

CUDA="${CUDA:-/usr/local/cuda}"
VERSION=13.2.51
TARGET=.deps/cuda-tools
BIN=.deps/bin

if command -v cuobjdump >/dev/null 2>&1 || [ -x "$CUDA/bin/cuobjdump" ]; then exit 0; fi
if [ -x "$BIN/cuobjdump" ] && [ -x "$BIN/nvdisasm" ] && "$BIN/cuobjdump" --version >/dev/null 2>&1; then
  exit 0
fi

PY="${PYTHON:-python3}"
if ! "$PY" -m pip --version >/dev/null 2>&1; then
  echo "deps: warning: no cuobjdump and no pip to install it; SASS tests will be skipped" >&2
  exit 0
fi
echo "deps: installing cuobjdump + nvdisasm $VERSION (PyPI) into $TARGET"
rm -rf "$TARGET"
mkdir -p "$TARGET" "$BIN"
if ! "$PY" -m pip install -q --disable-pip-version-check --no-deps --no-compile --target "$TARGET" \
     "nvidia-cuda-cuobjdump==$VERSION" "nvidia-cuda-nvdisasm==$VERSION" >"$TARGET.log" 2>&1; then
  echo "deps: warning: pip could not install cuobjdump (see $TARGET.log); SASS tests will be skipped" >&2
  exit 0
fi
for tool in cuobjdump nvdisasm; do
  src=$(find "$TARGET" -type f -path "*/bin/$tool" | head -n 1)
  if [ -z "$src" ]; then
    echo "deps: warning: the $tool wheel holds no bin/$tool; SASS tests will be skipped" >&2
    exit 0
  fi
  chmod +x "$src"
  # A symlink, not a copy: cuobjdump finds nvdisasm next to the file it resolves to.
  ln -sfn "$(realpath --relative-to="$BIN" "$src")" "$BIN/$tool"
done
rm -f "$TARGET.log"
"$BIN/cuobjdump" --version >/dev/null 2>&1 || echo "deps: warning: $BIN/cuobjdump does not run" >&2
