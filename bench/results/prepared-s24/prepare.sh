#!/usr/bin/env bash
# s24's A/B call (prepared 2026-12-05 on the GPU-less machine; the bench and test binaries of
# prepared-s23's carry are reused: run prepared-s23/prepare.sh first): four sets of sm90a decode
# cubins, each whole (every decode kernel), differing only in the six _e4m3_wg kernels' V
# conversion, each set but A built in a worktree of 7eda527 with its patch applied:
#   build-bench/cub    A: main (7eda527): V's loads after both products' issue
#   build-bench/cubB   B.patch: V's first batch loaded before the QK's issue, the rest as A
#   build-bench/cubC   C.patch: B, and the first batch converted between the QK's and the P V's
#                      issue with the second batch's loads, the second batch converted after the
#                      P V's issue (V's scale reloaded after the loop: d256 spilled it)
#   build-bench/cubD   D.patch: C with the first batch converted before the QK's issue
# Device call: command `tar xJf .devrun/carry.tar.xz && bash
# bench/results/prepared-s24/r1.sh r1 570`, no carry (r2.sh: the second call).
set -euo pipefail
cd "$(dirname "$0")/../../.."
K="d64_e4m3_wg d64_e4m3_wg_cl d128_e4m3_wg d128_e4m3_wg_cl d256_e4m3_wg d256_e4m3_wg_cl"
for v in B C D; do
  rm -rf build-bench/cub$v && mkdir -p build-bench/cub$v/sm90a
  cp build-bench/cub/sm90a/*.cubin build-bench/cub$v/sm90a/
  wt=$(mktemp -d)/wt-$v
  git worktree add -q "$wt" 7eda527
  git -C "$wt" apply "$PWD/bench/results/prepared-s24/$v.patch"
  make -C "$wt" -j2 BUILD="$wt/build" $(for k in $K; do echo "$wt/build/cubin/sm90a/fmha_decode_${k}_sm90a.cubin"; done)
  for k in $K; do
    cp "$wt/build/cubin/sm90a/fmha_decode_${k}_sm90a.cubin" build-bench/cub$v/sm90a/
    cmp -s build-bench/cub/sm90a/fmha_decode_${k}_sm90a.cubin build-bench/cub$v/sm90a/fmha_decode_${k}_sm90a.cubin \
      && { echo "$v: $k equals main's"; exit 1; }
  done
  git worktree remove --force "$wt"
done
tar cJf .devrun/carry.tar.xz .deps/gpu/ptxfmha_bench .deps/gpu/ptxfmha_tests .deps/benchmark \
  build-bench/cub build-bench/cubB build-bench/cubC build-bench/cubD build-bench/cubin-bench
du -b .devrun/carry.tar.xz
