// Kernel table rows of the attention backward on Hopper (sm_90a). Each row mirrors the
// KERNEL_* macros of its ptx/sm90a/<name>.ptx; tests/ check the two agree. One ptxfmha_bwd
// call runs the three rows of its head dim in stream order (host/src/bwd.h):
//   fmha_bwd_pre_d*   256 threads, grid (num_m_blocks, heads_q, batch), no shared memory
//   fmha_bwd_d*       384 threads (producer warpgroup + two consumer warpgroups), grid
//                     (ceil(seqlen_k / block_n), heads_kv, batch)
//   fmha_bwd_post_d*  256 threads, grid (num_m_blocks, heads_q, batch), no shared memory
// block_m (query rows per m-block) is the main kernel's for all three: the pre and post
// kernels work on the same m-blocks of the dQ accumulator.
#include "bwd_abi.h"
#include "kernel_table.h"

namespace ptxfmha {

namespace {
constexpr int kBwdParamBytes = static_cast<int>(sizeof(BwdKernelParams));
// Shared memory of the main kernel, bytes (ptx/body/sm90_bwd/layout.ptxh): 1024 bytes of
// alignment slack + K and V tiles (block_n x head_dim bf16 each) + `stages` x (Q + dO tiles,
// block_m x head_dim bf16) + two dS^T tiles (block_n x block_m bf16; four with the P^T tiles
// at head dim 256) + the fp32 dQ staging (block_m x head_dim) + `stages` x (-LSE*log2e and D
// rows, block_m fp32 each) + 64 bytes of mbarriers.
constexpr int bwd_smem_bytes(int head_dim, int block_m, int block_n, int stages, bool pt_tiles) {
  return 1024 + 2 * block_n * head_dim * 2 + stages * 2 * block_m * head_dim * 2 +
         (pt_tiles ? 4 : 2) * block_n * block_m * 2 + block_m * head_dim * 4 + stages * 2 * block_m * 4 + 64;
}
static_assert(bwd_smem_bytes(256, 64, 64, 1, true) <= 227 * 1024, "d256 shared memory");

const KernelInfo kRows[] = {
    // name                       arch     sm  kind                 D   BM   BN  thr  smem bytes                              param bytes
    {"fmha_bwd_pre_d64_sm90a", "sm90a", 90, KernelKind::BwdPre, 64, 128, 128, 256, 0, kBwdParamBytes},
    {"fmha_bwd_pre_d128_sm90a", "sm90a", 90, KernelKind::BwdPre, 128, 64, 128, 256, 0, kBwdParamBytes},
    {"fmha_bwd_pre_d256_sm90a", "sm90a", 90, KernelKind::BwdPre, 256, 64, 64, 256, 0, kBwdParamBytes},
    {"fmha_bwd_d64_sm90a", "sm90a", 90, KernelKind::Bwd, 64, 128, 128, 384, bwd_smem_bytes(64, 128, 128, 2, false), kBwdParamBytes},
    {"fmha_bwd_d128_sm90a", "sm90a", 90, KernelKind::Bwd, 128, 64, 128, 384, bwd_smem_bytes(128, 64, 128, 2, false), kBwdParamBytes},
    {"fmha_bwd_d256_sm90a", "sm90a", 90, KernelKind::Bwd, 256, 64, 64, 384, bwd_smem_bytes(256, 64, 64, 1, true), kBwdParamBytes},
    {"fmha_bwd_post_d64_sm90a", "sm90a", 90, KernelKind::BwdPost, 64, 128, 128, 256, 0, kBwdParamBytes},
    {"fmha_bwd_post_d128_sm90a", "sm90a", 90, KernelKind::BwdPost, 128, 64, 128, 256, 0, kBwdParamBytes},
    {"fmha_bwd_post_d256_sm90a", "sm90a", 90, KernelKind::BwdPost, 256, 64, 64, 256, 0, kBwdParamBytes},
};
}  // namespace

KernelTable bwd_kernels_sm90a() { return {kRows, sizeof(kRows) / sizeof(kRows[0])}; }

}  // namespace ptxfmha
