// The forward's launch plan (pure). See fwd_plan.h.
#include "fwd_plan.h"

#include <algorithm>

namespace ptxfmha {

namespace {
// Inner (head_dim) box of every tensor map: 64 bf16 = 128 bytes, the 128B-swizzle span.
// Narrower heads (head_dim < 64) get a box as wide as the head.
constexpr int kBoxColsElems = 64;
// Rows of the O tensor map's box: the sm_90a epilogue stores each warp's 16 rows with TMA.
constexpr int kOBoxRows = 16;
constexpr int kElemBytes = 2;                       // bf16 K and V
constexpr int64_t kDefaultL2Budget = int64_t(25) << 20;  // half of an unknown L2
}  // namespace

FwdShape fwd_shape(const ptxfmha_fwd_params& p) {
  FwdShape s;
  s.batch = p.batch;
  s.seqlen_q = p.seqlen_q;
  s.seqlen_k = p.seqlen_k;
  s.heads_q = p.heads_q;
  s.heads_kv = p.heads_kv;
  s.head_dim = p.head_dim;
  s.causal = p.causal != 0;
  return s;
}

const char* fwd_schedule_name(FwdSchedule s) {
  switch (s) {
    case FwdSchedule::MhbGrid: return "mhb-grid";
    case FwdSchedule::StaticPersistent: return "static-persistent";
    case FwdSchedule::DynamicCounter: return "dynamic-counter";
    case FwdSchedule::CtaPerTile: return "cta-per-tile";
  }
  return "unknown";
}

bool fwd_wants_tile_counter(const KernelInfo& row, const FwdShape& s) {
  return row.grid == KernelInfo::Grid::TileLoop && row.tile_counter && (s.causal || s.uneven);
}

FwdTmaBoxes plan_fwd_tma_boxes(const KernelInfo& row, const FwdShape& s) {
  FwdTmaBoxes b;
  b.cols = static_cast<unsigned>(s.head_dim < kBoxColsElems ? s.head_dim : kBoxColsElems);
  b.rows_q = static_cast<unsigned>(row.block_m / (row.q_tiles > 1 ? row.q_tiles : 1));
  b.rows_kv = static_cast<unsigned>(row.block_n);
  b.rows_o = static_cast<unsigned>(kOBoxRows);
  return b;
}

FwdLaunchPlan plan_fwd(const KernelInfo& row, const FwdShape& s, const DeviceInfo& dev,
                       bool have_counter) {
  FwdLaunchPlan plan;
  plan.num_m_blocks = (int64_t(s.seqlen_q) + row.block_m - 1) / row.block_m;
  plan.total_tiles = plan.num_m_blocks * s.heads_q * s.batch;  // <= rows_q < 2^31
  if (s.varlen_q) {  // an upper bound; the kernel finds each tile's sequence
    const int64_t by_rows = (s.total_q + int64_t(s.batch) * (row.block_m - 1)) / row.block_m;
    plan.total_tiles = s.heads_q * std::min(by_rows, plan.num_m_blocks * s.batch);
  }
  plan.block_threads = static_cast<unsigned>(row.threads);
  plan.smem_bytes = static_cast<unsigned>(row.smem_bytes);

  if (row.grid != KernelInfo::Grid::TileLoop) {
    plan.schedule = FwdSchedule::MhbGrid;
    plan.grid[0] = static_cast<unsigned>(plan.num_m_blocks);
    plan.grid[1] = static_cast<unsigned>(s.heads_q);
    plan.grid[2] = static_cast<unsigned>(s.batch);
    return plan;
  }
  // 1-D persistent grid over work tiles (kernel_table.h), one CTA per SM. Causal tiles
  // differ in cost: they are taken from the stream's tile counter, heaviest first inside
  // groups of (head, batch) pairs whose K and V fit in half the L2 (CTAs working at the
  // same time share them); without a counter (graph capture) causal gets one CTA per
  // tile, which the hardware balances. Non-causal tiles cost the same: static round robin
  // over m-block-fastest order.
  if (s.causal || s.uneven) {
    if (s.causal && !s.varlen_q) {
      const int64_t kv_bytes_per_pair = 2 * std::max<int64_t>(1, s.seqlen_k) * s.head_dim * kElemBytes;
      const int64_t budget = dev.l2_bytes > 0 ? dev.l2_bytes / 2 : kDefaultL2Budget;
      int64_t group = budget / kv_bytes_per_pair;
      group = std::max<int64_t>(1, std::min<int64_t>(group, int64_t(s.heads_q) * s.batch));
      plan.head_group = static_cast<int32_t>(group);
    }
    plan.use_tile_counter = have_counter;
    plan.schedule = have_counter ? FwdSchedule::DynamicCounter : FwdSchedule::CtaPerTile;
  } else {
    plan.schedule = FwdSchedule::StaticPersistent;
  }
  int64_t ctas = std::max<int64_t>(1, plan.total_tiles);
  if (plan.schedule != FwdSchedule::CtaPerTile && dev.num_sms > 0 && ctas > dev.num_sms)
    ctas = dev.num_sms;
  plan.grid[0] = static_cast<unsigned>(ctas);
  plan.grid[1] = 1;
  plan.grid[2] = 1;
  return plan;
}

int64_t attn_m_block_first_row(int64_t m, int64_t len_q, int block_m) {
  const int64_t nmb = (len_q + block_m - 1) / block_m;
  const int64_t m_pad = (nmb * block_m - len_q) & ~int64_t(15);
  return m * block_m - m_pad;
}

AttnTileRange attn_kv_tile_range(int64_t first_row, int64_t len_q, int64_t len_k, int block_m,
                                 int block_n, int32_t window_left, int32_t window_right) {
  AttnTileRange r;
  const int64_t ra = std::max<int64_t>(first_row, 0);
  const int64_t rb = std::min<int64_t>(first_row + block_m - 1, len_q - 1);
  if (rb < ra) return r;
  const int64_t dk = len_k - len_q;
  const int64_t kb = window_left >= 0 ? std::max<int64_t>(0, ra + dk - window_left) : 0;
  const int64_t ke = window_right >= 0 ? std::min<int64_t>(len_k, rb + dk + window_right + 1) : len_k;
  if (kb >= ke) return r;
  r.j0 = kb / block_n;
  r.n = (ke + block_n - 1) / block_n - r.j0;
  return r;
}

}  // namespace ptxfmha
