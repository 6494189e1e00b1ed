#!/usr/bin/env bash
# doctest (header-only C++ test framework) for tests/.
# Present already (Debian's doctest-dev in /usr/include, or a copy in /usr/local/include as on
# the GPU machine, which has no package registry): do nothing. Else install Debian's
# doctest-dev with apt. Idempotent and quiet unless it installs something.
set -euo pipefail

have_doctest() {
  # Ask the compiler, so every default include directory counts (/usr/include, /usr/local/include).
  echo '#include <doctest/doctest.h>' | "${CXX:-g++}" -x c++ -std=c++17 -E - -o /dev/null >/dev/null 2>&1
}

have_doctest && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "deps: doctest headers (doctest/doctest.h) are missing and apt-get is not available;" >&2
  echo "      install doctest (https://github.com/doctest/doctest) into /usr/local/include" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "deps: doctest headers are missing; run as root: apt-get install doctest-dev" >&2
    exit 1
  fi
fi
echo "deps: installing doctest-dev (apt)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends doctest-dev >/dev/null
have_doctest || { echo "deps: doctest-dev installed but <doctest/doctest.h> is still not found" >&2; exit 1; }
