#!/usr/bin/env bash
# Builds the benchmark binaries on this (GPU-less) machine for the lent GPU machine, so that a
# device call spends its time measuring rather than compiling (the cudnn-frontend translation
# unit alone takes about a minute there):
#   - Google Benchmark comes from .deps/benchmark, a copy of this machine's libbenchmark found by
#     RUNPATH (the GPU machine has another libbenchmark version, so the system one would not load);
#   - stripped copies of ptxfmha, ptxfmha_bench and the test binary
#     ptxfmha_tests go to .deps/gpu/.
# The cubins stay in $BUILD/cubin, the directory compiled into the binaries.
#
# Then one device call (the repository sits at the same path there):
#   carry:   [".deps/gpu", ".deps/benchmark", "build-bench/cubin", "build-bench/cubin-bench"]
#   command: export PTXFMHA_CUDNN_LIB=/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cudnn/lib;
#            .deps/gpu/ptxfmha info; .deps/gpu/ptxfmha check; .deps/gpu/ptxfmha bench --out $OUT/full
#   tests:   PTXFMHA_SOURCE_DIR=$PWD PTXFMHA_BUILD_DIR=build-bench .deps/gpu/ptxfmha_tests -tc='gpu fwd*'
# build-bench/cubin-bench holds the decode read-ceiling kernel (bench/read_stream.ptx); without
# it the decode cells report no ceiling (PTXFMHA_BENCH_CUBIN_DIR points elsewhere). The bench's
# own commands (prefill with the tuned cuDNN, timing methods, the decode grids, the PyTorch
# cross-check) are in bench/METHOD.md, "GPU workflow".
# A/B timing of two kernel versions in one call: build the other version's cubins from a git
# worktree (`git worktree add /tmp/wt <rev>; make -C /tmp/wt BUILD=$PWD/build-a cubins`), carry
# build-a/cubin too, and run the bench once per directory with PTXFMHA_CUBIN_DIR=$PWD/build-a/cubin
# and $PWD/build-bench/cubin, alternating (A, B, A, B); compare the ratios to cuDNN, which is
# timed in the same process each time (bench/VERSIONS.md). The kernels' parameter
# block must be the same in both versions.
# PTXFMHA_CUDNN_LIB picks PyTorch's cuDNN 9.19 (the version of the headers used here) over the
# system's 9.14 that the loader's default search would find first there.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${BUILD:-build-bench}"

mkdir -p .deps/benchmark/include .deps/benchmark/lib .deps/gpu
cp -r /usr/include/benchmark .deps/benchmark/include/
cp -a /usr/lib/x86_64-linux-gnu/libbenchmark.so* .deps/benchmark/lib/
rm -f "$BUILD/bin/ptxfmha_bench"  # relink against .deps/benchmark
make -j2 BUILD="$BUILD" GBENCH_PREFIX=.deps/benchmark cubins bench tools tests
for b in ptxfmha ptxfmha_bench; do
  strip -o ".deps/gpu/$b" "$BUILD/bin/$b"
done
strip -o .deps/gpu/ptxfmha_tests "$BUILD/tests/ptxfmha_tests"
du -sh .deps/gpu .deps/benchmark "$BUILD/cubin" "$BUILD/cubin-bench"
