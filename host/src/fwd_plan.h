// The forward's launch plan: how ptxfmha_fwd cuts a problem into work tiles, orders them,
// schedules them onto CTAs and sizes the grid. A pure function of the kernel-table row, the
// shape and two device numbers (SM count, L2 size): no driver call, no state, so every
// number the forward kernels receive is testable on a CPU (tests/test_cpu_launch_plan.cpp).
//
// Work tiles: one per (m-block of block_m query rows, query head, batch):
//   num_m_blocks = ceil(seqlen_q / block_m), total_tiles = num_m_blocks * heads_q * batch
//   (validate_fwd_shape keeps batch * heads_q * seqlen_q, hence total_tiles, below 2^31).
//   Variable-length Q (the feature rows): the kernel maps tiles to sequences itself; the plan
//   gives the upper bound total_tiles = heads_q * min(floor((total_q + batch * (block_m - 1))
//   / block_m), batch * num_m_blocks) (>= heads_q * sum_b ceil(len_q(b) / block_m)); tiles past
//   the last sequence end a CTA's loop at once.
// Schedules (KernelInfo::Grid says which a row's kernel supports):
//   MhbGrid           GridMHB rows: grid (num_m_blocks, heads_q, batch), one tile per CTA.
//   StaticPersistent  TileLoop, non-causal: tiles cost the same; min(total_tiles, #SMs) CTAs,
//                     CTA c takes tiles c, c + grid, c + 2 grid, ... (m-block-fastest order).
//   DynamicCounter    TileLoop, causal or uneven, with the stream's tile counter (tile_counter.h):
//                     min(total_tiles, #SMs) CTAs take tiles from the device counter,
//                     heaviest first inside groups of head_group (head, batch) pairs.
//   CtaPerTile        TileLoop, causal, no counter (the stream is being captured into a
//                     graph): total_tiles CTAs, one tile each; the hardware's in-order
//                     dispatch balances the unequal causal tiles.
// head_group (causal TileLoop with fixed-length Q only, else 1): (head, batch) pairs per tile-order group, sized
// so that a group's K and V (2 * seqlen_k * head_dim * 2 bytes per pair) fit in half the L2
// (CTAs working at the same time share them; 25 MiB assumed when the L2 size is unknown),
// clamped to [1, heads_q * batch]. The kernel (TILE_COORDS in the sm90a body) orders tiles
// group by group, m-block-major inside a group, m-blocks reversed for causal.
// #SMs <= 0 (unknown) never limits the grid.
#pragma once
#include <cstdint>

#include "context.h"
#include "kernel_table.h"
#include "ptxfmha/ptxfmha.h"

namespace ptxfmha {

// The sizes of a forward call that the plan reads (from validated ptxfmha_fwd_params, or a
// ptxfmha_attn call: attn_fwd_shape in fwd.cpp).
//   seqlen_q / seqlen_k   fixed lengths, or (variable length) the host's upper bounds
//                         max_seqlen_q / max_seqlen_k (paged: seqlen_k, the most keys)
//   causal                the window has a right bound (causal is window_right 0): m-blocks go
//                         heaviest first and the tiles differ in cost
//   varlen_q, total_q     packed Q: total_q rows in `batch` sequences of at most seqlen_q
//   uneven                (feature rows) the tiles may differ in cost for another reason:
//                         variable-length K, seqused_k, a window: dynamic schedule
struct FwdShape {
  int batch = 0, seqlen_q = 0, seqlen_k = 0, heads_q = 0, heads_kv = 0, head_dim = 0;
  bool causal = false;
  bool varlen_q = false;
  int64_t total_q = 0;
  bool uneven = false;
};
FwdShape fwd_shape(const ptxfmha_fwd_params& p);

enum class FwdSchedule { MhbGrid, StaticPersistent, DynamicCounter, CtaPerTile };
const char* fwd_schedule_name(FwdSchedule s);  // "mhb-grid", "static-persistent", ...

struct FwdLaunchPlan {
  int64_t num_m_blocks = 0;  // ceil(seqlen_q / block_m)             -> FwdKernelParams
  int64_t total_tiles = 0;   // num_m_blocks * heads_q * batch        -> FwdKernelParams
  int32_t head_group = 1;    // see above                             -> FwdKernelParams
  FwdSchedule schedule = FwdSchedule::MhbGrid;
  bool use_tile_counter = false;  // pass the stream's counter (DynamicCounter), else 0
  unsigned grid[3] = {1, 1, 1};
  unsigned block_threads = 0;     // row.threads
  unsigned smem_bytes = 0;        // row.smem_bytes (dynamic)
};

// The boxes of the four tensor maps (elements): inner box min(head_dim, 64), at most the
// 128-byte swizzle span; rows: Q block_m / q_tiles (one box per Q tile), K and V block_n, O 16
// (the epilogues store 16-row groups with TMA).
struct FwdTmaBoxes {
  unsigned cols = 0, rows_q = 0, rows_kv = 0, rows_o = 0;
};
FwdTmaBoxes plan_fwd_tma_boxes(const KernelInfo& row, const FwdShape& s);

// True when the plan for (row, s) would use the stream's tile counter if one exists (a
// TileLoop kernel whose tiles differ in cost (causal or uneven) and whose row takes one,
// KernelInfo::tile_counter): the forward asks
// tile_counter() only then.
bool fwd_wants_tile_counter(const KernelInfo& row, const FwdShape& s);

// The launch plan. `have_counter`: tile_counter() gave the stream's counter (false while the
// stream is being captured); ignored unless fwd_wants_tile_counter. Reads dev.num_sms and
// dev.l2_bytes only. Requires a validated shape (sizes >= 1, total_tiles < 2^31) and
// row.block_m >= 1.
FwdLaunchPlan plan_fwd(const KernelInfo& row, const FwdShape& s, const DeviceInfo& dev,
                       bool have_counter);

// ---- the feature rows' KV tile range (host copy of the kernels' rule) ---------------------
// The first query row of m-block m of a sequence of len_q rows (m-blocks end at its last row;
// the first one is partial, its rows < 0 do not exist): m * block_m - m_pad, m_pad =
// (ceil(len_q / block_m) * block_m - len_q) rounded down to a multiple of 16.
int64_t attn_m_block_first_row(int64_t m, int64_t len_q, int block_m);
// The KV tiles [j0, j0 + n) of block_n keys an m-block visits (ptx/body/sm90_fwd
// producer_ext.ptxh WINDOW_TILES): its rows that exist, ra = max(first_row, 0) .. rb =
// min(first_row + block_m - 1, len_q - 1), see keys kb = max(0, d(ra) - left) .. ke =
// min(len_k, d(rb) + right + 1), d(r) = r + len_k - len_q, a bound < 0 unbounded (the
// canonical window, causal folded in as right = 0); n = 0 when kb >= ke. Every key a row of
// the m-block sees lies in the range, and its first and last tile hold one
// (tests/test_cpu_launch_plan.cpp checks both against the reference's visibility).
struct AttnTileRange {
  int64_t j0 = 0, n = 0;
};
AttnTileRange attn_kv_tile_range(int64_t first_row, int64_t len_q, int64_t len_k, int block_m,
                                 int block_n, int32_t window_left, int32_t window_right);

}  // namespace ptxfmha
