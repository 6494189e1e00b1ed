#!/usr/bin/env bash
# s27's third call: the plan with the converter-warp rows at d256 (bundle + this tree's cubins
# only; no set C). Then `tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s25/r6.sh r6 BUDGET`.
set -euo pipefail
cd "$(dirname "$0")/../../.."
. bench/devcall.sh
bash bench/gpu-bundle.sh
rm -rf build-bench/cub && mkdir -p build-bench/cub/sm90a
cp build-bench/cubin/sm90a/fmha_decode_*.cubin build-bench/cub/sm90a/
write_devrun_env build-bench/cub
tar cJf .devrun/carry.tar.xz .deps/gpu/ptxfmha_bench .deps/gpu/ptxfmha_tests .deps/benchmark build-bench/cub \
  build-bench/cubin-bench
du -b .devrun/carry.tar.xz
