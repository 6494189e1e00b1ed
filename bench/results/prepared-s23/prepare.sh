#!/usr/bin/env bash
# s23's follow-up call (prepared 2026-12-05 on the GPU-less machine, after the merge of
# s21-d256-qgmma; not run): builds what it needs, packed into .devrun/carry.tar.xz (the tree and a
# plain carry exceed the tool's 64 MiB), run from the repository root:
#   .deps/gpu/ptxfmha_bench, .deps/gpu/ptxfmha_tests, .deps/benchmark   (bench/gpu-bundle.sh)
#   .deps/gpu/ptxfmha       the CLI (`ptxfmha placement`; added in s34)
#   build-bench/cub         this tree's sm90a decode cubins
#   build-bench/cubin-bench the read-ceiling kernel
# Device call: command `tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s23/r1.sh r1 570`,
# no carry.
set -euo pipefail
cd "$(dirname "$0")/../../.."
. bench/devcall.sh
bash bench/gpu-bundle.sh
rm -rf build-bench/cub && mkdir -p build-bench/cub/sm90a
cp build-bench/cubin/sm90a/fmha_decode_*.cubin build-bench/cub/sm90a/
write_devrun_env build-bench/cub
tar cJf .devrun/carry.tar.xz .deps/gpu/ptxfmha .deps/gpu/ptxfmha_bench .deps/gpu/ptxfmha_tests .deps/benchmark \
  build-bench/cub build-bench/cubin-bench
du -b .devrun/carry.tar.xz
