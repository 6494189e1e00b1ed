// Kernel table rows for Blackwell (sm_100a) forward kernels: the rows of ptx/manifest/sm100_fwd.h
// (the two-tile family, ptx/body/sm100_fwd/) and of ptx/manifest/sm100_fwd_serial.h (the serial
// family, ptx/body/sm100_fwd_serial/), the same rows the kernels' .ptx stubs take their KERNEL_*
// facts from, with the dynamic shared memory of each body's own layout. tests/test_cpu_sm100a_kernels.cpp
// checks the rows against the .ptx (and the shared-memory and TMEM maps against their budgets).
//
// Selection: find_kernel() takes the first row of (arch, kind, head_dim). The plain two-tile
// kernels come first: ptxfmha_fwd runs them; ptxfmha_attn picks the _ext rows (the serving
// features, issue 14) by their features (fwd.cpp find_attn_row). The _serial kernels and their "_serial_pss_" comparison
// variants follow, to be run by name (--ptxfmha_fwd_kernel=NAME in the bench, fwd_with_row; the
// GPU suites run every row), never picked by ptxfmha_fwd.
#include "attn_kernel_abi.h"
#include "kernel_table.h"
#include "kernel_abi.h"
#include "../../ptx/manifest/sm100_fwd.h"
#include "../../ptx/manifest/sm100_fwd_serial.h"

namespace ptxfmha {

namespace {
constexpr int kFwdParamBytes = static_cast<int>(sizeof(FwdKernelParams));
static_assert(FWD_PARAM_BYTES == sizeof(FwdKernelParams), "fwd_params.ptxh: FWD_PARAM_BYTES");
static_assert(ATTN_PARAM_BYTES == sizeof(AttnKernelParams), "fwd_params.ptxh: ATTN_PARAM_BYTES");

// The features of a manifest variant (the VARIANT column): PLAIN none; EXT (issue 14) every
// feature of ptxfmha_attn: variable-length Q and K, seqused_k, paged K/V (the block table walked
// per TMA box; rows past len_k of a V tile zeroed in shared memory before PV reads them, the V
// tail fix: ptx/body/sm100_fwd/features.ptxh KV_ISSUE_EXT), the window, softcap, sinks, ALiBi.
constexpr uint32_t kSm100ExtFeatures = kAttnVarlenQ | kAttnVarlenK | kAttnPagedKV | kAttnSequsedK |
                                       kAttnWindow | kAttnSoftcap | kAttnSinks | kAttnAlibi;
constexpr uint32_t sm100_variant_features(int v) {
  return v == SM100_FWD_VARIANT_EXT ? kSm100ExtFeatures : 0u;
}

// Two-tile rows: a 1-D persistent grid over work tiles (Grid::TileLoop) in the static order only
// (tile_counter false: causal problems get one CTA per tile, heaviest first), Q_TILES Q boxes of
// 128 rows per work tile.
#define PTXFMHA_SM100_FWD_ROW(name)                                                             \
  {#name,                                                                                       \
   PTXFMHA_STR(PTXFMHA_FIELD(SM100_FWD_ARCH_, name)),                                           \
   PTXFMHA_SM(PTXFMHA_FIELD(SM100_FWD_ARCH_, name)),                                            \
   KernelKind::Fwd,                                                                             \
   PTXFMHA_FIELD(SM100_FWD_HEAD_DIM_, name),                                                    \
   PTXFMHA_FIELD(SM100_FWD_BLOCK_M_, name),                                                     \
   PTXFMHA_FIELD(SM100_FWD_BLOCK_N_, name),                                                     \
   PTXFMHA_FIELD(SM100_FWD_THREADS_, name),                                                     \
   PTXFMHA_FIELD(SM100_FWD_SMEM_, name),                                                        \
   PTXFMHA_FIELD(SM100_FWD_PARAM_BYTES_, name),                                                 \
   KernelInfo::Grid::TileLoop,                                                                  \
   sm100_variant_features(PTXFMHA_FIELD(SM100_FWD_VARIANT_, name)),                             \
   PTXFMHA_FIELD(SM100_FWD_Q_TILES_, name),                                                     \
   false},
// Serial rows: grid (num_m_blocks, heads_q, batch) (Grid::GridMHB).
#define PTXFMHA_SM100_SERIAL_ROW(name)                                                          \
  {#name,                                                                                       \
   PTXFMHA_STR(PTXFMHA_FIELD(SM100_SERIAL_ARCH_, name)),                                        \
   PTXFMHA_SM(PTXFMHA_FIELD(SM100_SERIAL_ARCH_, name)),                                         \
   KernelKind::Fwd,                                                                             \
   PTXFMHA_FIELD(SM100_SERIAL_HEAD_DIM_, name),                                                 \
   SM100_SERIAL_BLOCK_M,                                                                        \
   PTXFMHA_FIELD(SM100_SERIAL_BLOCK_N_, name),                                                  \
   SM100_SERIAL_THREADS,                                                                        \
   PTXFMHA_FIELD(SM100_SERIAL_SMEM_, name),                                                     \
   kFwdParamBytes,                                                                              \
   KernelInfo::Grid::GridMHB},
const KernelInfo kRows[] = {SM100_FWD_KERNELS(PTXFMHA_SM100_FWD_ROW)
                                SM100_FWD_SERIAL_KERNELS(PTXFMHA_SM100_SERIAL_ROW)};
#undef PTXFMHA_SM100_FWD_ROW
#undef PTXFMHA_SM100_SERIAL_ROW

// Every row fits the 227 KiB (232448 bytes) of dynamic shared memory an sm_100 CTA may opt into.
#define PTXFMHA_SM100_FWD_FITS(name)                                                            \
  static_assert(PTXFMHA_FIELD(SM100_FWD_SMEM_, name) <= 232448, #name ": shared memory > 227 KiB");
SM100_FWD_KERNELS(PTXFMHA_SM100_FWD_FITS)
#undef PTXFMHA_SM100_FWD_FITS
#define PTXFMHA_SM100_SERIAL_FITS(name)                                                         \
  static_assert(PTXFMHA_FIELD(SM100_SERIAL_SMEM_, name) <= 232448, #name ": shared memory > 227 KiB");
SM100_FWD_SERIAL_KERNELS(PTXFMHA_SM100_SERIAL_FITS)
#undef PTXFMHA_SM100_SERIAL_FITS
}  // namespace

KernelTable fwd_kernels_sm100a() { return {kRows, sizeof(kRows) / sizeof(kRows[0])}; }

}  // namespace ptxfmha
