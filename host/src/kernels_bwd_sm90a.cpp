// Kernel table rows of the attention backward on Hopper (sm_90a): the rows of
// ptx/manifest/sm90_bwd.h, the same rows the kernels' .ptx stubs take their KERNEL_* facts from,
// with the main kernels' dynamic shared memory from the body's own layout
// (ptx/body/sm90_bwd/layout.ptxh). tests/ tie every row to its .ptx (facts, .param block,
// .maxntid), to its cubin and to an independent shared-memory formula. One ptxfmha_bwd call
// runs the PRE, MAIN and POST rows of its head dim in stream order (host/src/bwd.h):
//   fmha_bwd_pre_d*   256 threads, grid (num_m_blocks, heads_q, batch), no shared memory
//   fmha_bwd_d*       384 threads (producer warpgroup + two consumer warpgroups), grid
//                     (ceil(seqlen_k / block_n), heads_kv, batch)
//   fmha_bwd_post_d*  256 threads, grid (num_m_blocks, heads_q, batch), no shared memory
//   fmha_bwd_d*_ext   as fmha_bwd_d* with the serving features (KernelInfo::features: window,
//                     softcap, ALiBi); chosen by bwd.cpp when a call uses one
//   fmha_bwd_dsink    256 threads, grid (heads_q), d_sink when a call asks for it; kind
//                     BwdPost with head dim 0
// block_m (query rows per m-block) is the main kernel's for all three: the pre and post
// kernels work on the same m-blocks of the dQ accumulator.
#include "attn_kernel_abi.h"
#include "bwd_abi.h"
#include "kernel_table.h"
#include "../../ptx/manifest/sm90_bwd.h"

namespace ptxfmha {

namespace {
constexpr int kBwdParamBytes = static_cast<int>(sizeof(BwdKernelParams));
// The features of the EXT main rows (ptx/body/sm90_bwd/features.ptxh); sinks need no kernel
// feature (the forward's LSE holds them), d_sink is fmha_bwd_pre's (bwd.cpp).
// Variable length (packed Q and / or K, seqused_k) runs on them too (varlen.ptxh), so the plain
// kernels' machine code stays that of the fixed-length problem.
constexpr uint32_t kBwdExtFeatures =
    kAttnWindow | kAttnSoftcap | kAttnAlibi | kAttnVarlenQ | kAttnVarlenK | kAttnSequsedK;

// The manifest's role column -> the row's kind.
#define PTXFMHA_SM90_BWD_KIND_PRE   KernelKind::BwdPre
#define PTXFMHA_SM90_BWD_KIND_MAIN  KernelKind::Bwd
#define PTXFMHA_SM90_BWD_KIND_POST  KernelKind::BwdPost
#define PTXFMHA_SM90_BWD_KIND_DSINK KernelKind::BwdPost  // head dim 0 (bwd.cpp: find_bwd_dsink_row)
#define PTXFMHA_SM90_BWD_KIND(name) PTXFMHA_CAT(PTXFMHA_SM90_BWD_KIND_, PTXFMHA_FIELD(SM90_BWD_ROLE_, name))

// One KernelInfo per manifest row (grid: host/src/bwd.cpp).
#define PTXFMHA_SM90_BWD_ROW(name)                                                              \
  {#name,                                                                                       \
   PTXFMHA_STR(PTXFMHA_FIELD(SM90_BWD_ARCH_, name)),                                            \
   PTXFMHA_SM(PTXFMHA_FIELD(SM90_BWD_ARCH_, name)),                                             \
   PTXFMHA_SM90_BWD_KIND(name),                                                                 \
   PTXFMHA_FIELD(SM90_BWD_HEAD_DIM_, name),                                                     \
   PTXFMHA_FIELD(SM90_BWD_BLOCK_M_, name),                                                      \
   PTXFMHA_FIELD(SM90_BWD_BLOCK_N_, name),                                                      \
   PTXFMHA_FIELD(SM90_BWD_THREADS_, name),                                                      \
   PTXFMHA_FIELD(SM90_BWD_SMEM_, name),                                                         \
   kBwdParamBytes,                                                                              \
   KernelInfo::Grid::GridMHB,                                                                   \
   PTXFMHA_FIELD(SM90_BWD_VARIANT_, name) == SM90_BWD_VARIANT_EXT ? kBwdExtFeatures : 0u},
const KernelInfo kRows[] = {SM90_BWD_KERNELS(PTXFMHA_SM90_BWD_ROW)};
#undef PTXFMHA_SM90_BWD_ROW

// Every row fits the 227 KiB of dynamic shared memory a Hopper CTA may opt into.
#define PTXFMHA_SM90_BWD_FITS(name)                                                             \
  static_assert(PTXFMHA_FIELD(SM90_BWD_SMEM_, name) <= 227 * 1024, #name ": shared memory > 227 KiB");
SM90_BWD_KERNELS(PTXFMHA_SM90_BWD_FITS)
#undef PTXFMHA_SM90_BWD_FITS
}  // namespace

KernelTable bwd_kernels_sm90a() { return {kRows, sizeof(kRows) / sizeof(kRows[0])}; }

}  // namespace ptxfmha
