// Kernel table rows for Blackwell (sm_100a). Each row mirrors the KERNEL_* macros of its
// ptx/sm100a/<name>.ptx; tests/test_sm100a_kernels.cpp checks the two agree (and the
// shared-memory and TMEM maps of each kernel's header).
//
// Selection: find_kernel() takes the first row of (arch, kind, head_dim), so each head dim's
// default kernel (P in Tensor Memory, TS MMA for O += P V) comes before its "_pss_" comparison
// variant (P through shared memory, SS MMA). The _pss_ rows are there to be run and compared
// (GPU tests iterate every row), never to be picked by ptxfmha_fwd.
#include "kernel_table.h"
#include "kernel_abi.h"

namespace ptxfmha {

namespace {
constexpr int kFwdParamBytes = static_cast<int>(sizeof(FwdKernelParams));

// Dynamic shared memory of an sm100a forward kernel, bytes:
//   1024 alignment slack + Q (128 rows) + stages x (K + V) (block_n rows each)
//   + P buffers (pss only: 2 x 128 rows x block_n keys) + 256 barrier block.
constexpr int sm100_fwd_smem_bytes(int head_dim, int block_n, int stages, bool p_in_smem) {
  return 1024 + 128 * head_dim * 2 + stages * 2 * block_n * head_dim * 2 +
         (p_in_smem ? 2 * 128 * block_n * 2 : 0) + 256;
}

const KernelInfo kRows[] = {
    // name                        arch      sm   kind             D   BM   BN  thr  smem bytes                              param bytes
    {"fmha_fwd_d64_sm100a", "sm100a", 100, KernelKind::Fwd, 64, 128, 128, 192, sm100_fwd_smem_bytes(64, 128, 3, false), kFwdParamBytes},
    {"fmha_fwd_d128_sm100a", "sm100a", 100, KernelKind::Fwd, 128, 128, 128, 192, sm100_fwd_smem_bytes(128, 128, 2, false), kFwdParamBytes},
    {"fmha_fwd_d256_sm100a", "sm100a", 100, KernelKind::Fwd, 256, 128, 64, 192, sm100_fwd_smem_bytes(256, 64, 2, false), kFwdParamBytes},
    // Comparison variants (P through shared memory); after the defaults on purpose.
    {"fmha_fwd_d64_pss_sm100a", "sm100a", 100, KernelKind::Fwd, 64, 128, 128, 192, sm100_fwd_smem_bytes(64, 128, 3, true), kFwdParamBytes},
    {"fmha_fwd_d128_pss_sm100a", "sm100a", 100, KernelKind::Fwd, 128, 128, 128, 192, sm100_fwd_smem_bytes(128, 128, 2, true), kFwdParamBytes},
};

static_assert(sm100_fwd_smem_bytes(64, 128, 3, false) == 115968, "fmha_fwd_d64_sm100a smem map");
static_assert(sm100_fwd_smem_bytes(128, 128, 2, false) == 165120, "fmha_fwd_d128_sm100a smem map");
static_assert(sm100_fwd_smem_bytes(256, 64, 2, false) == 197888, "fmha_fwd_d256_sm100a smem map");
static_assert(sm100_fwd_smem_bytes(64, 128, 3, true) == 181504, "fmha_fwd_d64_pss_sm100a smem map");
static_assert(sm100_fwd_smem_bytes(128, 128, 2, true) == 230656, "fmha_fwd_d128_pss_sm100a smem map");
static_assert(sm100_fwd_smem_bytes(128, 128, 2, true) <= 232448, "227 KiB opt-in limit of sm_100");
}  // namespace

KernelTable fwd_kernels_sm100a() { return {kRows, sizeof(kRows) / sizeof(kRows[0])}; }

}  // namespace ptxfmha
