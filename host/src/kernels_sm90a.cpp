// Kernel table rows for Hopper (sm_90a). Each row mirrors the KERNEL_* macros of its
// ptx/sm90a/<name>.ptx; tests/ check the two agree.
#include "kernel_table.h"
#include "kernel_abi.h"

namespace ptxfmha {

namespace {
constexpr int kFwdParamBytes = static_cast<int>(sizeof(FwdKernelParams));
// Shared memory of the warp-specialised forward kernel, bytes:
//   1024 alignment slack + Q (block_m rows) + 2 stages x (K + V) (block_n rows each) + 256 barriers.
// 1024 bytes of alignment slack + Q (double-buffered up to head dim 128, where it fits) + 2
// stages of K and V + 256 bytes of mbarriers and tile slots, + at head dim 256 a 32 KiB O
// staging area (8 warps x 16 rows x 128 columns of bf16; smaller head dims stage O in their
// Q buffer). fmha_fwd_sm90.ptxh: Q_BUFS, SMEM_STAGE_OFF.
constexpr int fwd_smem_bytes(int head_dim, int block_m, int block_n) {
  return 1024 + (head_dim <= 128 ? 2 : 1) * block_m * head_dim * 2 + 2 * 2 * block_n * head_dim * 2 + 256 +
         (head_dim == 256 ? 8 * 16 * 128 * 2 : 0);
}
const KernelInfo kRows[] = {
    // name                  arch     sm  kind             D   BM   BN  thr  smem bytes           param bytes
    {"fmha_fwd_d64_sm90a", "sm90a", 90, KernelKind::Fwd, 64, 128, 128, 384, fwd_smem_bytes(64, 128, 128), kFwdParamBytes, KernelInfo::Grid::TileLoop},
    {"fmha_fwd_d128_sm90a", "sm90a", 90, KernelKind::Fwd, 128, 128, 128, 384, fwd_smem_bytes(128, 128, 128), kFwdParamBytes, KernelInfo::Grid::TileLoop},
    {"fmha_fwd_d256_sm90a", "sm90a", 90, KernelKind::Fwd, 256, 128, 64, 384, fwd_smem_bytes(256, 128, 64), kFwdParamBytes, KernelInfo::Grid::TileLoop},
};
}  // namespace

KernelTable fwd_kernels_sm90a() { return {kRows, sizeof(kRows) / sizeof(kRows[0])}; }

}  // namespace ptxfmha
