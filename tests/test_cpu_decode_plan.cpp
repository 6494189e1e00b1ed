// CPU tests of decode's launch plan (no device): plan_decode and its split models
// (host/src/decode.h, decode_plan.cpp); the forward's plan: test_cpu_launch_plan.cpp; the
// per-CTA rates and the one-CTA-per-SM cap: test_cpu_decode_plan_rates.cpp.
//   - exact plans for representative shapes, worked out by hand in the comments (split count,
//     grid, combine rows per CTA, workspace bytes); requested splits, one key, pages;
//   - properties over random shapes, checked against an independent model of the split layout;
//   - the bandwidth split model the library plans with and its partials term, the row choices
//     (wide d64, e4m3 two heads), the cluster policy, the tensor maps' L2 promotion and box size.
// Rows are synthetic (tests/decode_plan_util.h).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>

#include "decode_plan_util.h"

using namespace decode_plan_test;

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

// The bf16 two-heads rows (_h2; d64 since s39, d128 in pages since s40) where the grid of
// two-heads units covers the SMs (decode_prefers_two_heads_bf16; numbers in decode.h): d64
// contiguous and in pages of >= 64 keys, d128 in pages of >= 64 keys at 4k-32k keys only; at most
// 16 packed rows per head, an even heads_kv, no cluster; pages of 16 and d128 contiguous keep the
// one-head rows; d64 also short of a wave by at most sms / 32 SMs at 8k-32k keys (s44). The
// boundaries (units = SMs, the near-wave units, d64's and d128's keys) are pinned on both sides (a mutation of
// the rule's comparisons, its head dims or its cache test flips a case).
TEST_CASE("cpu launch plan decode: the bf16 two-heads rows where their two-heads grid covers the SMs") {
  using ptxfmha::decode_prefers_two_heads_bf16;
  const int64_t kv = 8192;  // inside d128's range of keys
  CHECK_FALSE(decode_prefers_two_heads_bf16(64, 131, 132, false, false, 4096));  // short of a wave
  CHECK(decode_prefers_two_heads_bf16(64, 132, 132, false, false, 4096));
  CHECK(decode_prefers_two_heads_bf16(64, 132, 132, false, false, kv));
  // d64 short of a wave by at most sms / 32 SMs (128 of 132) at 8k-32k keys (s44)
  CHECK(decode_prefers_two_heads_bf16(64, 128, 132, false, false, 8192));
  CHECK(decode_prefers_two_heads_bf16(64, 128, 132, false, false, 32768));
  CHECK(decode_prefers_two_heads_bf16(64, 128, 132, true, false, 8192));         // pages of >= 64 keys
  CHECK_FALSE(decode_prefers_two_heads_bf16(64, 127, 132, false, false, 8192));
  CHECK_FALSE(decode_prefers_two_heads_bf16(64, 128, 132, false, false, 8191));
  CHECK_FALSE(decode_prefers_two_heads_bf16(64, 128, 132, false, false, 32769));
  CHECK_FALSE(decode_prefers_two_heads_bf16(64, 128, 132, true, true, 8192));    // pages of < 64 keys
  CHECK_FALSE(decode_prefers_two_heads_bf16(128, 128, 132, true, false, 8192));  // d128: a full wave
  CHECK(decode_prefers_two_heads_bf16(64, 1024, 132, false, false, kv));
  CHECK(decode_prefers_two_heads_bf16(64, 1024, 132, true, false, kv));          // pages of >= 64 keys
  CHECK(decode_prefers_two_heads_bf16(64, 1024, 132, false, false, 1024));       // d64: any length
  CHECK(decode_prefers_two_heads_bf16(64, 1024, 132, false, false, 131072));
  CHECK_FALSE(decode_prefers_two_heads_bf16(64, 1024, 132, true, true, kv));     // pages of < 64 keys
  CHECK_FALSE(decode_prefers_two_heads_bf16(128, 1024, 132, false, false, kv));  // d128 contiguous: cp.async row
  CHECK(decode_prefers_two_heads_bf16(128, 1024, 132, true, false, kv));         // d128 in pages of >= 64
  CHECK(decode_prefers_two_heads_bf16(128, 132, 132, true, false, kv));
  CHECK_FALSE(decode_prefers_two_heads_bf16(128, 131, 132, true, false, kv));
  CHECK_FALSE(decode_prefers_two_heads_bf16(128, 1024, 132, true, true, kv));    // d128 in pages of 16
  CHECK(decode_prefers_two_heads_bf16(128, 1024, 132, true, false, 4096));       // d128: 4k-32k keys
  CHECK(decode_prefers_two_heads_bf16(128, 1024, 132, true, false, 32768));
  CHECK_FALSE(decode_prefers_two_heads_bf16(128, 1024, 132, true, false, 4095));
  CHECK_FALSE(decode_prefers_two_heads_bf16(128, 1024, 132, true, false, 32769));
  CHECK_FALSE(decode_prefers_two_heads_bf16(256, 1024, 132, true, false, kv));   // no d256 two-heads rule
  CHECK_FALSE(decode_prefers_two_heads_bf16(64, 1024, 0, false, false, kv));     // no SM count: the row as picked
  for (int sm : {90, 100}) {
    CAPTURE(sm);
    const KernelInfo* one = ptxfmha::find_decode_split(sm, 64, 2, false, 8, 4);
    REQUIRE(one != nullptr);
    REQUIRE(ptxfmha::decode_row_heads(one) == 1);  // the head dim's default comes first
    const KernelInfo* h2 = ptxfmha::find_decode_two_heads(sm, one, 8, 4);
    REQUIRE(h2 != nullptr);
    CHECK(ptxfmha::decode_row_heads(h2) == 2);
    CHECK(h2->head_dim == 64);
    CHECK(ptxfmha::decode_row_facts(h2)->kv_bytes == 2);
    const KernelInfo* wide = ptxfmha::find_decode_wide(sm, one);
    REQUIRE(wide != nullptr);
    struct Case { int batch, sq, hq, hkv, page; const KernelInfo* expect; };
    const Case cases[] = {
        {64, 1, 32, 8, 0, h2},     // 256 two-heads units
        {33, 1, 32, 8, 0, h2},     // 132: the boundary
        {32, 1, 32, 8, 0, h2},     // 128 units at 8k keys: short of a wave by 4 SMs (s44)
        {64, 1, 32, 8, 64, h2},    // pages of 64
        {128, 1, 32, 8, 16, wide}, // pages of 16
        {32, 4, 32, 32, 0, h2},    // 32/32 x 4 tokens: 512 units of 4 rows
        {31, 1, 128, 8, 0, wide},  // 16 rows per head: 124 units, short by 8 SMs
        {32, 1, 128, 8, 0, h2},    // 128 units
        {64, 2, 128, 8, 0, wide},  // 32 rows per head: no two-heads row
        {128, 1, 40, 5, 0, wide},  // odd heads_kv (256 two-heads units if it were even)
    };
    for (const Case& k : cases) {
      CAPTURE(k.batch); CAPTURE(k.sq); CAPTURE(k.hq); CAPTURE(k.hkv); CAPTURE(k.page);
      ptxfmha_decode_params p = decode_params(k.batch, k.sq, k.hq, k.hkv, 64, 8192);
      if (k.page > 0) set_pages(&p, k.page);
      CHECK(ptxfmha::decode_grid_row(sm, 132, one, p) == k.expect);
    }
    // 128 units: the one-head row (its wide twin, 256 units) outside 8k-32k keys
    CHECK(ptxfmha::decode_grid_row(sm, 132, one, decode_params(32, 1, 32, 8, 64, 4096)) == wide);
    CHECK(ptxfmha::decode_grid_row(sm, 132, one, decode_params(32, 1, 32, 8, 64, 131072)) == wide);
    // a call that may merge its splits in a cluster keeps one head per CTA (the _cl twins)
    CHECK(ptxfmha::decode_grid_row(sm, 132, one, decode_params(64, 1, 32, 8, 64, 8192), true) == wide);
    // d128: its two-heads row in pages of >= 64 keys at 4k-32k keys, the one-head row contiguous, in
    // pages of 16 and at 1k / 128k keys
    const KernelInfo* d128 = ptxfmha::find_decode_split(sm, 128, 2, false, 8, 1);
    REQUIRE(d128 != nullptr);
    REQUIRE(ptxfmha::decode_row_heads(d128) == 1);
    const KernelInfo* d128h2 = ptxfmha::find_decode_two_heads(sm, d128, 8, 1);
    REQUIRE(d128h2 != nullptr);
    CHECK(d128h2->head_dim == 128);
    CHECK(ptxfmha::decode_row_heads(d128h2) == 2);
    struct D128 { int batch, page, keys; bool two; };
    for (const D128& k : {D128{128, 0, 8192, false}, D128{128, 64, 8192, true}, D128{128, 128, 8192, true},
                          D128{33, 64, 8192, true}, D128{32, 64, 8192, false}, D128{128, 16, 8192, false},
                          D128{128, 64, 1024, false}, D128{128, 64, 131072, false}, D128{128, 64, 32768, true}}) {
      CAPTURE(k.batch); CAPTURE(k.page); CAPTURE(k.keys);
      ptxfmha_decode_params p = decode_params(k.batch, 1, 32, 8, 128, k.keys);
      if (k.page > 0) set_pages(&p, k.page);
      const KernelInfo* r = ptxfmha::decode_grid_row(sm, 132, d128, p);
      CHECK((r == d128h2) == k.two);
      CHECK(r->head_dim == 128);
    }
    ptxfmha_decode_params paged = decode_params(128, 1, 32, 8, 128, 8192);
    set_pages(&paged, 64);
    CHECK(ptxfmha::decode_grid_row(sm, 132, d128, paged, true) != d128h2);  // may cluster: one head per CTA
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

// The _ho rows' plan (plan_decode_handout): the chunks are whole tiles, CTAs per unit = the split
// plan's count (at most the chunks), the partials' workspace per chunk, then the counters.
TEST_CASE("cpu launch plan decode: the hand-out plan (chunks, CTAs per unit, partials then counters)") {
  struct Case { int b, hkv, max_k, splits, per_cta, chunks, chunk_keys, ctas; };
  // b 2, 8 KV heads x 1 token (32/8: 4 packed rows, 64 output rows); 8192 keys = 128 tiles.
  //   4 CTAs x 8 = 32 chunks of 4 tiles; 4 x 1 = 4 chunks of 32 tiles; 128 CTAs x 8 > 128
  //   tiles: 128 chunks of one tile, 128 CTAs; 3000 keys = 47 tiles, 3 x 8 = 24 -> 2 tiles a
  //   chunk, 24 chunks (the last 1 tile); 1 x 1: one chunk of every tile, one CTA.
  for (const Case c : {Case{2, 8, 8192, 4, 8, 32, 256, 4}, Case{2, 8, 8192, 4, 1, 4, 2048, 4},
                       Case{2, 8, 8192, 128, 8, 128, 64, 128}, Case{2, 8, 3000, 3, 8, 24, 128, 3},
                       Case{2, 8, 3000, 1, 1, 1, 3008, 1}}) {
    CAPTURE(c.max_k);
    CAPTURE(c.splits);
    CAPTURE(c.per_cta);
    ptxfmha_decode_params p = decode_params(c.b, 1, 32, c.hkv, 128, c.max_k);
    p.num_splits = c.splits;
    DecodePlan plan = plan_decode(p, 264);
    REQUIRE(plan.num_splits == std::min(c.splits, (c.max_k + 63) / 64));
    ptxfmha::plan_decode_handout(p, c.per_cta, kCombine1, &plan);
    CHECK(plan.num_splits == c.chunks);
    CHECK(plan.split_keys == c.chunk_keys);
    CHECK(plan.split_keys % 64 == 0);
    CHECK(int64_t(plan.split_keys) * plan.num_splits >= c.max_k);
    CHECK(int64_t(plan.split_keys) * (plan.num_splits - 1) < c.max_k);  // no empty trailing chunk
    CHECK(plan.ho_ctas == c.ctas);
    CHECK(plan.split_grid[0] == unsigned(c.hkv));
    CHECK(plan.split_grid[1] == unsigned(c.ctas));
    CHECK(plan.split_grid[2] == unsigned(c.b));
    CHECK(plan.ho_counters() == int64_t(c.hkv) * c.b);
    const uint64_t rows = uint64_t(c.b) * 32;  // out rows: the combine's grid, always
    CHECK(plan.combine_grid == rows);
    CHECK(plan.cluster == 0);
    // LSEs, O (256-aligned), counters (256-aligned), nothing overlapping
    const uint64_t partials = rows * uint64_t(c.chunks);
    CHECK(plan.ws_lse_offset == 0);
    CHECK(plan.ws_o_offset >= partials * 4);
    CHECK(plan.ws_o_offset % 256 == 0);
    CHECK(plan.ws_counter_offset >= plan.ws_o_offset + partials * 128 * 4);
    CHECK(plan.ws_counter_offset % 256 == 0);
    CHECK(plan.workspace_bytes == plan.ws_counter_offset + uint64_t(plan.ho_counters()) * 4);
  }
  // the environment's chunks per CTA: 1..64, anything else the default
  ScopedEnv env("PTXFMHA_DECODE_HO_CHUNKS");
  env.unset();
  CHECK(ptxfmha::decode_ho_chunks_per_cta() == ptxfmha::kDecodeHoChunksPerCta);
  env.set("5");
  CHECK(ptxfmha::decode_ho_chunks_per_cta() == 5);
  for (const char* bad : {"0", "65", "x", ""}) {
    env.set(bad);
    CHECK(ptxfmha::decode_ho_chunks_per_cta() == ptxfmha::kDecodeHoChunksPerCta);
  }
}
