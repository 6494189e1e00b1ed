#!/usr/bin/env bash
# s25's converter-warp call (prepared 2026-12-06 on the GPU-less machine, branch s25-converters):
# builds what it needs, packed into .devrun/carry.tar.xz (run from the repository root):
#   .deps/gpu/ptxfmha_bench, .deps/gpu/ptxfmha_tests, .deps/benchmark   (bench/gpu-bundle.sh)
#   build-bench/cub         this tree's sm90a decode cubins (the _e4m3_wgc rows among them)
#   build-bench/cubC        the same, with s24's set C of the six _e4m3_wg kernels (branch
#                           s24-v-loads: V's first conversion batch between the QK's and the P V's
#                           issue), for the three-way A/B
#   build-bench/cubin-bench the read-ceiling kernel
# Device call (an H200: r2.sh; short of device time: r3.sh): command `tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s25/r2.sh r2 560`,
# no carry.
set -euo pipefail
cd "$(dirname "$0")/../../.."
. bench/devcall.sh
bash bench/gpu-bundle.sh
rm -rf build-bench/cub build-bench/cubC && mkdir -p build-bench/cub/sm90a build-bench/cubC/sm90a
cp build-bench/cubin/sm90a/fmha_decode_*.cubin build-bench/cub/sm90a/
cp build-bench/cub/sm90a/*.cubin build-bench/cubC/sm90a/
K="d64_e4m3_wg d64_e4m3_wg_cl d128_e4m3_wg d128_e4m3_wg_cl d256_e4m3_wg d256_e4m3_wg_cl"
wt=$(mktemp -d)/wt-C
git worktree add -q "$wt" s24-v-loads
make -C "$wt" -j2 BUILD="$wt/build" $(for k in $K; do echo "$wt/build/cubin/sm90a/fmha_decode_${k}_sm90a.cubin"; done)
for k in $K; do
  cp "$wt/build/cubin/sm90a/fmha_decode_${k}_sm90a.cubin" build-bench/cubC/sm90a/
  cmp -s build-bench/cub/sm90a/fmha_decode_${k}_sm90a.cubin build-bench/cubC/sm90a/fmha_decode_${k}_sm90a.cubin \
    && { echo "C: $k equals this tree's"; exit 1; }
done
git worktree remove --force "$wt"
write_devrun_env build-bench/cub
tar cJf .devrun/carry.tar.xz .deps/gpu/ptxfmha_bench .deps/gpu/ptxfmha_tests .deps/benchmark \
  build-bench/cub build-bench/cubC build-bench/cubin-bench
du -b .devrun/carry.tar.xz
