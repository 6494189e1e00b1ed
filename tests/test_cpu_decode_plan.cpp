// CPU tests of decode's launch plan (no device): plan_decode and its split models
// (host/src/decode.h, decode_plan.cpp); the forward's plan: test_cpu_launch_plan.cpp.
//   - exact plans for representative shapes, worked out by hand in the comments (split count,
//     grid, combine rows per CTA, workspace bytes); requested splits, one key, pages;
//   - properties over random shapes, checked against an independent model of the split layout;
//   - the split models the library plans with (bandwidth, per-CTA rates by cache type, head
//     dim and packed rows, the warpgroup rows by waves), the row choices (wide d64, e4m3 two
//     heads), the cluster policy, the tensor maps' L2 promotion.
// Rows are synthetic (fixed block sizes here) so that a change of the real kernel table does
// not move the expected numbers.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "decode.h"
#include "decode_rows.h"
#include "gpu_util.h"
#include "kernel_table.h"
#include "ptxfmha/ptxfmha.h"

namespace {

using ptxfmha_test::log_uniform;
using ptxfmha::DecodePlan;
using ptxfmha::KernelInfo;
using ptxfmha::KernelKind;

const KernelInfo kSplit128 = {"test_decode_split_d128", "sm90a", 90, KernelKind::Decode, 128, 64, 64,
                              128, 80000, 384, KernelInfo::Grid::GridMHB};
const KernelInfo kCombine1 = {"test_decode_combine_d128", "sm90a", 90, KernelKind::DecodeCombine, 128,
                              1, 64, 32, 0, 384, KernelInfo::Grid::GridMHB};
const KernelInfo kCombine4 = {"test_decode_combine4_d128", "sm90a", 90, KernelKind::DecodeCombine, 128,
                              4, 64, 128, 0, 384, KernelInfo::Grid::GridMHB};
const int32_t kFakeTable[1] = {0};  // plans never read the table, only whether it exists

// An environment variable for one test case: set / unset while it runs, restored as it was
// (set or not) when the case ends, failing checks included.
class ScopedEnv {
 public:
  explicit ScopedEnv(const char* name) : name_(name) {
    const char* v = std::getenv(name);
    had_ = v != nullptr;
    if (had_) old_ = v;
  }
  ~ScopedEnv() {
    if (had_) setenv(name_, old_.c_str(), 1);
    else unsetenv(name_);
  }
  void set(const char* value) { setenv(name_, value, 1); }
  void unset() { unsetenv(name_); }

 private:
  const char* name_;
  bool had_ = false;
  std::string old_;
};

ptxfmha_decode_params decode_params(int b, int sq, int hq, int hkv, int d, int max_k) {
  ptxfmha_decode_params p;
  std::memset(&p, 0, sizeof p);
  p.batch = b; p.seqlen_q = sq; p.heads_q = hq; p.heads_kv = hkv; p.head_dim = d; p.max_seqlen_k = max_k;
  return p;
}

// Makes p a paged call: pages of `page` keys, a pool of exactly the batch's pages.
void set_pages(ptxfmha_decode_params* p, int page) {
  p->block_table = kFakeTable;
  p->page_size = page;
  p->max_blocks_per_seq = p->max_seqlen_k / page;
  p->num_pages = p->batch * p->max_blocks_per_seq;
}

DecodePlan plan_decode(const ptxfmha_decode_params& p, int64_t slots, const KernelInfo& combine = kCombine1) {
  DecodePlan plan;
  ptxfmha::plan_decode(p, kSplit128, combine, slots, &plan);
  return plan;
}

// The split count the library plans for an e4m3 call on 132 SMs (its options: kv_bytes 1, wg: an
// _e4m3_wg row), `slots` resident split CTAs.
int e4m3_plan_splits(const ptxfmha_decode_params& p, int64_t slots, bool wg = false) {
  ptxfmha::DecodePlanOptions o;
  o.sms = 132;
  o.kv_bytes = 1;
  o.wg_loop = wg;
  DecodePlan plan;
  ptxfmha::plan_decode(p, kSplit128, kCombine1, slots, &plan, o);
  return plan.num_splits;
}

}  // namespace

TEST_CASE("cpu launch plan decode: exact plans for representative shapes") {
  // H100, D=128 split kernel with 2 resident CTAs per SM: 264 slots.
  {
    // B 1, Sq 1, Hq 32, Hkv 8, 8192 keys: 4 packed rows -> 1 m-group; 8 CTAs per split;
    // 128 KV tiles. Cost model: s=32 (4 tiles each, 256 CTAs, one wave) 4+3+2 = 9; s=64
    // (two waves) 2*(2+3)+2 = 12; s=26 (5 tiles) 10; s=1 131 -> 32 splits.
    const DecodePlan p = plan_decode(decode_params(1, 1, 32, 8, 128, 8192), 264);
    CHECK(p.split_row == &kSplit128);
    CHECK(p.combine_row == &kCombine1);
    CHECK(p.m_groups == 1);
    CHECK(p.num_splits == 32);
    CHECK(p.split_keys == 256);
    CHECK(p.split_grid[0] == 8u); CHECK(p.split_grid[1] == 32u); CHECK(p.split_grid[2] == 1u);
    CHECK(p.combine_grid == 32u);  // 32 output rows, one per combine CTA
    // Partials: 32 rows x 32 splits = 1024; LSE 4096 bytes (a multiple of 256), then
    // 1024 x 128 floats.
    CHECK(p.ws_lse_offset == 0u);
    CHECK(p.ws_o_offset == 4096u);
    CHECK(p.workspace_bytes == 4096u + 1024u * 128u * 4u);
    CHECK(p.box_shift == 6);
    CHECK(p.page_shift == 0);
  }
  {
    // B 32: 256 CTAs per split already fill the slots; s=1 costs 128+3 = 131, s=2 136.
    const DecodePlan p = plan_decode(decode_params(32, 1, 32, 8, 128, 8192), 264);
    CHECK(p.num_splits == 1);
    CHECK(p.split_keys == 8192);
    CHECK(p.split_grid[0] == 8u); CHECK(p.split_grid[1] == 1u); CHECK(p.split_grid[2] == 32u);
    CHECK(p.combine_grid == 0u);
    CHECK(p.workspace_bytes == 0u);
    CHECK(p.ws_o_offset == 0u);
  }
  {
    // GQA packing: Sq 8 x 16 query heads per KV head = 128 rows -> 2 m-groups; B 2, Hkv 8:
    // 32 CTAs per split; 1000 keys = 16 tiles. s=8 (2 tiles, 256 CTAs) 2+3+2 = 7; s=6 8;
    // s=16 (two waves) 10 -> 8 splits of 128 keys.
    const DecodePlan p = plan_decode(decode_params(2, 8, 128, 8, 128, 1000), 264);
    CHECK(p.m_groups == 2);
    CHECK(p.num_splits == 8);
    CHECK(p.split_keys == 128);
    CHECK(p.split_grid[0] == 16u); CHECK(p.split_grid[1] == 8u); CHECK(p.split_grid[2] == 2u);
    CHECK(p.combine_grid == 2048u);  // 2 * 128 * 8 output rows
    // 2048 rows x 8 splits = 16384 partials: LSE 65536 bytes, O 16384 x 128 x 4.
    CHECK(p.ws_o_offset == 65536u);
    CHECK(p.workspace_bytes == 65536u + 16384u * 128u * 4u);
  }
}

TEST_CASE("cpu launch plan decode: requested splits, one key, pages, combine rows per CTA") {
  ptxfmha_decode_params p = decode_params(1, 1, 32, 8, 128, 8192);  // 128 tiles
  p.num_splits = 5;  // ceil(128/5) = 26 tiles each -> 5 splits (4 x 26 = 104 < 128)
  DecodePlan plan = plan_decode(p, 264);
  CHECK(plan.num_splits == 5);
  CHECK(plan.split_keys == 26 * 64);
  CHECK(plan.split_grid[1] == 5u);
  p.num_splits = 100;  // 2 tiles each -> 64 splits (no empty trailing split)
  plan = plan_decode(p, 264);
  CHECK(plan.num_splits == 64);
  CHECK(plan.split_keys == 128);
  p.num_splits = 1000;  // more than tiles: one tile each
  plan = plan_decode(p, 264);
  CHECK(plan.num_splits == 128);
  CHECK(plan.split_keys == 64);
  // One key: one tile, never split, whatever is requested.
  p = decode_params(4, 1, 8, 8, 128, 1);
  for (int req : {0, 1, 8, 1024}) {
    p.num_splits = req;
    plan = plan_decode(p, 264);
    CHECK(plan.num_splits == 1);
    CHECK(plan.split_keys == 64);
    CHECK(plan.workspace_bytes == 0u);
    CHECK(plan.combine_grid == 0u);
  }
  // Paged caches: TMA box min(page, 64) keys; page_shift log2(page).
  p = decode_params(2, 1, 8, 8, 128, 1000);
  p.block_table = kFakeTable;
  struct { int page, box_shift, page_shift; } pages[] = {{16, 4, 4}, {32, 5, 5}, {64, 6, 6}, {128, 6, 7}, {256, 6, 8}};
  for (const auto& c : pages) {
    CAPTURE(c.page);
    p.page_size = c.page;
    plan = plan_decode(p, 264);
    CHECK(plan.box_shift == c.box_shift);
    CHECK(plan.page_shift == c.page_shift);
  }
  // Combine kernel with 4 rows per CTA: B 3 x Hq 5 x Sq 3 = 45 rows -> 12 CTAs (11 x 4 = 44).
  p = decode_params(3, 3, 5, 1, 128, 200);  // 4 tiles
  p.num_splits = 2;
  plan = plan_decode(p, 264, kCombine4);
  CHECK(plan.num_splits == 2);
  CHECK(plan.combine_grid == 12u);
  // A tiny device (one slot) never splits 8 CTAs' work: s=1 costs 8 waves x 131.
  plan = plan_decode(decode_params(1, 1, 32, 8, 128, 8192), 1);
  CHECK(plan.num_splits == 1);
}

TEST_CASE("cpu launch plan decode: properties over random shapes") {
  std::mt19937_64 rng(0xdec0de5ULL);
  const int64_t slot_counts[] = {1, 132, 264, 296, 528};
  const KernelInfo* combines[] = {&kCombine1, &kCombine4};
  for (int i = 0; i < 3000; ++i) {
    const int hkv = log_uniform(rng, 1, 16);
    ptxfmha_decode_params p = decode_params(log_uniform(rng, 1, 256), 1 + int(rng() % 8),
                                            hkv * log_uniform(rng, 1, 16), hkv, 128,
                                            log_uniform(rng, 1, 1 << 20));
    if (rng() % 2) {
      p.block_table = kFakeTable;
      p.page_size = 16 << (rng() % 5);
    }
    p.num_splits = rng() % 3 == 0 ? 1 + int(rng() % 1024) : 0;
    const int64_t slots = slot_counts[rng() % 5];
    const KernelInfo& combine = *combines[rng() % 2];
    CAPTURE(p.batch); CAPTURE(p.seqlen_q); CAPTURE(p.heads_q); CAPTURE(p.heads_kv);
    CAPTURE(p.max_seqlen_k); CAPTURE(p.page_size); CAPTURE(p.num_splits); CAPTURE(slots);
    const DecodePlan plan = plan_decode(p, slots, combine);
    const int64_t tiles = (int64_t(p.max_seqlen_k) + 63) / 64;
    const int64_t packed = int64_t(p.seqlen_q) * (p.heads_q / p.heads_kv);
    const int64_t rows = int64_t(p.batch) * p.heads_q * p.seqlen_q;
    CHECK(plan.m_groups == (packed + 63) / 64);
    CHECK(plan.num_splits >= 1);
    CHECK(plan.num_splits <= std::min<int64_t>(tiles, ptxfmha::kDecodeMaxSplits));
    if (p.num_splits > 0) CHECK(plan.num_splits <= p.num_splits);
    if (p.num_splits == 0) {  // bf16 (the options' default): at least two tiles per split
      CHECK(plan.num_splits == ptxfmha::choose_num_splits(int64_t(p.batch) * p.heads_kv * plan.m_groups,
                                                          tiles, slots, ptxfmha::decode_max_splits(tiles, 2)));
      CHECK(plan.num_splits <= std::max<int64_t>(1, tiles / 2));
    }
    // Splits of whole 64-key tiles cover the keys, none empty.
    CHECK(plan.split_keys % 64 == 0);
    CHECK(int64_t(plan.num_splits) * plan.split_keys >= p.max_seqlen_k);
    CHECK(int64_t(plan.num_splits - 1) * plan.split_keys < p.max_seqlen_k);
    CHECK(plan.split_grid[0] == unsigned(p.heads_kv * plan.m_groups));
    CHECK(plan.split_grid[1] == unsigned(plan.num_splits));
    CHECK(plan.split_grid[2] == unsigned(p.batch));
    if (plan.num_splits == 1) {
      CHECK(plan.combine_grid == 0u);
      CHECK(plan.workspace_bytes == 0u);
    } else {
      const int64_t g = plan.combine_grid;
      CHECK(g * combine.block_m >= rows);
      CHECK((g - 1) * combine.block_m < rows);
      const uint64_t partials = uint64_t(rows) * uint64_t(plan.num_splits);
      CHECK(plan.ws_lse_offset == 0u);
      CHECK(plan.ws_o_offset >= partials * 4);
      CHECK(plan.ws_o_offset < partials * 4 + 256);
      CHECK(plan.ws_o_offset % 256 == 0);
      CHECK(plan.workspace_bytes == plan.ws_o_offset + partials * 128 * 4);
    }
    if (p.block_table != nullptr) {
      CHECK((1 << plan.page_shift) == p.page_size);
      CHECK((1 << plan.box_shift) == std::min(p.page_size, 64));
    } else {
      CHECK(plan.page_shift == 0);
      CHECK(plan.box_shift == 6);
    }
  }
}

TEST_CASE("cpu launch plan decode: the bandwidth split model (what the library plans with)") {
  using ptxfmha::choose_num_splits_bw;
  using ptxfmha::decode_bw_split_cost;
  // H200: 132 SMs; resident split CTAs per SM 3 (d64), 2 (d128), 1 (d256). units = batch x 8 KV
  // heads (32/8 heads, one token). The picks measured best (or within 1.2% of it) on the H200,
  // 2026-12-02 (bench/DECODE_NOTES.md, "Split policy"): one CTA per SM at batch 1 / 4 / 8
  // (128 CTAs), no split from batch 16 at d128 / d256; batch 64, kv 4k, d128 unsplit (2026-12-02
  // 14:05 UTC: 243.7 us against 248.5 with 2 splits, the pick of kDecodeBwMergeTiles = 1.0).
  // The 4-stage d64 row at batch 64 kv 32k (3 per SM; the wide twin runs there since 2026-12-02)
  // takes 3 splits since kDecodeCtaTiles = 1.0: 4337 GB/s against 4394 with 4 (s6 run, 1.3%).
  struct Pick { int batch, kv, per_sm, expect; };
  const Pick picks[] = {
      {1, 8192, 2, 16}, {1, 32768, 2, 16}, {1, 131072, 2, 16}, {1, 131072, 3, 16},
      {4, 8192, 2, 4},  {4, 131072, 3, 4}, {8, 8192, 2, 2},   {8, 32768, 3, 2},
      {8, 32768, 1, 2}, {16, 8192, 2, 1},  {32, 8192, 2, 1},  {32, 8192, 3, 1},
      {32, 32768, 1, 1}, {64, 32768, 3, 3}, {128, 8192, 2, 1}, {64, 4096, 2, 1}};
  for (const Pick& k : picks) {
    CAPTURE(k.batch); CAPTURE(k.kv); CAPTURE(k.per_sm);
    CHECK(choose_num_splits_bw(int64_t(k.batch) * 8, k.kv / 64, 132, k.per_sm) == k.expect);
  }
  // Why 16 and not 8 or 24 at batch 1: 64 CTAs leave half the SMs idle and the others cannot
  // stream more than kDecodeSmRateCap times their share; 192 CTAs put two on 60 SMs, which
  // finish last. Without the cap (a mutation) 8 would cost as much as 16.
  const double c8 = decode_bw_split_cost(8, 2048, 132, 2, 8), c16 = decode_bw_split_cost(8, 2048, 132, 2, 16);
  const double c24 = decode_bw_split_cost(8, 2048, 132, 2, 24), c32 = decode_bw_split_cost(8, 2048, 132, 2, 32);
  CHECK(c16 < c32);
  CHECK(c32 < c24);
  CHECK(c24 < c8);
  CHECK(c8 == doctest::Approx(256.0 / ptxfmha::kDecodeSmRateCap + ptxfmha::kDecodeCtaTiles +
                              ptxfmha::kDecodeBwMergeTiles));
  // Batch 64, kv 4k and 8k (512 CTAs, 1.94 waves of 264 slots) run unsplit: measured 243.7 us
  // against 248.5 with 2 splits at kv 4k (2026-12-02 14:05 UTC), 1 split 0.7% faster than 2 at
  // kv 8k (s6 run). At kv 8k the per-CTA cost decides: 2 splits start 8 CTAs on the busiest SM
  // where 1 split starts 4, and with the old half tile per CTA (a mutation) 2 splits look cheaper.
  const double p4 = ptxfmha::decode_bw_partials_tiles(512 * 4, 132, 2);
  CHECK(decode_bw_split_cost(512, 64, 132, 2, 1, 0.0, p4) < decode_bw_split_cost(512, 64, 132, 2, 2, 0.0, p4));
  const double k1 = decode_bw_split_cost(512, 128, 132, 2, 1, 0.0, p4);
  const double k2 = decode_bw_split_cost(512, 128, 132, 2, 2, 0.0, p4);
  CHECK(k1 < k2);
  CHECK(k1 - 4 * 0.5 > k2 - 8 * 0.5);
  // Without a per-CTA rate the cost is that of a rate at the SM cap (it never binds).
  for (int64_t s : {1, 2, 3, 8, 16, 40})
    CHECK(decode_bw_split_cost(64, 512, 132, 2, s) ==
          doctest::Approx(decode_bw_split_cost(64, 512, 132, 2, s, ptxfmha::kDecodeSmRateCap)));
  // A rate above the cap lifts an SM holding one CTA to it (a head-dim-256 CTA streams 2.0
  // shares: kDecodeCtaRateD256): 64 CTAs of 256 tiles at 132 / 64 = 2.06 shares each instead of
  // the cap's 1.8. With the cap kept (a mutation) 64 CTAs would cost the same as without a rate.
  CHECK(decode_bw_split_cost(8, 2048, 132, 1, 8, ptxfmha::kDecodeCtaRateD256) ==
        doctest::Approx(256.0 / (132.0 / 64.0) + ptxfmha::kDecodeCtaTiles + ptxfmha::kDecodeBwMergeTiles));
  CHECK(decode_bw_split_cost(8, 2048, 132, 1, 8, ptxfmha::kDecodeCtaRateD256) <
        decode_bw_split_cost(8, 2048, 132, 1, 8) - 10.0);
  // Every pick is a split count with no empty trailing split, within kv_tiles.
  for (int64_t units : {1, 8, 24, 64, 256, 1024})
    for (int64_t tiles : {1, 7, 64, 128, 1000, 2048}) {
      const int s = choose_num_splits_bw(units, tiles, 132, 2);
      CHECK(s >= 1);
      CHECK(s <= tiles);
      const int64_t tps = (tiles + s - 1) / s;
      CHECK((tiles + tps - 1) / tps == s);
    }
  // plan_decode with the SM count uses this model; without it, the wave model.
  ptxfmha::DecodePlanOptions o;
  o.sms = 132;
  DecodePlan with_sms, without;
  ptxfmha::plan_decode(decode_params(1, 1, 32, 8, 128, 131072), kSplit128, kCombine1, 264, &with_sms, o);
  ptxfmha::plan_decode(decode_params(1, 1, 32, 8, 128, 131072), kSplit128, kCombine1, 264, &without);
  CHECK(with_sms.num_splits == 16);
  CHECK(without.num_splits == ptxfmha::choose_num_splits(8, 2048, 264));
  CHECK(without.num_splits != 16);
  // Pages of fewer than 64 keys plan at kDecodeCtaRateSmallPages (their CTAs issue 4x / 2x the
  // boxes per tile; until 2026-12-03 they kept the wave model, whose count is also 4 here);
  // pages of 64 and more as contiguous. Batch 8, kv 8k: 4 splits against 2.
  for (int page : {16, 32, 64, 256}) {
    CAPTURE(page);
    ptxfmha_decode_params p = decode_params(8, 1, 32, 8, 128, 8192);
    set_pages(&p, page);
    DecodePlan plan;
    ptxfmha::plan_decode(p, kSplit128, kCombine1, 264, &plan, o);
    CHECK(plan.num_splits == (page < 64 ? 4 : 2));
    if (page < 64)
      CHECK(plan.num_splits == ptxfmha::choose_num_splits_bw(64, 128, 132, 2, ptxfmha::kDecodeCtaRateSmallPages,
                                                             ptxfmha::decode_bw_partials_tiles(256, 132, 2), 64));
  }
  // An e4m3 cache at head dims 128 / 256 keeps the wave model (no per-CTA rate measured).
  ptxfmha::DecodePlanOptions e4 = o;
  e4.kv_bytes = 1;
  DecodePlan e4_plan;
  ptxfmha::plan_decode(decode_params(8, 1, 32, 8, 128, 8192), kSplit128, kCombine1, 264, &e4_plan, e4);
  CHECK(e4_plan.num_splits == ptxfmha::choose_num_splits(64, 128, 264));
  CHECK(e4_plan.num_splits == 4);
}

TEST_CASE("cpu launch plan decode: the split model charges the partials' traffic (it grows with the GQA ratio)") {
  using ptxfmha::decode_bw_partials_tiles;
  // 512 units x 16 rows, bf16: 512 x 16 x 8 / (132 x 128 x 2) tile times per split; e4m3 tiles
  // are half the bytes, so the same partials cost twice the tile times.
  CHECK(decode_bw_partials_tiles(512 * 16, 132, 2) == doctest::Approx(512.0 * 16 * 8 / (132.0 * 256)));
  CHECK(decode_bw_partials_tiles(512 * 16, 132, 1) == doctest::Approx(2 * decode_bw_partials_tiles(512 * 16, 132, 2)));
  // plan_decode passes it: the picks measured best on the H200 (2026-12-02 16:30-16:37 UTC,
  // bench/results/h200-2026-12-02-s7, forced counts): d128 batch 64 kv 8k at 128/8 heads unsplit
  // (4438 GB/s, 2 splits 4311), 4 tokens at 32/8 heads unsplit (4421, 2 splits 4294), batch 1
  // kv 8k at 128/8 heads in 10 splits (2264-2270 GB/s, 16 splits 2176-2178), batch 128 kv 128k
  // in 5 (4580 GB/s; 10 splits 4571, 1 split 4396). Without the term (the mutation) the model
  // takes 2, 2 and 16 (batch 128 kv 128k: 5 either way since kDecodeCtaTiles is 1.0).
  ptxfmha::DecodePlanOptions o;
  o.sms = 132;
  struct Pick { int b, sq, hq, kv, with, without; };
  const Pick picks[] = {{64, 1, 128, 8192, 1, 2}, {64, 4, 32, 8192, 1, 2}, {1, 1, 128, 8192, 10, 16},
                        {128, 1, 32, 131072, 5, 5}, {1, 1, 32, 8192, 16, 16}, {8, 1, 32, 8192, 2, 2}};
  for (const Pick& k : picks) {
    CAPTURE(k.b); CAPTURE(k.sq); CAPTURE(k.hq); CAPTURE(k.kv);
    const ptxfmha_decode_params p = decode_params(k.b, k.sq, k.hq, 8, 128, k.kv);
    DecodePlan plan;
    ptxfmha::plan_decode(p, kSplit128, kCombine1, 264, &plan, o);
    CHECK(plan.num_splits == k.with);
    const int64_t units = ptxfmha::decode_split_units(p);
    CHECK(ptxfmha::choose_num_splits_bw(units, k.kv / 64, 132, 2) == k.without);
  }
}

TEST_CASE("cpu launch plan decode: the wide d64 twin runs when the unsplit grid covers the SMs") {
  using ptxfmha::decode_prefers_wide_row;
  using ptxfmha::decode_split_units;
  // units = batch x heads_kv / heads_per_cta x m-groups (64 packed rows per CTA).
  CHECK(decode_split_units(decode_params(64, 1, 32, 8, 64, 8192)) == 512);
  CHECK(decode_split_units(decode_params(8, 1, 128, 8, 64, 8192)) == 64);    // GQA 16: one m-group
  CHECK(decode_split_units(decode_params(8, 8, 128, 8, 64, 8192)) == 128);   // 128 rows: two
  CHECK(decode_split_units(decode_params(8, 1, 32, 8, 128, 8192), 2) == 32); // _h2: 2 heads per CTA
  // H200, 132 SMs (2026-12-02 16:00 UTC): the twin at batch >= 32 (256+ CTAs at 8 KV heads),
  // the 4-stage row at batch 1 and 8 (8 / 64 CTAs before the split). A threshold one CTA off
  // either way (a mutation) moves the boundary: 131 and 132 units.
  CHECK_FALSE(decode_prefers_wide_row(8, 132));
  CHECK_FALSE(decode_prefers_wide_row(64, 132));
  CHECK_FALSE(decode_prefers_wide_row(131, 132));
  CHECK(decode_prefers_wide_row(132, 132));
  CHECK(decode_prefers_wide_row(256, 132));
  CHECK(decode_prefers_wide_row(1024, 132));
  CHECK_FALSE(decode_prefers_wide_row(1024, 0));  // no SM count: the row as picked
  // Once it runs (4 CTAs per SM), the bandwidth model keeps it unsplit where the forced counts
  // measured 1 best (batch 32 kv 8k; batch 64 kv 4k / 8k / 32k; batch 128 kv 8k; 128/8 heads too).
  const int measured[][2] = {{32, 8192}, {64, 4096}, {64, 8192}, {64, 32768}, {128, 8192}};
  for (const auto& bk : measured) {
    CAPTURE(bk[0]); CAPTURE(bk[1]);
    CHECK(ptxfmha::choose_num_splits_bw(int64_t(bk[0]) * 8, bk[1] / 64, 132, 4) == 1);
  }
  // At 3 CTAs per SM (the 4-stage row) the model splits batch 64 kv 8k / 32k (512 CTAs, 1.3
  // waves), where the twin's one wave needs no split.
  CHECK(ptxfmha::choose_num_splits_bw(512, 128, 132, 3) > 1);
}

// The e4m3 d64 two-heads row (_e4m3_h2) where its grid is large enough (decode_prefers_two_heads),
// else the one-head row; measured on the H200 (2026-12-03 07:56 UTC, 32/8 heads, two-heads /
// one-head time, kv 8k / 32k): batch 1 (4 two-heads units) 1.07-1.24 contiguous and in pages of
// 64, batch 8 (32) 0.96-0.98, batch 32 (128) 0.94-0.99, batch 64 (256) 0.81-0.87, batch 128
// (512) 0.84-0.91; pages of 16: 0.995-1.35 at batch 1-32, 1.01 / 0.96 at batch 64, 0.83-0.85 at
// batch 128. Batch 4 (16 units, one head by the rule; 2026-12-03 08:42): 1.01-1.03 at kv 8k,
// 0.95-0.98 at kv 32k / 128k.
TEST_CASE("cpu launch plan decode: the e4m3 d64 two-heads row where its grid is large enough") {
  using ptxfmha::decode_prefers_two_heads;
  // Contiguous / pages >= 64: units x 8 >= SMs (132 on the H200: 17 units, batch 5 at 8 KV
  // heads). Pages of 16 / 32: two waves of the SMs' count (264). One unit off either way (a
  // mutation of either constant moves a boundary) flips the answer.
  CHECK_FALSE(decode_prefers_two_heads(4, 132, false));    // batch 1
  CHECK_FALSE(decode_prefers_two_heads(16, 132, false));   // batch 4
  CHECK(decode_prefers_two_heads(17, 132, false));
  CHECK(decode_prefers_two_heads(32, 132, false));         // batch 8
  CHECK(decode_prefers_two_heads(512, 132, false));
  CHECK_FALSE(decode_prefers_two_heads(256, 132, true));   // batch 64, pages of 16
  CHECK_FALSE(decode_prefers_two_heads(263, 132, true));
  CHECK(decode_prefers_two_heads(264, 132, true));
  CHECK(decode_prefers_two_heads(512, 132, true));         // batch 128, pages of 16
  CHECK(decode_prefers_two_heads(1, 0, false));            // no SM count: the row as picked
  for (int sm : {90, 100}) {
    CAPTURE(sm);
    const KernelInfo* h2 = ptxfmha::find_decode_split(sm, 64, 1, false, 8, 4);
    const KernelInfo* one = ptxfmha::find_decode_split(sm, 64, 1, false);
    REQUIRE(h2 != nullptr);
    REQUIRE(one != nullptr);
    REQUIRE(ptxfmha::decode_row_heads(h2) == 2);
    REQUIRE(ptxfmha::decode_row_heads(one) == 1);
    struct Case { int batch, page; const KernelInfo* expect; };
    const Case cases[] = {{1, 0, one}, {4, 0, one}, {5, 0, h2}, {8, 0, h2}, {64, 0, h2},
                          {4, 64, one}, {8, 64, h2}, {64, 16, one}, {66, 16, h2}, {128, 16, h2}};
    for (const Case& k : cases) {
      CAPTURE(k.batch); CAPTURE(k.page);
      ptxfmha_decode_params p = decode_params(k.batch, 1, 32, 8, 64, 8192);
      if (k.page > 0) set_pages(&p, k.page);
      CHECK(ptxfmha::decode_grid_row(sm, 132, h2, p) == k.expect);
    }
    // A one-head row stays itself; the bf16 plain row keeps its own rule (its wide twin).
    CHECK(ptxfmha::decode_grid_row(sm, 132, one, decode_params(128, 1, 32, 8, 64, 8192)) == one);
    // A call that may merge its splits in a cluster runs the one-head row at any size: the _cl
    // twins take one KV head per CTA (a two-heads plan handed to one would skip half the heads).
    CHECK(ptxfmha::decode_grid_row(sm, 132, h2, decode_params(64, 1, 32, 8, 64, 8192), true) == one);
    CHECK(ptxfmha::decode_grid_row(sm, 132, h2, decode_params(64, 1, 32, 8, 64, 8192), false) == h2);
  }
}

// The cluster policy a call runs with (the library's launch and the bench's label share it): a
// requested Off / Force stands; Auto reads PTXFMHA_DECODE_CLUSTER (0, 1, auto), else Off.
TEST_CASE("cpu launch plan decode: the cluster policy of a call (override, then the environment)") {
  using ptxfmha::DecodeClusterPolicy;
  using ptxfmha::decode_cluster_policy;
  ScopedEnv env("PTXFMHA_DECODE_CLUSTER");
  env.unset();
  CHECK(decode_cluster_policy(DecodeClusterPolicy::Auto) == DecodeClusterPolicy::Off);
  CHECK(decode_cluster_policy(DecodeClusterPolicy::Force) == DecodeClusterPolicy::Force);
  env.set("1");
  CHECK(decode_cluster_policy(DecodeClusterPolicy::Auto) == DecodeClusterPolicy::Force);
  CHECK(decode_cluster_policy(DecodeClusterPolicy::Off) == DecodeClusterPolicy::Off);
  env.set("auto");
  CHECK(decode_cluster_policy(DecodeClusterPolicy::Auto) == DecodeClusterPolicy::Auto);
  env.set("0");
  CHECK(decode_cluster_policy(DecodeClusterPolicy::Auto) == DecodeClusterPolicy::Off);
}

TEST_CASE("cpu launch plan decode: e4m3 at head dim 64 plans with the bandwidth model and a per-CTA rate") {
  using ptxfmha::choose_num_splits_bw;
  // The picks measured best or within 3.6% of it (H200, 2026-12-02 14:05 UTC, six-stage e4m3
  // d64 kernel, 4 CTAs per SM = 528 slots, 32/8 heads, forced counts 1, 2, 3, 4, 6, 8;
  // bench/results/h200-2026-12-02-s6): batch 8 wants 4 (contiguous; 60.0 us unsplit, 33.8 with
  // 2, 23.0 with 4) or 8 (pages of 16: 22.8 us, 33.2 with 4); batch 32 wants 1 (contiguous:
  // 68.8 us, the wave model's 2: 76.5) or 2 (pages of 16); batch 64 wants 1.
  struct Pick { int batch, kv; bool page16; int expect; };
  const Pick picks[] = {{8, 8192, false, 4},  {8, 32768, false, 4}, {32, 8192, false, 1},
                        {32, 32768, false, 1}, {64, 8192, false, 1}, {8, 8192, true, 8},
                        {8, 32768, true, 8},  {32, 8192, true, 2},  {64, 8192, true, 1}};
  for (const Pick& k : picks) {
    CAPTURE(k.batch); CAPTURE(k.kv); CAPTURE(k.page16);
    ptxfmha_decode_params p = decode_params(k.batch, 1, 32, 8, 64, k.kv);
    if (k.page16) set_pages(&p, 16);
    CHECK(ptxfmha::decode_plans_by_bandwidth(p, 1));
    const double rate = ptxfmha::decode_cta_rate(p, 1);
    CHECK(rate == (k.page16 ? ptxfmha::kDecodeCtaRateE4m3SmallPages : ptxfmha::kDecodeCtaRateE4m3));
    CHECK(choose_num_splits_bw(int64_t(k.batch) * 8, k.kv / 64, 132, 4, rate) == k.expect);
    CHECK(e4m3_plan_splits(p, 528) == k.expect);
  }
  // Without the per-CTA rate (a mutation) batch 8 would take 2 splits: 128 CTAs, one per SM,
  // each pulling 0.53 of an SM's share (33.8 us measured against 23.0 with 4).
  CHECK(choose_num_splits_bw(64, 128, 132, 4) == 2);
  CHECK(choose_num_splits_bw(64, 128, 132, 4, ptxfmha::kDecodeCtaRateE4m3) == 4);
  // e4m3 at head dims 128 / 256 keeps the wave model.
  CHECK_FALSE(ptxfmha::decode_plans_by_bandwidth(decode_params(8, 1, 32, 8, 128, 8192), 1));
  CHECK_FALSE(ptxfmha::decode_plans_by_bandwidth(decode_params(8, 1, 32, 8, 256, 8192), 1));
}

TEST_CASE("cpu launch plan decode: e4m3 at head dim 64 beyond one m-tile: the rate per m-tile, the _e4m3_wg rows by waves") {
  using ptxfmha::choose_num_splits_bw;
  // Forced split counts (H200, 2026-12-04 16:19 UTC, bench/results/h200-2026-12-04-s15/r2):
  // 32 packed rows (64/8 heads x 4 tokens) on the mma.sync e4m3 row (each of the 2 m-tiles'
  // warps converts the tile itself; 4 CTAs per SM = 528 slots): batch 8 ran best at 8 splits
  // (1.20x-1.36x the 4 planned at the old rate), batch 32 at 2 (1.23x-1.35x the 1 planned);
  // in pages of 16 the plan (8 / 2) was already the best.
  struct Pick { int batch, kv; bool page16; int expect, old_rate_pick; };
  const Pick picks[] = {{8, 8192, false, 8, 4},   {8, 32768, false, 8, 4}, {8, 131072, false, 8, 4},
                        {32, 8192, false, 2, 1},  {32, 32768, false, 2, 1}, {32, 131072, false, 2, 1},
                        {8, 32768, true, 8, 8},   {32, 32768, true, 2, 2}};
  for (const Pick& k : picks) {
    CAPTURE(k.batch); CAPTURE(k.kv); CAPTURE(k.page16);
    ptxfmha_decode_params p = decode_params(k.batch, 4, 64, 8, 64, k.kv);
    if (k.page16) set_pages(&p, 16);
    REQUIRE(ptxfmha::decode_cta_m_tiles(p) == 2);
    REQUIRE(ptxfmha::decode_plans_by_bandwidth(p, 1));
    const double rate = ptxfmha::decode_cta_rate(p, 1);
    CHECK(rate == ptxfmha::kDecodeCtaRateE4m3 / 2);
    const int64_t units = int64_t(k.batch) * 8, tiles = k.kv / 64;
    const double part = ptxfmha::decode_bw_partials_tiles(int64_t(k.batch) * 64 * 4, 132, 1);
    CHECK(choose_num_splits_bw(units, tiles, 132, 4, rate, part) == k.expect);
    // the one-m-tile rate (the plan before, a mutation) picks what ran slower
    const double one_tile = k.page16 ? ptxfmha::kDecodeCtaRateE4m3SmallPages : ptxfmha::kDecodeCtaRateE4m3;
    CHECK(choose_num_splits_bw(units, tiles, 132, 4, one_tile, part) == k.old_rate_pick);
    CHECK(e4m3_plan_splits(p, 528) == k.expect);
  }
  // One m-tile keeps its rates (16 packed rows: 32/8 heads x 4 tokens).
  CHECK(ptxfmha::decode_cta_rate(decode_params(8, 4, 32, 8, 64, 8192), 1) == ptxfmha::kDecodeCtaRateE4m3);
  // 64 packed rows (128/8 x 4 tokens) run the _e4m3_wg row (3 CTAs per SM = 396 slots), which is
  // bound by its own chain of conversion and products, not by bandwidth: it plans by waves. Its
  // forced counts: batch 8 best at 6 splits (384 CTAs, 1.02x-1.14x the bandwidth model's 4),
  // batch 32 at 3 (768 CTAs: 1.10x-1.23x at kv 32k / 128k and in pages of 16; 0.98x the
  // bandwidth model's 1 at kv 8k contiguous); batch 64 kv 32k 3 (1.25x against 1).
  struct WgPick { int batch, kv; bool page16; int expect; };
  const WgPick wg_picks[] = {{8, 8192, false, 6},  {8, 32768, false, 6}, {8, 131072, false, 6},
                             {8, 32768, true, 6},  {32, 8192, false, 3}, {32, 32768, false, 3},
                             {32, 32768, true, 3},  {64, 1024, false, 1}, {64, 32768, false, 3}};
  for (const WgPick& k : wg_picks) {
    CAPTURE(k.batch); CAPTURE(k.kv); CAPTURE(k.page16);
    ptxfmha_decode_params p = decode_params(k.batch, 4, 128, 8, 64, k.kv);
    if (k.page16) set_pages(&p, 16);
    CHECK_FALSE(ptxfmha::decode_plans_by_bandwidth(p, 1, true));
    CHECK(ptxfmha::decode_plans_by_bandwidth(p, 1, false));  // the mma.sync e4m3 row would
    CHECK(e4m3_plan_splits(p, 396, true) == k.expect);
  }
  // At head dim 256 (one CTA per SM: 132 slots) the waves pick the measured best count too
  // (H200, 2026-12-05, s20 r2, forced 1-16): batch 1 kv 32k / 128k 16 (69.6 / 213.7 us; 8:
  // 110.9 / 395.5), batch 8 kv 32k 2 (400.9; 1 / 4: 771.1 / 417.3).
  const WgPick wg256_picks[] = {{1, 32768, false, 16}, {1, 131072, false, 16}, {8, 32768, false, 2}};
  for (const WgPick& k : wg256_picks) {
    CAPTURE(k.batch); CAPTURE(k.kv);
    const ptxfmha_decode_params p = decode_params(k.batch, 4, 128, 8, 256, k.kv);
    CHECK_FALSE(ptxfmha::decode_plans_by_bandwidth(p, 1, true));
    CHECK(e4m3_plan_splits(p, 132, true) == k.expect);
  }
  // The _e4m3_wg rows' combine costs kDecodeCombineTilesE4m3Wg: with the bf16 rows' 2 tile times (a mutation)
  // batch 64 kv 1k takes 2 splits (67.5 us measured against 46.0 unsplit, s15 r3).
  CHECK(ptxfmha::decode_combine_tiles(1, true) == ptxfmha::kDecodeCombineTilesE4m3Wg);
  CHECK(ptxfmha::decode_combine_tiles(1, false) == ptxfmha::kDecodeCombineTiles);
  CHECK(ptxfmha::decode_combine_tiles(2, true) == ptxfmha::kDecodeCombineTiles);
  CHECK(ptxfmha::best_num_splits(64 * 8, 16, 396, 1024, ptxfmha::kDecodeCombineTilesE4m3Wg) == 1);
  CHECK(ptxfmha::best_num_splits(64 * 8, 16, 396, 1024, ptxfmha::kDecodeCombineTiles) == 2);
}

TEST_CASE("cpu launch plan decode: bf16 CTAs of more than one m-tile plan with a per-CTA rate") {
  using ptxfmha::choose_num_splits_bw;
  // m-tiles: ceil(min(tokens x GQA, 64) / 16)
  CHECK(ptxfmha::decode_cta_m_tiles(decode_params(1, 1, 32, 8, 128, 8192)) == 1);
  CHECK(ptxfmha::decode_cta_m_tiles(decode_params(1, 4, 32, 8, 128, 8192)) == 1);
  CHECK(ptxfmha::decode_cta_m_tiles(decode_params(1, 4, 64, 8, 128, 8192)) == 2);
  CHECK(ptxfmha::decode_cta_m_tiles(decode_params(1, 3, 64, 8, 128, 8192)) == 2);
  CHECK(ptxfmha::decode_cta_m_tiles(decode_params(1, 4, 128, 8, 128, 8192)) == 4);
  CHECK(ptxfmha::decode_cta_m_tiles(decode_params(1, 8, 128, 8, 128, 8192)) == 4);  // two m-groups of 64
  // One m-tile: no rate (the plans of every earlier measurement unchanged).
  CHECK(ptxfmha::decode_cta_rate(decode_params(1, 4, 32, 8, 128, 8192), 2) == 0.0);
  CHECK(ptxfmha::decode_cta_rate(decode_params(1, 4, 64, 8, 128, 8192), 2) ==
        doctest::Approx(ptxfmha::kDecodeCtaRateRowTile));
  CHECK(ptxfmha::decode_cta_rate(decode_params(1, 4, 128, 8, 128, 8192), 2) ==
        doctest::Approx(ptxfmha::kDecodeCtaRateRowTile / 2));
  // The picks against forced counts 2, 4, 8, 16, 33, 66 (H200, 2026-12-03 10:19 UTC, s9 notes,
  // 4 query tokens, contiguous): the model's count (us) and the best measured.
  struct Pick { int d, b, kv, hq, slots_per_sm, expect; };
  const Pick picks[] = {
      {128, 1, 131072, 64, 2, 16},   // 127.6 us = best (the old model's 10: 176.7)
      {128, 1, 8192, 64, 2, 16},     // 17.5 = best (10: 20.0)
      {128, 1, 131072, 128, 2, 32},  // ~33: 147.6 = best (10: 324.5)
      {128, 1, 8192, 128, 2, 32},    // ~33: 28.1, best 16: 26.0 (10: 32.4)
      {128, 8, 8192, 128, 2, 4},     // 82.0 = best (2: 114.2)
      {128, 8, 131072, 128, 2, 4},   // 1036.1 = best (2: 1592.6)
      {128, 8, 8192, 64, 2, 2},      // 69.6 = best (unchanged)
      {128, 8, 131072, 64, 2, 2},    // 945.7 = best (unchanged)
      {64, 1, 131072, 64, 3, 32},    // ~33: 71.0 = best (10: 136.9)
      {64, 8, 8192, 64, 3, 4},       // 40.1 = best (2: 49.0)
      {64, 8, 131072, 64, 3, 4},     // 499.7 = best (2: 653.8)
      {256, 1, 131072, 64, 1, 10},   // 260.3, best 16: 254.9 (unchanged)
      {256, 8, 8192, 64, 1, 2},      // 134.4 = best (unchanged)
  };
  for (const Pick& k : picks) {
    CAPTURE(k.d); CAPTURE(k.b); CAPTURE(k.kv); CAPTURE(k.hq);
    const ptxfmha_decode_params p = decode_params(k.b, 4, k.hq, 8, k.d, k.kv);
    CHECK(ptxfmha::decode_plans_by_bandwidth(p, 2));
    const double rate = ptxfmha::decode_cta_rate(p, 2);
    CHECK(choose_num_splits_bw(int64_t(k.b) * 8, k.kv / 64, 132, k.slots_per_sm, rate,
                               ptxfmha::decode_bw_partials_tiles(int64_t(k.b) * k.hq * 4, 132, 2)) ==
          k.expect);
  }
  // Without the rate (a mutation) GQA 8 at batch 1 takes 10 splits (80 CTAs: 1.39x the best
  // count's time at d128) and GQA 16 at batch 8 takes 2 (1.4x).
  CHECK(choose_num_splits_bw(8, 2048, 132, 2, 0.0, ptxfmha::decode_bw_partials_tiles(256, 132, 2)) == 10);
  CHECK(choose_num_splits_bw(64, 128, 132, 2, 0.0, ptxfmha::decode_bw_partials_tiles(4096, 132, 2)) == 2);
}

// One-m-tile bf16 CTAs (<= 16 packed rows) plan with per-CTA rates by head dim (kDecodeCtaRateD64,
// kDecodeCtaRateD256), fitted on forced split counts (H200, 2026-12-03 17:14 UTC,
// bench/results/h200-2026-12-03-s12/r1): the model's pick, the measured time at it and at the
// old plan's count (no rate). The old and new library's plans timed in one device call (r2)
// agree: e.g. d64 b1 kv 128k 82.2 -> 65.5 us, d256 b1 kv 128k 273.8 -> 248.3 us.
TEST_CASE("cpu launch plan decode: one-m-tile CTAs plan with per-CTA rates by head dim") {
  using ptxfmha::choose_num_splits_bw;
  struct Pick { int d, b, kv, hq, q, page, per_sm, expect, without; };
  const Pick picks[] = {
      {64, 1, 131072, 128, 1, 0, 3, 16, 10},   // 65.4 us = best (10: 81.9)
      {64, 1, 8192, 128, 1, 0, 3, 16, 10},     // 9.6 = best (10: 10.9)
      {64, 1, 131072, 32, 4, 64, 3, 16, 10},   // 67.8, best 32: 67.5 (10: 83.3)
      {64, 1, 131072, 32, 1, 0, 3, 16, 16},    // 4 packed rows: unchanged (64.7, 97.6% of the ceiling)
      {256, 1, 131072, 128, 1, 0, 1, 8, 10},   // 248.0 = best (10: 273.1)
      {256, 1, 32768, 32, 4, 0, 1, 8, 16},     // 68.6 = best (16: 73.0)
      {256, 4, 1024, 32, 1, 0, 1, 2, 4},       // 13.8 = best (4: 15.0)
      {256, 8, 4096, 32, 1, 0, 1, 1, 2},       // 64.0 = best (2: 66.4)
      {128, 1, 131072, 128, 1, 0, 2, 10, 10},  // no rate at d128: 126.8, best 16: 125.2
  };
  for (const Pick& k : picks) {
    CAPTURE(k.d); CAPTURE(k.b); CAPTURE(k.kv); CAPTURE(k.hq); CAPTURE(k.q); CAPTURE(k.page);
    ptxfmha_decode_params p = decode_params(k.b, k.q, k.hq, 8, k.d, k.kv);
    if (k.page) set_pages(&p, k.page);
    CHECK(ptxfmha::decode_plans_by_bandwidth(p, 2));
    const double part = ptxfmha::decode_bw_partials_tiles(int64_t(k.b) * k.hq * k.q, 132, 2);
    const int64_t units = int64_t(k.b) * 8, tiles = k.kv / 64;
    CHECK(choose_num_splits_bw(units, tiles, 132, k.per_sm, ptxfmha::decode_cta_rate(p, 2), part) == k.expect);
    // The old plan (a mutation: no rate).
    CHECK(choose_num_splits_bw(units, tiles, 132, k.per_sm, 0.0, part) == k.without);
  }
  CHECK(ptxfmha::decode_cta_rate(decode_params(1, 1, 128, 8, 128, 8192), 2) == 0.0);
  CHECK(ptxfmha::decode_cta_rate(decode_params(1, 1, 32, 8, 64, 8192), 2) == ptxfmha::kDecodeCtaRateD64);
  CHECK(ptxfmha::decode_cta_rate(decode_params(1, 1, 32, 8, 256, 8192), 2) == ptxfmha::kDecodeCtaRateD256);
  // More m-tiles at d256: the row-tile rate, held to the SM cap (1.15 x 4 / 2 = 2.3 would lift it).
  CHECK(ptxfmha::decode_cta_rate(decode_params(1, 4, 64, 8, 256, 8192), 2) == ptxfmha::kDecodeSmRateCap);
  // Pages of 16 at head dim 256 keep the wave model (the next test case).
  ptxfmha_decode_params p16 = decode_params(1, 1, 32, 32, 256, 8192);
  set_pages(&p16, 16);
  CHECK_FALSE(ptxfmha::decode_plans_by_bandwidth(p16, 2));
}

// Pages of 16 keys at head dims 64 / 128 (not the _wg rows) plan with the bandwidth model at
// kDecodeCtaRateSmallPages shares per CTA, and a bf16 split holds at least kDecodeMinSplitTiles
// tiles. Measured (H200, 2026-12-03 20:11-20:28 UTC, bench/results/h200-2026-12-03-s13, the old
// library's plan (the mutation) against the new, same call): the picks below and their times.
TEST_CASE("cpu launch plan decode: pages of 16 by bandwidth at head dims 64 / 128; two tiles per split") {
  using ptxfmha::choose_num_splits_bw;
  struct Pick { int d, b, kv, hq, page, per_sm, expect, wave; };
  const Pick picks[] = {
      {64, 32, 1024, 128, 16, 4, 1, 2},       // 20.2 us (wave 2: 25.1); the _s3 row, 4 per SM
      {64, 1, 8192, 32, 16, 3, 32, 43},       // 9.9 (43: 11.3)
      {64, 4, 4096, 64, 16, 3, 8, 11},        // 13.4 (11: 14.3)
      {128, 64, 131072, 128, 16, 2, 9, 17},   // 7709 (17: 7741)
  };
  for (const Pick& k : picks) {
    CAPTURE(k.d); CAPTURE(k.b); CAPTURE(k.kv); CAPTURE(k.hq);
    ptxfmha_decode_params p = decode_params(k.b, 1, k.hq, 8, k.d, k.kv);
    set_pages(&p, k.page);
    REQUIRE(ptxfmha::decode_plans_by_bandwidth(p, 2));
    CHECK(ptxfmha::decode_cta_rate(p, 2) == ptxfmha::kDecodeCtaRateSmallPages);
    const int64_t units = int64_t(k.b) * 8, tiles = k.kv / 64;
    const double part = ptxfmha::decode_bw_partials_tiles(int64_t(k.b) * k.hq, 132, 2);
    CHECK(choose_num_splits_bw(units, tiles, 132, k.per_sm, ptxfmha::decode_cta_rate(p, 2), part,
                               ptxfmha::decode_max_splits(tiles, 2)) == k.expect);
    // The old plan (a mutation: the wave model over SMs x resident CTAs).
    CHECK(ptxfmha::choose_num_splits(units, tiles, 132 * k.per_sm) == k.wave);
  }
  // Which calls: bf16 pages of 16 at head dims 64 / 128 but not the _wg rows; d256 (its CTAs
  // pull ~1.07 shares in pages of 16: at 0.6 it split batch 4 kv 128k into 41, 9% slower than
  // the wave model's 4) and the _wg rows keep the wave model; e4m3 as before (head dim 64 only).
  ptxfmha_decode_params p = decode_params(1, 4, 128, 8, 128, 8192);
  set_pages(&p, 16);
  CHECK(ptxfmha::decode_plans_by_bandwidth(p, 2));
  CHECK_FALSE(ptxfmha::decode_plans_by_bandwidth(p, 2, true));
  p.head_dim = 256;
  CHECK_FALSE(ptxfmha::decode_plans_by_bandwidth(p, 2));
  p.head_dim = 64;
  CHECK(ptxfmha::decode_plans_by_bandwidth(p, 1));
  p.head_dim = 128;
  CHECK_FALSE(ptxfmha::decode_plans_by_bandwidth(p, 1));
  // (the mma.sync e4m3 row's rate at 4 m-tiles; not consulted: head dim 128 plans by waves)
  CHECK(ptxfmha::decode_cta_rate(p, 1) == ptxfmha::kDecodeCtaRateE4m3 / 4);

  // Two tiles per split, bf16 only: batch 1, kv 1k (16 tiles) plans 8 splits where the cost
  // models pick 16 (the mutation: no cap). Measured: d128 64/8 6.5 us (16: 7.1), d64 128/8 5.7
  // (16: 6.0), d256 128/8 in pages of 16 (the wave model) 11.6 (16: 15.0).
  CHECK(ptxfmha::decode_max_splits(16, 2) == 8);
  CHECK(ptxfmha::decode_max_splits(1, 2) == 1);
  CHECK(ptxfmha::decode_max_splits(16, 1) == ptxfmha::kDecodeMaxSplits);
  CHECK(ptxfmha::decode_max_splits(1 << 20, 2) == ptxfmha::kDecodeMaxSplits);
  const ptxfmha_decode_params p1k = decode_params(1, 1, 64, 8, 128, 1024);
  CHECK(choose_num_splits_bw(8, 16, 132, 2, ptxfmha::decode_cta_rate(p1k, 2),
                             ptxfmha::decode_bw_partials_tiles(64, 132, 2), ptxfmha::decode_max_splits(16, 2)) == 8);
  CHECK(choose_num_splits_bw(8, 16, 132, 2, ptxfmha::decode_cta_rate(p1k, 2),
                             ptxfmha::decode_bw_partials_tiles(64, 132, 2)) == 16);
  CHECK(ptxfmha::choose_num_splits(8, 16, 132, ptxfmha::decode_max_splits(16, 2)) == 8);
  CHECK(ptxfmha::choose_num_splits(8, 16, 132) == 16);
  // Through plan_decode (what the launch path calls), bandwidth and wave models both capped.
  ptxfmha::DecodePlanOptions o;
  o.sms = 132;
  DecodePlan pl;
  ptxfmha::plan_decode(p1k, kSplit128, kCombine1, 264, &pl, o);
  CHECK(pl.num_splits == 8);
  ptxfmha::plan_decode(p1k, kSplit128, kCombine1, 132, &pl);
  CHECK(pl.num_splits == 8);
  ptxfmha::DecodePlanOptions e;
  e.kv_bytes = 1;  // e4m3 (one-tile splits not measured): no cap, the wave model's 16
  ptxfmha::plan_decode(p1k, kSplit128, kCombine1, 132, &pl, e);
  CHECK(pl.num_splits == 16);
}

// The warpgroup rows (_wg: 33..64 packed rows per CTA, sm90a) plan with their own per-CTA rate
// (decode_cta_rate(..., wg_loop = true)), fitted on forced split counts (H200, 2026-12-03 12:41
// UTC, bench/results/h200-2026-12-03-s10: 128/8 heads x 4 tokens, contiguous, counts 2, 4, 8,
// 16, 33): the model's pick and the measured times.
TEST_CASE("cpu launch plan decode: the warpgroup rows plan with their measured per-CTA rate") {
  using ptxfmha::choose_num_splits_bw;
  const ptxfmha_decode_params p128 = decode_params(1, 4, 128, 8, 128, 8192);
  const ptxfmha_decode_params p64 = decode_params(1, 4, 128, 8, 64, 8192);
  CHECK(ptxfmha::decode_cta_rate(p128, 2, true) == ptxfmha::kDecodeCtaRateWgD128);
  CHECK(ptxfmha::decode_cta_rate(p64, 2, true) == ptxfmha::kDecodeCtaRateWgD64);
  // d256: its own rate (fitted in s20), not the one-m-tile d256 row's
  const ptxfmha_decode_params p256 = decode_params(1, 4, 128, 8, 256, 8192);
  CHECK(ptxfmha::decode_cta_rate(p256, 2, true) == ptxfmha::kDecodeCtaRateWgD256);
  CHECK(ptxfmha::decode_cta_rate(p256, 2, false) != ptxfmha::kDecodeCtaRateWgD256);
  CHECK(ptxfmha::decode_cta_rate(p128, 2, false) == doctest::Approx(ptxfmha::kDecodeCtaRateRowTile / 2));
  // e4m3: its own rate (the _e4m3_wg rows plan by waves: not consulted)
  CHECK(ptxfmha::decode_cta_rate(p128, 1, true) == ptxfmha::kDecodeCtaRateE4m3);
  struct Pick { int d, b, kv, slots_per_sm, expect; };
  const Pick picks[] = {
      {128, 1, 131072, 2, 16},  // 128.9 us = best of the forced counts (rate 0 picks 10: 161.5)
      {128, 1, 8192, 2, 13},    // forced 16: 17.8 = best measured, 8: 20.8 (rate 0: 10, 19.4)
      {128, 8, 8192, 2, 2},     // 72.4 = best
      {128, 8, 131072, 2, 2},   // 950.7 = best
      {64, 1, 131072, 3, 27},   // forced 33: 72.8 = best measured, 16: 83.3 (rate 0: 10, 128.0)
      {64, 1, 8192, 3, 16},     // 12.0 = best (rate 0: 10, 14.5)
      {64, 8, 8192, 3, 4},      // 42.3 = best (rate 0: 2, 47.3)
      {64, 8, 131072, 3, 4},    // 504.3 = best (rate 0: 2, 615.1)
      // d256, one CTA per SM (H200, 2026-12-05, bench/results/h200-2026-12-05-s20/r2, counts
      // 1-16): the measured best on each
      {256, 1, 32768, 1, 16},   // 82.4 us; 8: 85.5
      {256, 1, 131072, 1, 16},  // 262.1; 8: 290.9
      {256, 8, 32768, 1, 2},    // 492.0; 1 / 4 / 8 / 16: 561.2 / 508.4 / 526.1 / 550.6
      {256, 8, 131072, 1, 2},   // 1894.9; 1: 2181.5
  };
  for (const Pick& k : picks) {
    CAPTURE(k.d); CAPTURE(k.b); CAPTURE(k.kv);
    const ptxfmha_decode_params p = decode_params(k.b, 4, 128, 8, k.d, k.kv);
    const double rate = ptxfmha::decode_cta_rate(p, 2, true);
    CHECK(choose_num_splits_bw(int64_t(k.b) * 8, k.kv / 64, 132, k.slots_per_sm, rate,
                               ptxfmha::decode_bw_partials_tiles(int64_t(k.b) * 128 * 4, 132, 2)) == k.expect);
  }
  // Without the rate (a mutation) the batch-1 kv-128k calls take 10 splits (1.25x / 1.76x the
  // best measured time at d128 / d64).
  CHECK(choose_num_splits_bw(8, 2048, 132, 2, 0.0, ptxfmha::decode_bw_partials_tiles(512, 132, 2)) == 10);
  CHECK(choose_num_splits_bw(8, 2048, 132, 3, 0.0, ptxfmha::decode_bw_partials_tiles(512, 132, 2)) == 10);
  // d256 at the one-m-tile d256 row's rate (the plan before s20, a mutation): batch 8 takes 1
  // split (561.2 / 2181.5 us at kv 32k / 128k against 2 splits' 492.0 / 1894.9), and at a CTA's
  // measured share alone (1.75) batch 1 takes 10-11 (80-88 CTAs, not the 16 measured best).
  CHECK(choose_num_splits_bw(64, 512, 132, 1, ptxfmha::kDecodeCtaRateD256,
                             ptxfmha::decode_bw_partials_tiles(4096, 132, 2)) == 1);
  CHECK(choose_num_splits_bw(8, 2048, 132, 1, 1.75, ptxfmha::decode_bw_partials_tiles(512, 132, 2)) == 10);
}

TEST_CASE("cpu launch plan decode: the K/V tensor maps' L2 promotion is 128 B unless overridden") {
  ScopedEnv env("PTXFMHA_DECODE_L2_PROMOTION");
  env.unset();
  CHECK(ptxfmha::decode_l2_promotion() == CU_TENSOR_MAP_L2_PROMOTION_L2_128B);
  env.set("256");
  CHECK(ptxfmha::decode_l2_promotion() == CU_TENSOR_MAP_L2_PROMOTION_L2_256B);
  env.set("none");
  CHECK(ptxfmha::decode_l2_promotion() == CU_TENSOR_MAP_L2_PROMOTION_NONE);
  env.set("64");
  CHECK(ptxfmha::decode_l2_promotion() == CU_TENSOR_MAP_L2_PROMOTION_L2_64B);
  env.set("bogus");
  CHECK(ptxfmha::decode_l2_promotion() == CU_TENSOR_MAP_L2_PROMOTION_L2_128B);
}

TEST_CASE("cpu launch plan decode: a contiguous cache's TMA boxes are 64 keys unless overridden") {
  // PTXFMHA_DECODE_BOX_ROWS (16 / 32) reaches the plan of a contiguous cache only; a paged
  // cache keeps min(page, 64) whatever it says (the A/B hook of the H100 box-size run, s29).
  ScopedEnv env("PTXFMHA_DECODE_BOX_ROWS");
  ptxfmha_decode_params p = decode_params(2, 1, 8, 8, 128, 1000);
  env.unset();
  CHECK(plan_decode(p, 264).box_shift == 6);
  env.set("16");
  CHECK(plan_decode(p, 264).box_shift == 4);
  env.set("32");
  CHECK(plan_decode(p, 264).box_shift == 5);
  env.set("128");  // not a box the kernels take: the default
  CHECK(plan_decode(p, 264).box_shift == 6);
  env.set("16");
  p.block_table = kFakeTable;
  p.page_size = 64;
  CHECK(plan_decode(p, 264).box_shift == 6);
  p.page_size = 32;
  CHECK(plan_decode(p, 264).box_shift == 5);
}

TEST_CASE("cpu launch plan decode: bf16 CTAs of >= 32 packed rows on fewer units than SMs take one CTA per SM") {
  // The cells of the H100 run (2026-12-06 16:50 UTC, bench/results/h100-2026-12-06-s31/n1, forced
  // counts): d64 / d128, 64/8 and 128/8 heads x 4 tokens (32 / 64 packed rows), batch 1 (8 units:
  // 16 splits ran 0-26% faster than the planned 27-47) and batch 8 (64 units: 2 splits within
  // 0.3% of the planned count or faster), contiguous and in pages of 16, the plain rows and the
  // _wg rows (64 rows).
  ptxfmha::DecodePlanOptions o;
  o.sms = 132;
  int capped = 0;
  for (int d : {64, 128})
    for (int hq : {64, 128})
      for (int b : {1, 8})
        for (int kv : {4096, 8192, 32768})
          for (bool paged : {false, true}) {
            ptxfmha_decode_params p = decode_params(b, 4, hq, 8, d, kv);
            if (paged) set_pages(&p, 16);
            o.wg_loop = hq == 128;
            const int64_t units = ptxfmha::decode_split_units(p);
            CAPTURE(d); CAPTURE(hq); CAPTURE(b); CAPTURE(kv); CAPTURE(paged);
            CHECK(units == 8 * b);
            CHECK(ptxfmha::decode_rows_split_cap(p, units, 132, 2, kv / 64) == 132 / units);
            DecodePlan plan;
            ptxfmha::plan_decode(p, kSplit128, kCombine1, o.wg_loop ? 132 : 264, &plan, o);
            CHECK(plan.num_splits <= 132 / units);
            CHECK(units * plan.num_splits <= 132);
            // without the cap the models split these grids further (the mutation): where they do,
            // the cap is what moved the plan
            const int64_t tiles = kv / 64;
            const int uncapped =
                ptxfmha::decode_plans_by_bandwidth(p, 2, o.wg_loop)
                    ? ptxfmha::choose_num_splits_bw(units, tiles, 132, (o.wg_loop ? 132 : 264) / 132,
                                                    ptxfmha::decode_cta_rate(p, 2, o.wg_loop),
                                                    ptxfmha::decode_bw_partials_tiles(ptxfmha::decode_out_rows(p), 132, 2),
                                                    ptxfmha::decode_max_splits(tiles, 2))
                    : ptxfmha::best_num_splits(units, tiles, o.wg_loop ? 132 : 264, ptxfmha::decode_max_splits(tiles, 2),
                                               ptxfmha::decode_combine_tiles(2, o.wg_loop));
            if (uncapped > plan.num_splits) ++capped;
          }
  MESSAGE("one CTA per SM at >= 32 rows: " << capped << " of 48 plans moved by the cap");
  CHECK(capped > 0);
  // Not capped: fewer rows (1 token at 32/8: 4 rows), e4m3, head dim 256, caches of more than
  // 32k keys, grids of >= sms units.
  const ptxfmha_decode_params few = decode_params(1, 1, 32, 8, 128, 8192);
  CHECK(ptxfmha::decode_rows_split_cap(few, 8, 132, 2, 128) == ptxfmha::kDecodeMaxSplits);
  const ptxfmha_decode_params rows32 = decode_params(1, 4, 64, 8, 128, 8192);
  CHECK(ptxfmha::decode_rows_split_cap(rows32, 8, 132, 1, 128) == ptxfmha::kDecodeMaxSplits);
  const ptxfmha_decode_params d256 = decode_params(1, 4, 64, 8, 256, 8192);
  CHECK(ptxfmha::decode_rows_split_cap(d256, 8, 132, 2, 128) == ptxfmha::kDecodeMaxSplits);
  CHECK(ptxfmha::decode_rows_split_cap(rows32, 8, 132, 2, 2048) == ptxfmha::kDecodeMaxSplits);
  CHECK(ptxfmha::decode_rows_split_cap(rows32, 132, 132, 2, 128) == ptxfmha::kDecodeMaxSplits);
  CHECK(ptxfmha::decode_rows_split_cap(rows32, 33, 132, 2, 128) == 4);
}
