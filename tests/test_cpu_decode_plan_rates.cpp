// CPU tests of decode's launch plan (no device), continued from test_cpu_decode_plan.cpp: the
// per-CTA rates the bandwidth model plans with, by cache type (bf16, e4m3), head dim, packed
// rows (one m-tile, more, the warpgroup rows) and page size, each against the forced split counts
// it was fitted on; and the one-CTA-per-SM cap at >= 32 packed rows (decode_rows_split_cap), half
// the SMs at head dim 256.
// Rows are synthetic (tests/decode_plan_util.h).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "decode_plan_util.h"

using namespace decode_plan_test;

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

TEST_CASE("cpu launch plan decode: bf16 CTAs of >= 32 packed rows on fewer units than SMs take one CTA per SM") {
  // The cells of the H100 runs (2026-12-06, forced counts: bench/results/h100-2026-12-06-s31/n1,
  // batch 1 and 8; -s32/n4, batch 4): d64 / d128, 64/8 and 128/8 heads x 4 tokens (32 / 64 packed
  // rows), contiguous and in pages of 16, the plain rows and the _wg rows (64 rows). Batch 1 (8
  // units): 16 splits ran 0-26% faster than the planned 27-47. Batches 4 / 8: one CTA per SM at
  // d128 (4 splits the best of 2-12 at batch 4), two at d64 where a CTA copies a tile in small
  // pieces (the plain row's cp.async on a contiguous cache, pages of 16 on any row).
  ptxfmha::DecodePlanOptions o;
  o.sms = 132;
  int capped = 0, two_per_sm = 0;
  for (int d : {64, 128})
    for (int hq : {64, 128})
      for (int b : {1, 4, 8})
        for (int kv : {4096, 8192, 32768})
          for (bool paged : {false, true}) {
            ptxfmha_decode_params p = decode_params(b, 4, hq, 8, d, kv);
            set_dense_cache(&p);
            if (paged) set_pages(&p, 16);
            o.wg_loop = hq == 128;
            o.cpasync_row = !o.wg_loop;  // the plain rows
            const bool cpasync = o.cpasync_row && ptxfmha::decode_cpasync_cache(p, 2);
            CHECK(cpasync == (!o.wg_loop && !paged));
            const int64_t units = ptxfmha::decode_split_units(p);
            CAPTURE(d); CAPTURE(hq); CAPTURE(b); CAPTURE(kv); CAPTURE(paged);
            CHECK(units == 8 * b);
            const bool two = d == 64 && (paged || cpasync) && b >= 4;
            // d128 _wg over <= 8k keys on whole-tile boxes (contiguous here): half the SMs (s44)
            const bool half = d == 128 && o.wg_loop && !paged && b == 1 && kv <= 8192;
            const int64_t cap = half ? 132 / (2 * units) : (two ? 2 : 1) * (132 / units);
            two_per_sm += two;
            CHECK(ptxfmha::decode_rows_split_cap(p, units, 132, 2, kv / 64, cpasync, o.wg_loop) == cap);
            DecodePlan plan;
            ptxfmha::plan_decode(p, kSplit128, kCombine1, o.wg_loop ? 132 : 264, &plan, o);
            CHECK(plan.cpasync == cpasync);  // the producer the plan records (the bench reports it)
            CHECK(plan.num_splits <= cap);
            CHECK(units * plan.num_splits <= (two ? 264 : 132));
            // without the cap the models split these grids further (the mutation): where they do,
            // the cap is what moved the plan
            const int64_t tiles = kv / 64;
            const int uncapped = ptxfmha::decode_model_splits(p, units, tiles, o.wg_loop ? 132 : 264, o,
                                                              ptxfmha::decode_max_splits(tiles, 2));
            if (uncapped > plan.num_splits) ++capped;
          }
  MESSAGE("one CTA per SM at >= 32 rows: " << capped << " of 72 plans moved by the cap; " << two_per_sm
                                             << " cells capped at two per SM");
  CHECK(capped > 0);
  CHECK(two_per_sm == 18);
  // The measured counts (the plans the rule must give): the best timed count, or within 1.5% of it.
  struct Measured { int d, hq, b, kv, page; int splits; };
  const Measured measured[] = {
      {64, 64, 4, 32768, 0, 8},    // 95.4 us (4: 100.6)
      {64, 64, 4, 4096, 16, 8},    // 19.5 (4: 19.6)
      {64, 128, 4, 32768, 16, 8},  // 98.0 (4: 109.7; 12, the uncapped plan: 101.0)
      {64, 128, 4, 32768, 0, 4},   // 93.8 (8: 96.6): the _wg row's whole-tile boxes
      {64, 128, 8, 8192, 16, 4},   // 56.4 (2: 59.0)
      {64, 128, 8, 8192, 0, 2},    // 54.2 (4: 57.8)
      {128, 64, 4, 8192, 16, 4},   // 53.9 (8: 55.5)
      {64, 64, 1, 8192, 0, 16},    // 12.7 (32: 13.7)
      // d128 _wg, batch 1 (2026-12-07, s36 n8): half the SMs over <= 8k keys on whole-tile boxes
      {128, 128, 1, 4096, 0, 8},    // 15.03 (13: 16.20, 16: 15.68)
      {128, 128, 1, 4096, 64, 8},   // 15.37 (13: 16.40, 16: 15.90)
      {128, 128, 1, 8192, 0, 8},    // 21.36 (13: 21.86, 16: 21.36)
      {128, 128, 1, 8192, 64, 8},   // 21.30 (13: 22.28, 16: 22.05)
      {128, 128, 1, 32768, 0, 16},  // 54.83 (8: 56.98, 13: 54.59): the model's count from 32k keys
      {128, 128, 1, 4096, 16, 16},  // 15.89 (8: 15.39): pages of 16 keep the model (8k: 16 the best)
  };
  for (const Measured& m : measured) {
    CAPTURE(m.d); CAPTURE(m.hq); CAPTURE(m.b); CAPTURE(m.kv); CAPTURE(m.page);
    ptxfmha_decode_params p = decode_params(m.b, 4, m.hq, 8, m.d, m.kv);
    set_dense_cache(&p);
    if (m.page) set_pages(&p, m.page);
    o.wg_loop = m.hq == 128;
    o.cpasync_row = !o.wg_loop;
    DecodePlan plan;  // the library's rows: 3 CTAs per SM at head dim 64, 2 at 128 (decode-plans)
    ptxfmha::plan_decode(p, kSplit128, kCombine1, (m.d == 64 ? 3 : 2) * 132, &plan, o);
    CHECK(plan.num_splits == m.splits);
  }
  // Head dim 128 stays at one per SM beyond 32k keys (s36): batches 1 / 4 / 8, kv 128k, pages of 16
  // (where the model took two per SM): one per SM was the best on all 8 cells (batch 4 128/8:
  // 708.3 us; 8 splits 717.8). Head dim 64 is not capped there (16 splits were mixed).
  for (int b : {1, 4, 8})
    for (int hq : {64, 128}) {
      ptxfmha_decode_params p = decode_params(b, 4, hq, 8, 128, 131072);
      set_dense_cache(&p);
      set_pages(&p, 16);
      o.wg_loop = hq == 128;
      o.cpasync_row = !o.wg_loop;
      CAPTURE(b); CAPTURE(hq);
      CHECK(ptxfmha::decode_rows_split_cap(p, 8 * b, 132, 2, 2048) == 132 / (8 * b));
      DecodePlan plan;
      ptxfmha::plan_decode(p, kSplit128, kCombine1, 264, &plan, o);
      CHECK(plan.num_splits == 16 / b);
      ptxfmha_decode_params d64 = p;
      d64.head_dim = 64;
      CHECK(ptxfmha::decode_rows_split_cap(d64, 8 * b, 132, 2, 2048) == ptxfmha::kDecodeMaxSplits);
    }
  // Two per SM needs >= 64 tiles (4k keys): kv 2k stays at one.
  CHECK(ptxfmha::decode_rows_split_cap(decode_params(4, 4, 64, 8, 64, 2048), 32, 132, 2, 32, true) == 4);
  // A contiguous cache the cp.async producer does not take (the rows then load whole-tile TMA
  // boxes) stays at one per SM: V's strides differ from K's, or the row has no cp.async path (an
  // _attn row with features: cpasync_row false).
  {
    ptxfmha_decode_params p = decode_params(4, 4, 64, 8, 64, 32768);
    set_dense_cache(&p);
    o.wg_loop = false;
    o.cpasync_row = true;
    DecodePlan plan;
    ptxfmha::plan_decode(p, kSplit128, kCombine1, 396, &plan, o);
    CHECK(plan.num_splits == 8);
    p.v_seq_stride += 8;
    ptxfmha::plan_decode(p, kSplit128, kCombine1, 396, &plan, o);
    CHECK(plan.num_splits == 4);
    p.v_seq_stride -= 8;
    o.cpasync_row = false;
    ptxfmha::plan_decode(p, kSplit128, kCombine1, 396, &plan, o);
    CHECK(plan.num_splits == 4);
  }
}

namespace {
// The split count of a d256 call of sq tokens at hq / hkv heads on 132 SMs, contiguous (the plain
// row takes cp.async) or in pages of `page` keys: the library's row for more than 32 rows is _wg
// (wg_loop), and the d256 rows run one CTA per SM (decode-plans).
// no_cpasync: the call's `tma` override (DecodeOverrides::tma), the TMA producer on any cache.
int d256_plan(int b, int sq, int hq, int hkv, int kv, int page, bool no_cpasync = false,
              bool* cpasync = nullptr) {
  ptxfmha_decode_params p = decode_params(b, sq, hq, hkv, 256, kv);
  set_dense_cache(&p);
  if (page) set_pages(&p, page);
  ptxfmha::DecodePlanOptions o;
  o.sms = 132;
  o.wg_loop = ptxfmha::decode_packed_rows(p) > 32;
  o.cpasync_row = !o.wg_loop;
  o.no_cpasync = no_cpasync;
  DecodePlan plan;
  ptxfmha::plan_decode(p, kSplit128, kCombine1, 132, &plan, o);
  if (cpasync) *cpasync = plan.cpasync;
  CHECK(plan.cpasync == (o.cpasync_row && !no_cpasync && ptxfmha::decode_cpasync_cache(p, 2)));
  return plan.num_splits;
}
// 4 tokens at hq / 8 heads (32 / 64 rows at 64 / 128 query heads).
int d256_four_token_plan(int b, int hq, int kv, int page) { return d256_plan(b, 4, hq, 8, kv, page); }
}  // namespace

TEST_CASE("cpu launch plan decode: head dim 256 at >= 32 rows on whole-tile TMA boxes takes half the SMs at batch 1") {
  // The H100's forced counts (2026-12-06 20:42 UTC, bench/results/h100-2026-12-06-s33/n5): batch 1,
  // 64/8 and 128/8 heads x 4 tokens (32 / 64 rows), kv 4k-128k, contiguous and in pages of 64, at 8
  // / 12 / 16 splits beside the plan. Where a CTA takes whole-tile TMA boxes (the _wg row; the plain
  // row in pages of 64) 8 splits (64 CTAs) were the best or within 0.7%; on the plain row's
  // cp.async (64/8 contiguous) the model's 10-11 were. The plans the rule must give, with what was
  // timed (us):
  struct Measured { int hq, kv, page; int splits; };
  const Measured measured[] = {
      {64, 4096, 64, 8},     // 24.4 (the model's 11: 26.2)
      {64, 32768, 64, 8},    // 101.6 (11: 114.2; 16: 106.2)
      {64, 131072, 64, 8},   // 364.3 (10: 415.0; 16: 368.3)
      {128, 4096, 0, 8},     // 26.1 (13: 27.2)
      {128, 8192, 64, 8},    // 37.9 (13: 41.9)
      {128, 32768, 0, 8},    // 105.8 (16: 111.1)
      {128, 131072, 64, 8},  // 369.1 (16: 375.5)
      {64, 8192, 0, 10},     // 36.4, cp.async (8: 38.0)
      {64, 131072, 0, 10},   // 360.1, cp.async (8: 417.5)
  };
  for (const Measured& m : measured) {
    CAPTURE(m.hq); CAPTURE(m.kv); CAPTURE(m.page);
    CHECK(d256_four_token_plan(1, m.hq, m.kv, m.page) == m.splits);
  }
  // Where the rule applies, and where the model keeps the call: batch 1 only (batch 4's half wave
  // is 2 splits per unit, fewer than kDecodeHalfWaveMinSplits), not the cp.async producer, not
  // pages of < 64 keys, not one-m-tile CTAs (1 token at 32/8: 4 rows), not e4m3.
  int capped = 0;
  for (int hq : {32, 64, 128})
    for (int sq : {1, 4})
      for (int b : {1, 4})
        for (int kv : {4096, 131072})
          for (int page : {0, 16, 64})
            for (bool cpasync : {false, true}) {
              ptxfmha_decode_params p = decode_params(b, sq, hq, 8, 256, kv);
              set_dense_cache(&p);
              if (page) set_pages(&p, page);
              CAPTURE(hq); CAPTURE(sq); CAPTURE(b); CAPTURE(kv); CAPTURE(page); CAPTURE(cpasync);
              const int64_t units = ptxfmha::decode_split_units(p);
              const bool half = b == 1 && sq * hq / 8 >= 32 && page != 16 && !cpasync;
              capped += half;
              CHECK(ptxfmha::decode_rows_split_cap(p, units, 132, 2, kv / 64, cpasync) ==
                    (half ? 8 : ptxfmha::kDecodeMaxSplits));
              CHECK(ptxfmha::decode_rows_split_cap(p, units, 132, 1, kv / 64, cpasync) == ptxfmha::kDecodeMaxSplits);
            }
  CHECK(capped == 8);
}

TEST_CASE("cpu launch plan decode: head dim 256 at >= 32 rows on more units takes one CTA per SM, not 80-104 CTAs") {
  // The H100's forced counts at batch 4 (32 units; 2026-12-06 21:28 UTC,
  // bench/results/h100-2026-12-06-s33/n6): 64/8 x 4 tokens, where the model planned 3 splits (96
  // CTAs) at kv >= 8k, ran 6.6-11.4% faster at 4; 128/8 x 4 kept the model's 4. The plans the
  // floor must give, with what was timed (us):
  struct Measured { int hq, kv, page; int splits; };
  const Measured measured[] = {
      {64, 8192, 0, 4},     // 103.1, cp.async (3: 110.4; 2: 115.3)
      {64, 131072, 0, 4},   // 1405.7 (3: 1551.6)
      {64, 32768, 64, 4},   // 364.9 (3: 407.3; 2: 365.4)
      {64, 131072, 64, 4},  // 1405.6 (3: 1585.9; 2: 1419.9)
      {128, 32768, 0, 4},   // 368.4 (3: 402.8)
      {128, 8192, 64, 4},   // 107.7 (2: 106.6; 3: 114.7)
  };
  for (const Measured& m : measured) {
    CAPTURE(m.hq); CAPTURE(m.kv); CAPTURE(m.page);
    CHECK(d256_four_token_plan(4, m.hq, m.kv, m.page) == m.splits);
  }
  // Where the floor applies: d256 bf16, >= 32 rows, fewer units than SMs whose half wave leaves <
  // 8 splits per unit, >= 4k keys.
  const ptxfmha_decode_params b4 = decode_params(4, 4, 64, 8, 256, 8192);
  CHECK(ptxfmha::decode_rows_split_floor(b4, 32, 132, 2, 128) == 4);
  CHECK(ptxfmha::decode_rows_split_floor(b4, 64, 132, 2, 128) == 2);   // batch 8
  CHECK(ptxfmha::decode_rows_split_floor(b4, 16, 132, 2, 128) == 8);   // batch 2
  CHECK(ptxfmha::decode_rows_split_floor(b4, 8, 132, 2, 128) == 1);    // batch 1: the half-wave cap's
  CHECK(ptxfmha::decode_rows_split_floor(b4, 132, 132, 2, 128) == 1);  // a full grid
  CHECK(ptxfmha::decode_rows_split_floor(b4, 32, 132, 1, 128) == 1);   // e4m3
  CHECK(ptxfmha::decode_rows_split_floor(b4, 32, 132, 2, 32) == 1);    // 2k keys
  // 8 rows (one m-tile) on cp.async: the model's (on TMA boxes: the one-m-tile floor, below)
  CHECK(ptxfmha::decode_rows_split_floor(decode_params(4, 1, 64, 8, 256, 8192), 32, 132, 2, 128, true) == 1);
  CHECK(ptxfmha::decode_rows_split_floor(decode_params(4, 4, 64, 8, 128, 8192), 32, 132, 2, 128) == 1);  // d128
}

TEST_CASE("cpu launch plan decode: head dim 256, one m-tile on whole-tile TMA boxes takes one CTA per SM from 8k keys") {
  // The H100's forced counts, pages of 64: 32/32 heads at batch 1 (32 units; s33 n5) and 32/8,
  // 64/8, 128/8 x 1 token at batches 4 / 8 (2026-12-07 05:48 UTC, bench/results/h100-2026-12-07-s36/n8).
  // 128 CTAs against the model's 64 (2 splits at 32 units, 1 at 64): the plans the floor must
  // give, with what was timed (us):
  struct Measured { int b, sq, hq, hkv, kv; int splits; };
  const Measured measured[] = {
      {1, 1, 32, 32, 131072, 4},  // 1399.5 (2: 1470.5)
      {1, 4, 32, 32, 32768, 4},   // 355.9 (2: 370.0)
      {1, 1, 32, 32, 8192, 4},    // 93.9 (2: 95.9)
      {4, 1, 32, 8, 131072, 4},   // 1400.6 (2: 1452.1)
      {4, 1, 128, 8, 32768, 4},   // 360.6 (2: 368.8)
      {4, 1, 64, 8, 8192, 4},     // 97.1 (2: 97.5)
      {8, 1, 64, 8, 131072, 2},   // 2786.6 (1: 2886.8)
      {8, 1, 32, 8, 8192, 2},     // 182.6 (1: 185.1)
      {4, 1, 128, 8, 4096, 2},    // 4k keys: the model's 2 (54.6; 4: 55.4)
      {8, 1, 32, 8, 4096, 1},     // 94.6 (2: 95.2)
  };
  for (const Measured& m : measured) {
    CAPTURE(m.b); CAPTURE(m.sq); CAPTURE(m.hq); CAPTURE(m.hkv); CAPTURE(m.kv);
    CHECK(d256_plan(m.b, m.sq, m.hq, m.hkv, m.kv, 64) == m.splits);
  }
  // Where the floor applies: bf16, one m-tile, whole-tile TMA boxes (pages of >= 64 keys, or a
  // contiguous cache without cp.async), >= 8k keys, fewer units than SMs and a half wave of < 8
  // splits per unit (not batch 1 at 8 KV heads).
  const ptxfmha_decode_params b4 = decode_params(4, 1, 32, 8, 256, 8192);
  CHECK(ptxfmha::decode_rows_split_floor(b4, 32, 132, 2, 128) == 4);
  CHECK(ptxfmha::decode_rows_split_floor(b4, 32, 132, 2, 128, true) == 1);  // cp.async
  CHECK(ptxfmha::decode_rows_split_floor(b4, 32, 132, 2, 64) == 1);         // 4k keys
  CHECK(ptxfmha::decode_rows_split_floor(b4, 32, 132, 1, 128) == 1);        // e4m3
  CHECK(ptxfmha::decode_rows_split_floor(b4, 8, 132, 2, 128) == 1);         // batch 1 at 8 KV heads
  CHECK(ptxfmha::decode_rows_split_floor(b4, 132, 132, 2, 128) == 1);       // a full grid
  ptxfmha_decode_params p16 = b4;
  set_pages(&p16, 16);
  CHECK(ptxfmha::decode_rows_split_floor(p16, 32, 132, 2, 128) == 1);       // pages of 16
  set_pages(&p16, 64);
  CHECK(ptxfmha::decode_rows_split_floor(p16, 32, 132, 2, 128) == 4);
  CHECK(ptxfmha::decode_rows_split_floor(decode_params(4, 1, 32, 8, 128, 8192), 32, 132, 2, 128) == 1);  // d128
  // Contiguous on cp.async keeps the model's 64 CTAs (32/32 batch 1 kv 8k: 91.7 us; 128 CTAs 92.1).
  CHECK(d256_plan(1, 1, 32, 32, 8192, 0) == 2);
}

TEST_CASE("cpu launch plan decode: the cp.async producer's cache (decode_cpasync_cache)") {
  ptxfmha_decode_params p = decode_params(2, 1, 32, 8, 128, 4096);
  set_dense_cache(&p);
  CHECK(ptxfmha::decode_cpasync_cache(p, 2));
  CHECK_FALSE(ptxfmha::decode_cpasync_cache(p, 1));  // e4m3
  ptxfmha_decode_params q = p;
  q.k_batch_stride += 1;  // K and V must agree in every stride
  CHECK_FALSE(ptxfmha::decode_cpasync_cache(q, 2));
  q = p;
  q.v_head_stride = 2 * q.v_head_stride;
  CHECK_FALSE(ptxfmha::decode_cpasync_cache(q, 2));
  q = p;
  q.k_seq_stride = q.v_seq_stride = int64_t(1) << 31;  // a row's bytes reach 2^32
  CHECK_FALSE(ptxfmha::decode_cpasync_cache(q, 2));
  q.k_seq_stride = q.v_seq_stride = (int64_t(1) << 31) - 8;
  CHECK(ptxfmha::decode_cpasync_cache(q, 2));
  q = p;
  q.k_head_stride = q.v_head_stride = 0;
  CHECK_FALSE(ptxfmha::decode_cpasync_cache(q, 2));
  q = p;
  set_pages(&q, 64);  // pages: TMA
  CHECK_FALSE(ptxfmha::decode_cpasync_cache(q, 2));
  // Not capped: fewer rows (1 token at 32/8: 4 rows), e4m3, head dim 256, head-dim-64 caches of
  // more than 32k keys, grids of >= sms units.
  const ptxfmha_decode_params few = decode_params(1, 1, 32, 8, 128, 8192);
  CHECK(ptxfmha::decode_rows_split_cap(few, 8, 132, 2, 128) == ptxfmha::kDecodeMaxSplits);
  const ptxfmha_decode_params rows32 = decode_params(1, 4, 64, 8, 128, 8192);
  CHECK(ptxfmha::decode_rows_split_cap(rows32, 8, 132, 1, 128) == ptxfmha::kDecodeMaxSplits);
  const ptxfmha_decode_params d256 = decode_params(1, 4, 64, 8, 256, 8192);
  CHECK(ptxfmha::decode_rows_split_cap(d256, 8, 132, 2, 128, true) == ptxfmha::kDecodeMaxSplits);
  const ptxfmha_decode_params rows32_d64 = decode_params(1, 4, 64, 8, 64, 8192);
  CHECK(ptxfmha::decode_rows_split_cap(rows32_d64, 8, 132, 2, 2048) == ptxfmha::kDecodeMaxSplits);
  CHECK(ptxfmha::decode_rows_split_cap(rows32, 8, 132, 2, 2048) == 16);  // head dim 128: any length
  CHECK(ptxfmha::decode_rows_split_cap(rows32, 132, 132, 2, 128) == ptxfmha::kDecodeMaxSplits);
  CHECK(ptxfmha::decode_rows_split_cap(rows32, 33, 132, 2, 128) == 4);
  // Half the SMs only for the d128 _wg rows (wg_loop) over <= 128 tiles, where half a wave still
  // gives >= 8 splits per unit: the plain row (its 32 rows on the same whole-tile boxes), head
  // dim 64's _wg row, 129 tiles and 16 units (batch 2) keep one CTA per SM.
  CHECK(ptxfmha::decode_rows_split_cap(rows32, 8, 132, 2, 128, false, false) == 16);
  const ptxfmha_decode_params rows64 = decode_params(1, 4, 128, 8, 128, 8192);
  CHECK(ptxfmha::decode_rows_split_cap(rows64, 8, 132, 2, 128, false, true) == 8);
  CHECK(ptxfmha::decode_rows_split_cap(rows64, 8, 132, 2, 129, false, true) == 16);
  CHECK(ptxfmha::decode_rows_split_cap(rows64, 16, 132, 2, 128, false, true) == 8);
  CHECK(ptxfmha::decode_rows_split_cap(rows64, 8, 132, 2, 128, false, false) == 16);
  ptxfmha_decode_params rows64_d64 = rows64;
  rows64_d64.head_dim = 64;
  CHECK(ptxfmha::decode_rows_split_cap(rows64_d64, 8, 132, 2, 128, false, true) == 16);
}

// The bench's `tma` variant (DecodeOverrides::tma -> DecodePlanOptions::no_cpasync): a cp.async row
// on a contiguous bf16 cache is planned and launched as on TMA boxes (s41: the A/B of the two
// producers in one process, on the H200). The plan's producer flag (which the launch reads to pass
// the cache pointers, DP_K_PTR) is off, and the split rules that depend on the producer follow
// TMA's: batch 4 d256 32/8 kv 8k takes the whole-tile floor's 4 splits on TMA, the model's count
// on cp.async.
TEST_CASE("cpu launch plan decode: the tma override plans the TMA producer on a contiguous cache") {
  bool ca = false, tma = true;
  const int s_ca = d256_plan(4, 1, 32, 8, 8192, 0, false, &ca);
  const int s_tma = d256_plan(4, 1, 32, 8, 8192, 0, true, &tma);
  CHECK(ca);
  CHECK_FALSE(tma);
  CHECK(s_tma == 4);
  CHECK(s_ca != s_tma);
  // in pages of 64 (TMA either way) the override changes nothing
  CHECK(d256_plan(4, 1, 32, 8, 8192, 64, false, &ca) == d256_plan(4, 1, 32, 8, 8192, 64, true, &tma));
  CHECK_FALSE(ca);
  CHECK_FALSE(tma);
}
