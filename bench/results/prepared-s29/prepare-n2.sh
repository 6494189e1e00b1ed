#!/usr/bin/env bash
# Builds what n2.sh needs beside prepare-s23's carry: branch s29-cpasync's bench and test binaries
# (its host fills the cp.async producer's K / V pointers and strides, DP_K_PTR..) and its decode
# cubins, from a worktree, into build-mut/ca/{bin,cub}; then packs .devrun/carry.tar.xz with them.
# Run from the repository root of main after bench/results/prepared-s23/prepare.sh.
set -euo pipefail
cd "$(dirname "$0")/../../.."
wt=$(mktemp -d)/wt-ca
git worktree add -q --detach "$wt" "${1:-s29-cpasync}"
mkdir -p "$wt/.deps" && cp -r .deps/cudnn-frontend "$wt/.deps/"  # else the bench builds without cuDNN
(cd "$wt" && bash bench/gpu-bundle.sh > /dev/null)
rm -rf build-mut/ca && mkdir -p build-mut/ca/bin build-mut/ca/cub/sm90a
cp "$wt/.deps/gpu/ptxfmha_bench" "$wt/.deps/gpu/ptxfmha_tests" build-mut/ca/bin/
cp "$wt"/build-bench/cubin/sm90a/fmha_decode_*.cubin build-mut/ca/cub/sm90a/
git worktree remove --force "$wt"
tar cJf .devrun/carry.tar.xz .deps/gpu/ptxfmha_bench .deps/gpu/ptxfmha_tests .deps/benchmark \
  build-bench/cub build-bench/cubin-bench build-mut/ca
du -b .devrun/carry.tar.xz
