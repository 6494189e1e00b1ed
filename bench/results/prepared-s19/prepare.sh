#!/usr/bin/env bash
# Branch s19-d256-wg (prepared in s19, no device lent; not run yet): builds what the calls carry
# (run from the repository root on the GPU-less machine):
#   .deps/gpu/ptxfmha_bench, .deps/gpu/ptxfmha_tests, .deps/benchmark   (bench/gpu-bundle.sh)
#   build-bench/cub       this tree's sm90a decode cubins only (the carry limit is 64 MiB)
#   build-mut/q/sm90a     mutation Q: the four d256 warpgroup cubins (_wg, _wg_cl, _e4m3_wg,
#                         _e4m3_wg_cl) with Q_TILE_STORE's swizzle left out (rows g > 0 of the Q
#                         tile in the wrong chunks): the warpgroup-row suites must fail
#   build-mut/cv/sm90a    mutation CV: the two d256 _e4m3_wg cubins with the conversion writing
#                         both e4m3 column blocks into the first two f16 blocks (CV_DST_OFF without
#                         its column-block term): the e4m3 warpgroup-row suite must fail
#   .devrun/env.sh        the device machine's environment (bench/devcall.sh: write_devrun_env)
# Then the device calls of PLAN.md (carry: CARRY below).
set -euo pipefail
cd "$(dirname "$0")/../../.."
. bench/devcall.sh
bash bench/gpu-bundle.sh
rm -rf build-bench/cub build-mut && mkdir -p build-bench/cub/sm90a build-mut/q/sm90a build-mut/cv/sm90a
cp build-bench/cubin/sm90a/fmha_decode_*.cubin build-bench/cub/sm90a/
# mutate(name, file, sed-expression, kernels...): build those cubins from a worktree of HEAD with
# the edit applied into build-mut/<name>/sm90a, each differing from the real one
mutate() {
  local name=$1 file=$2 expr=$3
  shift 3
  local wt
  wt=$(mktemp -d)/wt-mut
  git worktree add -q "$wt" HEAD
  sed -i "$expr" "$wt/$file"
  git -C "$wt" diff --quiet && { echo "mutation $name did not apply"; exit 1; }
  make -C "$wt" -j2 BUILD="$wt/build" $(for k in "$@"; do echo "$wt/build/cubin/sm90a/fmha_decode_${k}_sm90a.cubin"; done)
  for k in "$@"; do
    cp "$wt/build/cubin/sm90a/fmha_decode_${k}_sm90a.cubin" "build-mut/$name/sm90a/"
    cmp -s "build-mut/$name/sm90a/fmha_decode_${k}_sm90a.cubin" "build-bench/cub/sm90a/fmha_decode_${k}_sm90a.cubin" \
      && { echo "mutated cubin $k equals the real one"; exit 1; }
  done
  git worktree remove --force "$wt"
}
mutate q ptx/body/sm90_decode/wg_steps.ptxh \
  's/^    xor.b32         %t2, %t1, (2 \* (a)\( + 1\)\{0,1\}) \* 16;/    mov.b32         %t2, (2 * (a)\1) * 16;/' \
  d256_wg d256_wg_cl d256_e4m3_wg d256_e4m3_wg_cl
mutate cv ptx/body/sm90_decode/kv_e4m3_wg.ptxh \
  's/^#define CV_DST_OFF(k)       (((k) \/ CV_ROW_PASSES) \* CV_DST_CB_BYTES + /#define CV_DST_OFF(k)       (/' \
  d256_e4m3_wg d256_e4m3_wg_cl
write_devrun_env build-bench/cub
du -cb .deps/gpu/ptxfmha_bench .deps/gpu/ptxfmha_tests .deps/benchmark build-bench/cub build-bench/cubin-bench build-mut | tail -1
