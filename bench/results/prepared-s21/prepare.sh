#!/usr/bin/env bash
# Branch s21-d256-qgmma (prepared in s21, no device lent; not run yet; it holds s20-e4m3-qk's
# commits, whose own call bench/results/prepared-s20 it replaces): builds what the calls carry
# (run from the repository root on the GPU-less machine, as prepared-s20/prepare.sh):
#   .deps/gpu/ptxfmha_bench, .deps/gpu/ptxfmha_tests, .deps/benchmark   (bench/gpu-bundle.sh)
#   build-bench/cub       this tree's sm90a decode cubins only (the carry limit is 64 MiB)
#   build-mut/lo/sm90a    mutation LO: the six _e4m3_wg cubins (d64 / d128 / d256, _e4m3_wg and
#                         _e4m3_wg_cl) built with WG_QK_E4M3_ISSUE lacking Q's lo wgmmas (both
#                         accumulators' at d256; Q at e4m3 precision): the e4m3 warpgroup-row
#                         suite must fail at every head dim
#   build-old/lane0/sm90a the s22 producer A/B's "before": the decode rows r3 times (d256_e4m3,
#                         d256, d128, d128_e4m3, d64_wg, d64_e4m3_wg) with the box's TMAs behind the
#                         lane-0 branch instead of elect.sync (the form before s22: a per-lane loop
#                         around every TMA), and the combine kernels they need (unchanged);
#                         carried by r3 only (r1's carry has no room beside build-mut)
#   .devrun/env.sh        the device machine's environment (bench/devcall.sh: write_devrun_env)
# Then the device calls of PLAN.md (carry: the du line below).
set -euo pipefail
cd "$(dirname "$0")/../../.."
. bench/devcall.sh
bash bench/gpu-bundle.sh
rm -rf build-bench/cub build-mut && mkdir -p build-bench/cub/sm90a
cp build-bench/cubin/sm90a/fmha_decode_*.cubin build-bench/cub/sm90a/
build_mutation lo ptx/body/sm90_decode/wg_steps.ptxh \
  's/^    FOR_Q32_S[01](WG_QK_E4M3_STEP, Q_E4M3_TILE_BYTES) .*\\$/    \\/' \
  d64_e4m3_wg d64_e4m3_wg_cl d128_e4m3_wg d128_e4m3_wg_cl d256_e4m3_wg d256_e4m3_wg_cl
build_mutation lane0 ptx/body/sm90_decode/producer.ptxh \
  's/^    elect.sync      _|%p_elect, 0xffffffff;.*$/    mov.pred        %p_elect, %p_lane0;/' \
  d256_e4m3 d256 d128 d128_e4m3 d64_wg d64_e4m3_wg
cp build-bench/cub/sm90a/fmha_decode_combine_d*_sm90a.cubin build-mut/lane0/sm90a/
rm -rf build-old && mkdir -p build-old && mv build-mut/lane0 build-old/
write_devrun_env build-bench/cub
# Since s23 the calls carry nothing: the tool counted the tree (50.9 MB of tracked results) and
# the carry over its 64 MiB, so everything the calls need travels xz-packed in .devrun/ (untracked,
# not ignored: it goes with the tree); the calls' command unpacks it first.
tar cJf .devrun/carry.tar.xz .deps/gpu/ptxfmha_bench .deps/gpu/ptxfmha_tests .deps/benchmark \
  build-bench/cub build-bench/cubin-bench build-mut build-old
du -b .devrun/carry.tar.xz
du -cb .deps/gpu/ptxfmha_bench .deps/gpu/ptxfmha_tests .deps/benchmark build-bench/cub build-bench/cubin-bench build-mut | tail -1
du -cb .deps/gpu/ptxfmha_bench .deps/gpu/ptxfmha_tests .deps/benchmark build-bench/cub build-bench/cubin-bench build-old | tail -1
