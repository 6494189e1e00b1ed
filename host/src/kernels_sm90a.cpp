// Kernel table rows for Hopper (sm_90a): the rows of ptx/manifest/sm90_fwd.h, the same rows the
// kernels' .ptx stubs take their KERNEL_* facts from, with the dynamic shared memory of the
// body's own layout (ptx/body/sm90_fwd/layout.ptxh), the parameter block of the row's variant
// (FwdKernelParams, or AttnKernelParams for the feature rows) and the features it implements. tests/ tie every row to its .ptx (facts,
// .param block, .maxntid), to its cubin and to an independent shared-memory formula.
#include "attn_kernel_abi.h"
#include "kernel_table.h"
#include "kernel_abi.h"
#include "../../ptx/manifest/sm90_fwd.h"

namespace ptxfmha {

namespace {
static_assert(FWD_PARAM_BYTES == sizeof(FwdKernelParams), "fwd_params.ptxh: FWD_PARAM_BYTES");
static_assert(ATTN_PARAM_BYTES == sizeof(AttnKernelParams), "fwd_params.ptxh: ATTN_PARAM_BYTES");

// The features of a manifest variant (the VARIANT column): PLAIN none; EXT every feature but
// paged K/V; PAGED every feature (a call without a block table runs its contiguous path).
constexpr uint32_t variant_features(int v) {
  return v == SM90_FWD_VARIANT_PLAIN ? 0u
         : v == SM90_FWD_VARIANT_EXT ? (kAttnAllFeatures & ~uint32_t(kAttnPagedKV))
                                     : kAttnAllFeatures;
}

// One KernelInfo per manifest row; persistent tile loop (kernel_table.h, Grid::TileLoop).
#define PTXFMHA_SM90_FWD_ROW(name)                                                              \
  {#name,                                                                                       \
   PTXFMHA_STR(PTXFMHA_FIELD(SM90_FWD_ARCH_, name)),                                            \
   PTXFMHA_SM(PTXFMHA_FIELD(SM90_FWD_ARCH_, name)),                                             \
   KernelKind::Fwd,                                                                             \
   PTXFMHA_FIELD(SM90_FWD_HEAD_DIM_, name),                                                     \
   PTXFMHA_FIELD(SM90_FWD_BLOCK_M_, name),                                                      \
   PTXFMHA_FIELD(SM90_FWD_BLOCK_N_, name),                                                      \
   PTXFMHA_FIELD(SM90_FWD_THREADS_, name),                                                      \
   PTXFMHA_FIELD(SM90_FWD_SMEM_, name),                                                         \
   PTXFMHA_FIELD(SM90_FWD_PARAM_BYTES_, name),                                                  \
   KernelInfo::Grid::TileLoop,                                                                  \
   variant_features(PTXFMHA_FIELD(SM90_FWD_VARIANT_, name))},
const KernelInfo kRows[] = {SM90_FWD_KERNELS(PTXFMHA_SM90_FWD_ROW)};
#undef PTXFMHA_SM90_FWD_ROW

// Every row fits the 227 KiB of dynamic shared memory a Hopper CTA may opt into.
#define PTXFMHA_SM90_FWD_FITS(name)                                                             \
  static_assert(PTXFMHA_FIELD(SM90_FWD_SMEM_, name) <= 227 * 1024, #name ": shared memory > 227 KiB");
SM90_FWD_KERNELS(PTXFMHA_SM90_FWD_FITS)
#undef PTXFMHA_SM90_FWD_FITS
}  // namespace

KernelTable fwd_kernels_sm90a() { return {kRows, sizeof(kRows) / sizeof(kRows[0])}; }

}  // namespace ptxfmha
