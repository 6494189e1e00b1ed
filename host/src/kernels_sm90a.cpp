// Kernel table rows for Hopper (sm_90a). Each row mirrors the KERNEL_* macros of its
// ptx/sm90a/<name>.ptx; tests/ check the two agree.
#include "kernel_table.h"
#include "kernel_abi.h"

namespace ptxfmha {

namespace {
constexpr int kFwdParamBytes = static_cast<int>(sizeof(FwdKernelParams));
// Shared memory of the warp-specialised forward kernel, bytes (fmha_fwd_sm90.ptxh: Q_BUFS,
// KV_STAGES, SMEM_STAGE_OFF): 1024 bytes of alignment slack + Q (block_m rows; double-buffered
// up to head dim 128, where it fits) + kv_stages x (K + V) (block_n rows each) + 256 bytes of
// mbarriers and tile slots, + at head dim 256 a 32 KiB O staging area (8 warps x 16 rows x
// 128 columns of bf16; smaller head dims stage O in their Q buffer).
constexpr int fwd_smem_bytes(int head_dim, int block_m, int block_n, int kv_stages) {
  return 1024 + (head_dim <= 128 ? 2 : 1) * block_m * head_dim * 2 + kv_stages * 2 * block_n * head_dim * 2 +
         256 + (head_dim == 256 ? 8 * 16 * 128 * 2 : 0);
}
// head dim 64: 3 consumer warpgroups (BLOCK_M 192) and a 4-stage K/V ring
const KernelInfo kRows[] = {
    // name                  arch     sm  kind             D   BM   BN  thr  smem bytes           param bytes
    {"fmha_fwd_d64_sm90a", "sm90a", 90, KernelKind::Fwd, 64, 192, 128, 512, fwd_smem_bytes(64, 192, 128, 4), kFwdParamBytes, KernelInfo::Grid::TileLoop},
    {"fmha_fwd_d128_sm90a", "sm90a", 90, KernelKind::Fwd, 128, 128, 128, 384, fwd_smem_bytes(128, 128, 128, 2), kFwdParamBytes, KernelInfo::Grid::TileLoop},
    {"fmha_fwd_d256_sm90a", "sm90a", 90, KernelKind::Fwd, 256, 128, 64, 384, fwd_smem_bytes(256, 128, 64, 2), kFwdParamBytes, KernelInfo::Grid::TileLoop},
};
}  // namespace

KernelTable fwd_kernels_sm90a() { return {kRows, sizeof(kRows) / sizeof(kRows[0])}; }

}  // namespace ptxfmha
