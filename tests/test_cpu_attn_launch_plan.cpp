// CPU tests of the feature rows' launch plan and parameter block (no device):
//   - plan_fwd for variable-length Q: the upper bound of the work tiles (exact values and,
//     over random lengths, >= the tiles the kernel's sequence cursor maps), the dynamic
//     schedule for uneven tiles, one CTA per tile under graph capture;
//   - attn_kv_tile_range, the host's copy of the kernels' window rule (producer_ext.ptxh
//     WINDOW_TILES), against visibility written out from ptxfmha.h ("Visibility") here: every
//     visible key of an m-block lies in its tiles, the first and last tile hold one when every
//     row sees a key, and a window's tile count does not grow with the keys;
//   - attn_ext_fields: the kernels' window form, score constants, strides of each layout;
//   - find_attn_row / attn_supported_features over the real kernel table.
#include <doctest/doctest.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "attn.h"
#include "attn_kernel_abi.h"
#include "fwd.h"
#include "fwd_plan.h"
#include "kernel_lookup.h"
#include "validate_attn.h"
#include "shapes.h"

namespace {

using ptxfmha::FwdLaunchPlan;
using ptxfmha::FwdSchedule;
using ptxfmha::FwdShape;
using ptxfmha::KernelInfo;
using ptxfmha::KernelKind;

const KernelInfo kExt128 = {"test_fwd_ext_m128", "sm90a", 90, KernelKind::Fwd, 128, 128, 128, 384, 200000, 768,
                            KernelInfo::Grid::TileLoop, 0xfb};
const KernelInfo kExt192 = {"test_fwd_ext_m192", "sm90a", 90, KernelKind::Fwd, 64, 192, 128, 512, 190000, 768,
                            KernelInfo::Grid::TileLoop, 0xfb};

ptxfmha::DeviceInfo h100() {
  ptxfmha::DeviceInfo d;
  d.num_sms = 132;
  d.l2_bytes = 50 << 20;
  return d;
}

FwdShape varlen_shape(int batch, int max_q, int64_t total_q, int hq, bool causal) {
  FwdShape s;
  s.batch = batch;
  s.seqlen_q = max_q;
  s.seqlen_k = max_q;
  s.heads_q = hq;
  s.heads_kv = hq;
  s.head_dim = 128;
  s.causal = causal;
  s.varlen_q = true;
  s.total_q = total_q;
  s.uneven = true;
  return s;
}

// ptxfmha.h "Visibility": row i of a sequence (d = i + len_k - len_q) sees key j in
// [0, len_k) when (left < 0 || j >= d - left) && (right < 0 || j <= d + right).
bool visible(int64_t i, int64_t j, int64_t len_q, int64_t len_k, int left, int right) {
  const int64_t d = i + len_k - len_q;
  return j >= 0 && j < len_k && (left < 0 || j >= d - left) && (right < 0 || j <= d + right);
}

}  // namespace

TEST_CASE("cpu attn launch plan: variable-length Q tiles are an upper bound, dynamic schedule") {
  // 32 heads, batch 4, total 1000 rows, max 700: m-blocks of 128: by rows (1000 + 4 * 127) /
  // 128 = 1508 / 128 = 11, by sequences 4 * ceil(700 / 128) = 24 -> 11 x 32 = 352 tiles.
  FwdLaunchPlan p = ptxfmha::plan_fwd(kExt128, varlen_shape(4, 700, 1000, 32, true), h100(), true);
  CHECK(p.num_m_blocks == 6);
  CHECK(p.total_tiles == 352);
  CHECK(p.schedule == FwdSchedule::DynamicCounter);
  CHECK(p.use_tile_counter);
  CHECK(p.head_group == 1);  // the kernel's varlen order has no groups
  CHECK(p.grid[0] == 132);
  // graph capture: one CTA per (upper-bound) tile, the extra ones exit at once
  p = ptxfmha::plan_fwd(kExt128, varlen_shape(4, 700, 1000, 32, true), h100(), false);
  CHECK(p.schedule == FwdSchedule::CtaPerTile);
  CHECK(p.grid[0] == 352);
  // the sequence bound wins for a few long sequences: batch 2, max 100, total 200 rows
  // -> by rows (200 + 254) / 128 = 3, by sequences 2 * 1 = 2 -> 2 x 8 heads
  p = ptxfmha::plan_fwd(kExt128, varlen_shape(2, 100, 200, 8, false), h100(), true);
  CHECK(p.total_tiles == 16);
  CHECK(p.schedule == FwdSchedule::DynamicCounter);  // uneven: window / varlen
  // no query rows at all still plans one CTA (ptxfmha_attn returns before launching)
  p = ptxfmha::plan_fwd(kExt128, varlen_shape(3, 0, 0, 8, false), h100(), true);
  CHECK(p.total_tiles == 0);
  CHECK(p.grid[0] == 1);
}

TEST_CASE("cpu attn launch plan: the bound covers every sequence's m-blocks (random lengths)") {
  std::mt19937_64 rng(7);
  for (int it = 0; it < 2000; ++it) {
    const KernelInfo& row = (it % 2) ? kExt128 : kExt192;
    const int batch = std::uniform_int_distribution<int>(1, 40)(rng);
    const int hq = std::uniform_int_distribution<int>(1, 16)(rng);
    std::vector<int> lens;
    int64_t total = 0, need = 0;
    int max_q = 0;
    for (int b = 0; b < batch; ++b) {
      const int l = std::uniform_int_distribution<int>(0, 3)(rng) == 0 ? 0
                                                                        : std::uniform_int_distribution<int>(1, 5000)(rng);
      lens.push_back(l);
      total += l;
      max_q = std::max(max_q, l);
      need += (l + row.block_m - 1) / row.block_m;
    }
    const int declared_max = max_q + std::uniform_int_distribution<int>(0, 300)(rng);  // a loose host bound
    const FwdLaunchPlan p = ptxfmha::plan_fwd(row, varlen_shape(batch, declared_max, total, hq, it % 3 == 0),
                                              h100(), true);
    CAPTURE(it);
    CHECK(p.total_tiles >= need * hq);
    CHECK(p.total_tiles <= (need + batch) * hq);  // never more than one spare m-block per sequence
    CHECK(p.total_tiles < (int64_t(1) << 31));
  }
}

TEST_CASE("cpu attn launch plan: m-block rows end at the sequence's last row (m_pad)") {
  for (int bm : {128, 192})
    for (int64_t len : {1, 15, 16, 17, 127, 128, 129, 191, 192, 193, 1000, 4097}) {
      CAPTURE(bm);
      CAPTURE(len);
      const int64_t nmb = (len + bm - 1) / bm;
      const int64_t last_first = ptxfmha::attn_m_block_first_row(nmb - 1, len, bm);
      CHECK(last_first + bm - 1 >= len - 1);  // the last m-block reaches the last row
      CHECK(last_first + bm - 1 < len + 15);  // and passes it by less than 16 rows
      const int64_t first = ptxfmha::attn_m_block_first_row(0, len, bm);
      CHECK((-first) % 16 == 0);  // warp boxes of 16 rows: wholly below row 0 or at rows >= 0
      CHECK(first <= 0);
      CHECK(first > -bm);
    }
}

TEST_CASE("cpu attn launch plan: the window's KV tile range holds every visible key, tightly") {
  std::mt19937_64 rng(11);
  long long blocks = 0, tight_checked = 0;
  for (int it = 0; it < 3000; ++it) {
    const int bm = (it % 3 == 0) ? 192 : 128, bn = (it % 5 == 0) ? 64 : 128;
    const int64_t len_q = std::uniform_int_distribution<int>(1, 700)(rng);
    const int64_t len_k = std::uniform_int_distribution<int>(0, 900)(rng);
    const int kind = std::uniform_int_distribution<int>(0, 4)(rng);
    int left = -1, right = -1;
    if (kind == 1) right = 0;                                                     // causal
    if (kind == 2) { right = 0; left = std::uniform_int_distribution<int>(0, 300)(rng); }  // causal window
    if (kind == 3) { left = std::uniform_int_distribution<int>(0, 300)(rng); right = std::uniform_int_distribution<int>(0, 300)(rng); }
    if (kind == 4) left = std::uniform_int_distribution<int>(0, 50)(rng);
    const int64_t nmb = (len_q + bm - 1) / bm;
    for (int64_t m = 0; m < nmb; ++m) {
      const int64_t first = ptxfmha::attn_m_block_first_row(m, len_q, bm);
      const ptxfmha::AttnTileRange r = ptxfmha::attn_kv_tile_range(first, len_q, len_k, bm, bn, left, right);
      CAPTURE(it);
      CAPTURE(m);
      CAPTURE(len_q);
      CAPTURE(len_k);
      CAPTURE(left);
      CAPTURE(right);
      REQUIRE(r.n >= 0);
      bool every_row_sees = true;
      int64_t lo_key = INT64_MAX, hi_key = -1;
      for (int64_t i = std::max<int64_t>(first, 0); i < std::min<int64_t>(first + bm, len_q); ++i) {
        bool any = false;
        for (int64_t j = 0; j < len_k; ++j) {
          if (!visible(i, j, len_q, len_k, left, right)) continue;
          any = true;
          lo_key = std::min(lo_key, j);
          hi_key = std::max(hi_key, j);
          const int64_t t = j / bn;
          if (!(t >= r.j0 && t < r.j0 + r.n))
            FAIL("visible key " << j << " of row " << i << " outside tiles [" << r.j0 << ", " << r.j0 + r.n << ")");
        }
        every_row_sees = every_row_sees && any;
      }
      if (hi_key < 0) CHECK(r.n == 0);  // nothing visible: no tile at all
      if (every_row_sees && hi_key >= 0) {
        CHECK(lo_key / bn == r.j0);
        CHECK(hi_key / bn == r.j0 + r.n - 1);
        ++tight_checked;
      }
      if (left >= 0 && right >= 0)  // a window's cost: bounded by its width, not by len_k
        CHECK(r.n <= (bm + left + right + bn - 1) / bn + 1);
      ++blocks;
    }
  }
  MESSAGE("m-blocks checked: " << blocks << ", tight ranges: " << tight_checked);
  CHECK(tight_checked > 1000);
}

TEST_CASE("cpu attn launch plan: the feature block's fields for each layout") {
  ptxfmha_attn_params p;
  ptxfmha_attn_params_init(&p);
  p.batch = 2; p.heads_q = 8; p.heads_kv = 2; p.head_dim = 128; p.softmax_scale = 0.125f;
  p.seqlen_q = 300; p.seqlen_k = 5000;
  p.o_batch_stride = 300 * 8 * 128; p.o_seq_stride = 8 * 128; p.o_head_stride = 128;
  const KernelInfo* ext = ptxfmha::find_attn_row(90, 128, ptxfmha::kAttnWindow);
  REQUIRE(ext != nullptr);
  SUBCASE("fixed Q, causal sliding window, softcap") {
    p.causal = 1;
    p.window_left = 1000;
    p.softcap = 50.0f;
    const ptxfmha::AttnExtFields e = ptxfmha::attn_ext_fields(p, ptxfmha::attn_features(p), *ext);
    CHECK(e.features == (ptxfmha::kAttnWindow | ptxfmha::kAttnSoftcap));
    CHECK(e.window_left == 1000);
    CHECK(e.window_right1 == 1);  // causal: right bound 0
    CHECK(e.softcap_pre == doctest::Approx(0.125 / 50.0));
    CHECK(e.softcap_post == doctest::Approx(50.0 / 0.125));
    CHECK(e.alibi_mul == doctest::Approx(-8.0));
    CHECK(e.lse_head_stride == 300);
    CHECK(e.lse_batch_stride == 8 * 300);
    CHECK(e.o_seqbase_stride == p.o_batch_stride);
    CHECK(e.box_shift == 7);
  }
  SUBCASE("a window wider than the keys is unbounded (INT32_MAX), full attention too") {
    p.window_left = 6000;
    p.window_right = 400;  // >= max len_q - 1: no cut
    const ptxfmha::AttnExtFields e = ptxfmha::attn_ext_fields(p, 0, *ext);
    CHECK(e.window_left == INT32_MAX);
    CHECK(e.window_right1 == INT32_MAX);
    CHECK(e.softcap_pre == 0.0f);
  }
  SUBCASE("varlen Q: packed LSE [heads_q, total_q] and O rows") {
    p.seqlen_q = 0; p.max_seqlen_q = 200; p.total_q = 350; p.o_batch_stride = 0;
    int32_t dummy = 0;
    p.cu_seqlens_q = &dummy;
    const ptxfmha::AttnExtFields e = ptxfmha::attn_ext_fields(p, ptxfmha::attn_features(p), *ext);
    CHECK(e.features == ptxfmha::kAttnVarlenQ);
    CHECK(e.lse_head_stride == 350);
    CHECK(e.lse_batch_stride == 1);
    CHECK(e.o_seqbase_stride == p.o_seq_stride);
  }
  SUBCASE("paged: boxes of min(page_size, block_n) rows") {
    int32_t dummy = 0;
    p.block_table = &dummy;
    p.max_blocks_per_seq = 100;
    p.num_pages = 200;
    const KernelInfo* paged = ptxfmha::find_attn_row(90, 128, ptxfmha::kAttnPagedKV);
    REQUIRE(paged != nullptr);
    for (int ps : ptxfmha_test::kPageSizes) {
      CAPTURE(ps);
      p.page_size = ps;
      const ptxfmha::AttnExtFields e = ptxfmha::attn_ext_fields(p, ptxfmha::attn_features(p), *paged);
      CHECK((1 << e.page_shift) == ps);
      CHECK((1 << e.box_shift) == std::min(ps, paged->block_n));
    }
    const KernelInfo* paged256 = ptxfmha::find_attn_row(90, 256, ptxfmha::kAttnPagedKV);
    REQUIRE(paged256 != nullptr);
    p.page_size = 256;
    CHECK((1 << ptxfmha::attn_ext_fields(p, 0, *paged256).box_shift) == 64);  // block_n 64 at head dim 256
  }
}

TEST_CASE("cpu attn launch plan: ptxfmha_attn's row choice and the architectures' features") {
  using namespace ptxfmha;
  for (int d : ptxfmha_test::kHeadDims) {
    CAPTURE(d);
    const KernelInfo* plain = find_attn_row(90, d, 0);
    REQUIRE(plain != nullptr);
    CHECK(plain->features == 0u);
    CHECK(plain == find_kernel(90, KernelKind::Fwd, d));
    for (uint32_t f : {uint32_t(kAttnWindow), uint32_t(kAttnVarlenQ | kAttnVarlenK), uint32_t(kAttnSoftcap | kAttnSinks),
                       uint32_t(kAttnAlibi | kAttnSequsedK | kAttnWindow)}) {
      const KernelInfo* r = find_attn_row(90, d, f);
      REQUIRE(r != nullptr);
      CHECK((r->features & kAttnPagedKV) == 0u);  // the EXT row, not the PAGED one
      CHECK(std::string(r->name).find("_ext_") != std::string::npos);
    }
    const KernelInfo* pg = find_attn_row(90, d, kAttnPagedKV | kAttnVarlenQ | kAttnWindow);
    REQUIRE(pg != nullptr);
    CHECK(std::string(pg->name).find("_paged_") != std::string::npos);
    // sm_100a: the two-tile kernels' EXT row, for paged K/V and seqused_k as well
    const KernelInfo* b = find_attn_row(100, d, kAttnWindow);
    REQUIRE(b != nullptr);
    CHECK(std::string(b->name) == "fmha_fwd_d" + std::to_string(d) + "_ext_sm100a");
    CHECK(find_attn_row(100, d, kAttnPagedKV | kAttnSequsedK | kAttnVarlenQ) == b);
  }
  CHECK(find_attn_row(90, 96, kAttnWindow) == nullptr);
  CHECK(attn_supported_features(90) == kAttnAllFeatures);
  CHECK(attn_supported_features(100) == kAttnAllFeatures);
  CHECK(attn_supported_features(80) == 0u);
}
