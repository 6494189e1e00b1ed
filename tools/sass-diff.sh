#!/usr/bin/env bash
# Compare the SASS of every kernel between two git revisions (or a revision and the working
# tree), kernel by kernel: the check that a refactor of the PTX sources changed no machine code.
#
#   tools/sass-diff.sh REV_A [REV_B | --worktree]     (default: --worktree)
#   tools/sass-diff.sh --self-test                      the comparison's own mutation checks
#
# Each revision is exported with `git archive` into a temporary folder and its cubins are built
# there with `make -j2 cubins BUILD=<own folder>` (the revision's own Makefile and sources);
# --worktree builds this checkout's working tree (tracked and untracked files) into a temporary
# BUILD folder, so build/ is not touched. tools/sass_diff.py then dumps every cubin with
# `cuobjdump -sass` and `-res-usage` and compares the kernels matched by entry name
# (instructions with their encodings, header flags, resources; line info and file names are
# not machine code and are ignored). Prints `kernel | instructions | identical/DIFFERENT`;
# exits 1 on any difference or kernel missing on one side, 2 when a build or tool fails.
#
# Environment: CUDA (toolkit, default /usr/local/cuda), CUOBJDUMP (tool override),
# SASS_DIFF_KEEP=1 keeps the temporary folder (its path is printed), MAKE_JOBS (default 2).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(git -C "$here" rev-parse --show-toplevel)"
py="${PYTHON:-python3}"

if [[ "${1:-}" == "--self-test" ]]; then
  exec "$py" "$here/sass_diff.py" --self-test
fi
if [[ $# -lt 1 || $# -gt 2 || "${1:-}" == -h || "${1:-}" == --help ]]; then
  sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 2
fi
rev_a="$1"
rev_b="${2:---worktree}"

# cuobjdump as the Makefile finds it; exported so sass_diff.py uses the same one.
if [[ -z "${CUOBJDUMP:-}" ]]; then
  for c in "${CUDA:-/usr/local/cuda}/bin/cuobjdump" "$(command -v cuobjdump || true)" "$root/.deps/bin/cuobjdump"; do
    if [[ -n "$c" && -x "$c" ]]; then CUOBJDUMP="$c"; break; fi
  done
fi
if [[ -z "${CUOBJDUMP:-}" ]]; then
  echo "sass-diff: cuobjdump not found (\$CUDA/bin, PATH, .deps/bin): run 'make deps'" >&2
  exit 2
fi
export CUOBJDUMP

tmp="$(mktemp -d "${TMPDIR:-/tmp}/sass-diff.XXXXXX")"
if [[ "${SASS_DIFF_KEEP:-0}" == 1 ]]; then
  echo "sass-diff: keeping $tmp"
else
  trap 'rm -rf "$tmp"' EXIT
fi

# build_side LABEL REV|--worktree : cubins under $tmp/LABEL/build/cubin; prints what was built
build_side() {
  local label="$1" rev="$2" src build log
  build="$tmp/$label/build"
  log="$tmp/$label/make.log"
  mkdir -p "$tmp/$label"
  if [[ "$rev" == --worktree ]]; then
    src="$root"
    echo "sass-diff: $label = working tree of $root ($(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- 2>/dev/null || echo ' + changes'))"
  else
    local sha
    sha="$(git -C "$root" rev-parse --verify --quiet "$rev^{commit}")" || { echo "sass-diff: unknown revision $rev" >&2; exit 2; }
    src="$tmp/$label/src"
    mkdir -p "$src"
    git -C "$root" archive --format=tar "$sha" | tar -x -C "$src"
    echo "sass-diff: $label = $rev ($(git -C "$root" log -1 --format='%h %s' "$sha" | cut -c1-80))"
  fi
  if ! make -C "$src" -j"${MAKE_JOBS:-2}" cubins BUILD="$build" ${CUDA:+CUDA="$CUDA"} >"$log" 2>&1; then
    echo "sass-diff: building the cubins of $label ($rev) failed; last lines of $log:" >&2
    tail -30 "$log" >&2
    exit 2
  fi
}

build_side A "$rev_a"
build_side B "$rev_b"
set +e
"$py" "$here/sass_diff.py" "$tmp/A/build/cubin" "$tmp/B/build/cubin"
rc=$?
set -e
exit $rc
