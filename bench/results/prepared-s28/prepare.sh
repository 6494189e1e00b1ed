#!/usr/bin/env bash
# s28's carry: bench/results/prepared-s23/prepare.sh (bundle, build-bench/cub = this tree's sm90a
# decode cubins), plus build-bench/cub384: the same cubins with the first WG 4 layout's
# _e4m3_wg2c pair (384 threads, two converter warps: branch s28-wg2c-384, 668d197, kept unmerged as the
# record), which the caller copied into
# build-bench/cub384/sm90a beforehand. (r3's q8old round with them did not run: the host's table
# launches the row with 512 threads.) Device call: see r3.sh.
set -euo pipefail
cd "$(dirname "$0")/../../.."
[ -f build-bench/cub384/sm90a/fmha_decode_d256_e4m3_wg2c_sm90a.cubin ] || { echo "no build-bench/cub384"; exit 1; }
bash bench/results/prepared-s23/prepare.sh
for f in build-bench/cub/sm90a/*.cubin; do
  b=$(basename "$f")
  [ -f "build-bench/cub384/sm90a/$b" ] && [[ $b == *wg2c* ]] || cp "$f" build-bench/cub384/sm90a/
done
cmp -s build-bench/cub/sm90a/fmha_decode_d256_e4m3_wg2c_sm90a.cubin build-bench/cub384/sm90a/fmha_decode_d256_e4m3_wg2c_sm90a.cubin \
  && { echo "cub384's wg2c equals this tree's"; exit 1; }
tar cJf .devrun/carry.tar.xz .deps/gpu/ptxfmha_bench .deps/gpu/ptxfmha_tests .deps/benchmark \
  build-bench/cub build-bench/cub384 build-bench/cubin-bench
du -b .devrun/carry.tar.xz
