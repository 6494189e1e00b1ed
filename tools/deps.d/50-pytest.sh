#!/usr/bin/env bash
# pytest for the Python package's tests (python/tests, run by `make test` through python-test).
# Already importable by the python the Makefile uses ($PYTHON, default python3; the GPU
# machine's has it): do nothing. Else pip-install pinned versions into .deps/pytest
# (pip --target, --no-deps so that exactly these versions land), which python/python.mk puts
# on PYTHONPATH. Idempotent and quiet unless it installs something.
set -euo pipefail
cd "$(dirname "$0")/../.."

PY="${PYTHON:-python3}"
TARGET=.deps/pytest
PINS=(pytest==8.4.2 pluggy==1.6.0 iniconfig==2.1.0 packaging==25.0 pygments==2.19.2
      "exceptiongroup==1.3.0; python_version < '3.11'" "tomli==2.2.1; python_version < '3.11'"
      "typing_extensions==4.15.0; python_version < '3.11'")

have_pytest() {
  PYTHONPATH="$TARGET${PYTHONPATH:+:$PYTHONPATH}" "$PY" -c 'import pytest' >/dev/null 2>&1
}
have_pytest && exit 0

if ! "$PY" -m pip --version >/dev/null 2>&1; then
  echo "deps: pytest is missing and $PY has no pip to install it; install pytest for $PY" >&2
  exit 1
fi
echo "deps: installing ${PINS[*]} (PyPI) into $TARGET"
rm -rf "$TARGET"
mkdir -p "$TARGET"
if ! "$PY" -m pip install -q --disable-pip-version-check --no-deps --no-compile --target "$TARGET" \
     "${PINS[@]}" >"$TARGET.log" 2>&1; then
  cat "$TARGET.log" >&2
  echo "deps: pip could not install pytest into $TARGET" >&2
  exit 1
fi
rm -f "$TARGET.log"
have_pytest || { echo "deps: pytest installed into $TARGET but does not import" >&2; exit 1; }
