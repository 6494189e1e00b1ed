#!/usr/bin/env bash
# Installs what the build and tests need and the machine lacks. Idempotent.
# Each tools/deps.d/*.sh installs one thing into the system (apt) or into .deps/ (PyPI).
# On the GPU machine (no registry) every step must find its dependency already there and do nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
for step in tools/deps.d/*.sh; do
  [ -e "$step" ] || continue
  bash "$step"
done
