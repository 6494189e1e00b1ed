#!/usr/bin/env bash
# matplotlib for tools/plot_bench.py (the PNG of `make run`). Already importable by the
# python the Makefile uses for plots (PLOT_PYTHON: the GPU machine's /opt/torch/.venv python
# has it): do nothing. Else pip-install it into .deps/python (pip --target), which the
# Makefile puts on PYTHONPATH. Optional: without it the plot script still writes the Markdown
# table and says the PNG was skipped.
set -euo pipefail
cd "$(dirname "$0")/../.."

PY="${PLOT_PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x /opt/torch/.venv/bin/python3 ]; then PY=/opt/torch/.venv/bin/python3; else PY=python3; fi
fi
TARGET=.deps/python
MPL_VERSION=3.10.7

PYTHONPATH="$TARGET${PYTHONPATH:+:$PYTHONPATH}" "$PY" -c 'import matplotlib' >/dev/null 2>&1 && exit 0
if ! "$PY" -m pip --version >/dev/null 2>&1; then
  echo "deps: warning: matplotlib missing and no pip; plots will be skipped (tables still written)" >&2
  exit 0
fi
echo "deps: installing matplotlib $MPL_VERSION (PyPI) into $TARGET"
mkdir -p "$TARGET"
if ! "$PY" -m pip install -q --disable-pip-version-check --no-compile --target "$TARGET" \
     "matplotlib==$MPL_VERSION" >"$TARGET.log" 2>&1; then
  echo "deps: warning: pip could not install matplotlib (see $TARGET.log); plots will be skipped" >&2
  exit 0
fi
rm -f "$TARGET.log"
