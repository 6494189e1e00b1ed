// CPU tests of the forward's launch plan (no device): plan_fwd / plan_fwd_tma_boxes
// (host/src/fwd_plan.h); decode's plan: test_cpu_decode_plan.cpp.
//   - exact values for representative shapes, worked out by hand in the comments (tiles,
//     head grouping against the L2 size, schedule, grid);
//   - edge cases: seqlen 1, a huge batch, causal vs not, graph capture (no tile counter) vs
//     not, head_group bounds, L2 size unknown / tiny / huge, SM count unknown, GridMHB rows;
//   - properties over random shapes, checked against an independent model of the kernels'
//     tile order (the sm90a body's TILE_COORDS).
// Rows are synthetic (fixed block sizes here) so that a change of the real kernel table
// does not move the expected numbers; one case runs every real forward row through the
// properties.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "context.h"
#include "fwd_plan.h"
#include "gpu_util.h"
#include "kernel_lookup.h"
#include "kernel_table.h"
#include "ptxfmha/ptxfmha.h"

namespace {

using ptxfmha_test::log_uniform;
using ptxfmha::DeviceInfo;
using ptxfmha::FwdLaunchPlan;
using ptxfmha::FwdSchedule;
using ptxfmha::FwdShape;
using ptxfmha::KernelInfo;
using ptxfmha::KernelKind;

constexpr int64_t kMiB = int64_t(1) << 20;

// Synthetic forward rows: {name, arch, sm, kind, head_dim, block_m, block_n, threads,
// smem_bytes, param_bytes, grid}.
const KernelInfo kTile128 = {"test_fwd_tile_m128", "sm90a", 90, KernelKind::Fwd, 128, 128, 128,
                             384, 200000, 640, KernelInfo::Grid::TileLoop};
const KernelInfo kTile192 = {"test_fwd_tile_m192", "sm90a", 90, KernelKind::Fwd, 64, 192, 128,
                             512, 190000, 640, KernelInfo::Grid::TileLoop};
const KernelInfo kMhb128 = {"test_fwd_mhb_m128", "sm100a", 100, KernelKind::Fwd, 128, 128, 128,
                            512, 150000, 640, KernelInfo::Grid::GridMHB};

DeviceInfo device(int num_sms, int64_t l2_bytes) {
  DeviceInfo d;
  d.num_sms = num_sms;
  d.l2_bytes = static_cast<int>(l2_bytes);
  return d;
}
// An H100 SXM as the driver reports it: 132 SMs, 50 MiB of L2.
const DeviceInfo kH100 = device(132, 50 * kMiB);

FwdShape shape(int b, int sq, int sk, int hq, int hkv, int d, bool causal) {
  FwdShape s;
  s.batch = b; s.seqlen_q = sq; s.seqlen_k = sk; s.heads_q = hq; s.heads_kv = hkv;
  s.head_dim = d; s.causal = causal;
  return s;
}

void check_grid(const FwdLaunchPlan& p, unsigned x, unsigned y, unsigned z) {
  CHECK(p.grid[0] == x);
  CHECK(p.grid[1] == y);
  CHECK(p.grid[2] == z);
}

}  // namespace

// ---- forward: exact values -------------------------------------------------------------

TEST_CASE("cpu launch plan fwd: non-causal persistent on 132 SMs") {
  // Sq 1000 in m-blocks of 128: 7 * 128 = 896 < 1000 <= 1024 -> 8 m-blocks;
  // tiles 8 * 16 heads * 2 batch = 256 > 132 SMs -> 132 CTAs, static round robin.
  const FwdLaunchPlan p = ptxfmha::plan_fwd(kTile128, shape(2, 1000, 1000, 16, 16, 128, false),
                                            kH100, true);
  CHECK(p.num_m_blocks == 8);
  CHECK(p.total_tiles == 256);
  CHECK(p.head_group == 1);
  CHECK(p.schedule == FwdSchedule::StaticPersistent);
  CHECK_FALSE(p.use_tile_counter);  // a counter that exists is not used for uniform tiles
  check_grid(p, 132, 1, 1);
  CHECK(p.block_threads == 384u);
  CHECK(p.smem_bytes == 200000u);
  CHECK_FALSE(ptxfmha::fwd_wants_tile_counter(kTile128, shape(2, 1000, 1000, 16, 16, 128, false)));
}

TEST_CASE("cpu launch plan fwd: causal with and without the tile counter (graph capture)") {
  const FwdShape s = shape(2, 1000, 4096, 16, 4, 128, true);
  CHECK(ptxfmha::fwd_wants_tile_counter(kTile128, s));
  // K and V of one (head, batch) pair: 2 * 4096 keys * 128 * 2 bytes = 2 MiB; half the
  // L2 = 25 MiB -> 12 pairs per group (12.5 rounded down); 32 pairs exist.
  const FwdLaunchPlan dyn = ptxfmha::plan_fwd(kTile128, s, kH100, true);
  CHECK(dyn.num_m_blocks == 8);
  CHECK(dyn.total_tiles == 256);
  CHECK(dyn.head_group == 12);
  CHECK(dyn.schedule == FwdSchedule::DynamicCounter);
  CHECK(dyn.use_tile_counter);
  check_grid(dyn, 132, 1, 1);
  // Capturing: no counter -> one CTA per tile, same tile order (head_group unchanged).
  const FwdLaunchPlan cap = ptxfmha::plan_fwd(kTile128, s, kH100, false);
  CHECK(cap.head_group == 12);
  CHECK(cap.schedule == FwdSchedule::CtaPerTile);
  CHECK_FALSE(cap.use_tile_counter);
  check_grid(cap, 256, 1, 1);
}

TEST_CASE("cpu launch plan fwd: head_group follows the L2 size and stays in [1, heads_q*batch]") {
  // Per pair 2 MiB of K+V (Sk 4096, D 128); 32 (head, batch) pairs.
  const FwdShape s = shape(2, 512, 4096, 16, 16, 128, true);
  struct { int64_t l2; int expect; } cases[] = {
      {50 * kMiB, 12},    // 25 MiB / 2 MiB = 12.5
      {60 * kMiB, 15},    // 30 MiB / 2 MiB
      {8 * kMiB, 2},      // 4 MiB / 2 MiB
      {3 * kMiB, 1},      // 1.5 MiB holds no pair: at least 1
      {1024 * kMiB, 32},  // 256 pairs fit, only 32 exist
      {0, 12},            // unknown L2: a 25 MiB budget
      {-5, 12},           // nonsense from the driver: same as unknown
  };
  for (const auto& c : cases) {
    CAPTURE(c.l2);
    CHECK(ptxfmha::plan_fwd(kTile128, s, device(132, c.l2), true).head_group == c.expect);
  }
  // Head dim scales the pair: D 256 -> 4 MiB -> 6 (6.25); D 64 -> 1 MiB -> 25.
  CHECK(ptxfmha::plan_fwd(kTile128, shape(2, 512, 4096, 16, 16, 256, true), kH100, true).head_group == 6);
  CHECK(ptxfmha::plan_fwd(kTile128, shape(2, 512, 4096, 16, 16, 64, true), kH100, true).head_group == 25);
  // Non-causal never groups.
  CHECK(ptxfmha::plan_fwd(kTile128, shape(2, 512, 4096, 16, 16, 128, false), device(132, 8 * kMiB), true)
            .head_group == 1);
}

TEST_CASE("cpu launch plan fwd: seqlen 1, a single tile, fewer tiles than SMs, unknown SM count") {
  // One query row, one head, one sequence: one tile, one CTA whatever the schedule.
  for (bool causal : {false, true})
    for (bool counter : {false, true}) {
      CAPTURE(causal); CAPTURE(counter);
      const FwdLaunchPlan p = ptxfmha::plan_fwd(kTile128, shape(1, 1, 1, 1, 1, 128, causal), kH100, counter);
      CHECK(p.num_m_blocks == 1);
      CHECK(p.total_tiles == 1);
      CHECK(p.head_group == 1);  // 512 bytes per pair fit 51200 times, but one pair exists
      check_grid(p, 1, 1, 1);
    }
  // 2 m-blocks (Sq 256) x 4 heads = 8 tiles < 132 SMs: 8 CTAs.
  CHECK(ptxfmha::plan_fwd(kTile128, shape(1, 256, 256, 4, 4, 128, false), kH100, false).grid[0] == 8u);
  // Sq 257 needs a third m-block.
  CHECK(ptxfmha::plan_fwd(kTile128, shape(1, 257, 256, 4, 4, 128, false), kH100, false).num_m_blocks == 3);
  // SM count unknown (0): the grid is not limited.
  CHECK(ptxfmha::plan_fwd(kTile128, shape(2, 1000, 1000, 16, 16, 128, false), device(0, 50 * kMiB), true)
            .grid[0] == 256u);
  CHECK(ptxfmha::plan_fwd(kTile128, shape(2, 1000, 1000, 16, 16, 128, false), device(1, 50 * kMiB), true)
            .grid[0] == 1u);
}

TEST_CASE("cpu launch plan fwd: block_m 192 m-block boundaries") {
  struct { int sq; int64_t mb; } cases[] = {{1, 1}, {191, 1}, {192, 1}, {193, 2}, {960, 5}, {961, 6}, {1000, 6}, {1152, 6}, {1153, 7}};
  for (const auto& c : cases) {
    CAPTURE(c.sq);
    const FwdLaunchPlan p = ptxfmha::plan_fwd(kTile192, shape(3, c.sq, 100, 8, 2, 64, false), kH100, false);
    CHECK(p.num_m_blocks == c.mb);
    CHECK(p.total_tiles == c.mb * 8 * 3);
  }
}

TEST_CASE("cpu launch plan fwd: huge batch") {
  // B 65535 (the largest batch validation accepts), Hq 32, Sq 1000: 2,097,120,000 query rows
  // (< 2^31); 8 m-blocks -> 16,776,960 tiles.
  const FwdShape s = shape(65535, 1000, 1000, 32, 8, 128, true);
  const FwdLaunchPlan dyn = ptxfmha::plan_fwd(kTile128, s, kH100, true);
  CHECK(dyn.total_tiles == 16776960);
  check_grid(dyn, 132, 1, 1);
  // K+V per pair 2 * 1000 * 128 * 2 = 512,000 bytes -> 26,214,400 / 512,000 = 51 pairs.
  CHECK(dyn.head_group == 51);
  const FwdLaunchPlan cap = ptxfmha::plan_fwd(kTile128, s, kH100, false);
  check_grid(cap, 16776960, 1, 1);
  const FwdLaunchPlan mhb = ptxfmha::plan_fwd(kMhb128, s, kH100, true);
  check_grid(mhb, 8, 32, 65535);
}

TEST_CASE("cpu launch plan fwd: GridMHB rows get a 3-D grid, no grouping, no counter") {
  for (bool causal : {false, true})
    for (bool counter : {false, true}) {
      CAPTURE(causal); CAPTURE(counter);
      const FwdShape s = shape(2, 1000, 4096, 16, 4, 128, causal);
      CHECK_FALSE(ptxfmha::fwd_wants_tile_counter(kMhb128, s));
      const FwdLaunchPlan p = ptxfmha::plan_fwd(kMhb128, s, kH100, counter);
      CHECK(p.schedule == FwdSchedule::MhbGrid);
      CHECK(p.num_m_blocks == 8);
      CHECK(p.total_tiles == 256);
      CHECK(p.head_group == 1);
      CHECK_FALSE(p.use_tile_counter);
      check_grid(p, 8, 16, 2);
      CHECK(p.block_threads == 512u);
      CHECK(p.smem_bytes == 150000u);
    }
}

TEST_CASE("cpu launch plan fwd: TMA boxes and the shape read from params") {
  const ptxfmha::FwdTmaBoxes b128 = ptxfmha::plan_fwd_tma_boxes(kTile128, shape(1, 1, 1, 1, 1, 128, false));
  CHECK(b128.cols == 64u);  // 128 bytes of bf16: the swizzle span
  CHECK(b128.rows_q == 128u);
  CHECK(b128.rows_kv == 128u);
  CHECK(b128.rows_o == 16u);
  CHECK(ptxfmha::plan_fwd_tma_boxes(kTile128, shape(1, 1, 1, 1, 1, 32, false)).cols == 32u);
  CHECK(ptxfmha::plan_fwd_tma_boxes(kTile128, shape(1, 1, 1, 1, 1, 256, false)).cols == 64u);
  const ptxfmha::FwdTmaBoxes b192 = ptxfmha::plan_fwd_tma_boxes(kTile192, shape(1, 1, 1, 1, 1, 64, false));
  CHECK(b192.cols == 64u);
  CHECK(b192.rows_q == 192u);
  CHECK(b192.rows_kv == 128u);

  ptxfmha_fwd_params p;
  std::memset(&p, 0, sizeof p);
  p.batch = 3; p.seqlen_q = 5; p.seqlen_k = 7; p.heads_q = 12; p.heads_kv = 4; p.head_dim = 64;
  p.causal = 1;
  FwdShape s = ptxfmha::fwd_shape(p);
  CHECK(s.batch == 3); CHECK(s.seqlen_q == 5); CHECK(s.seqlen_k == 7);
  CHECK(s.heads_q == 12); CHECK(s.heads_kv == 4); CHECK(s.head_dim == 64);
  CHECK(s.causal);
  p.causal = 0;
  CHECK_FALSE(ptxfmha::fwd_shape(p).causal);
  CHECK(std::string(ptxfmha::fwd_schedule_name(FwdSchedule::DynamicCounter)) == "dynamic-counter");
}

// ---- forward: properties over random shapes ----------------------------------------------
namespace {

// The sm90a kernel's tile order (TILE_COORDS in ptx/sm90a/fmha_fwd_sm90.ptxh), written
// again here: tile -> (m_block, pair = batch * heads_q + head). Returns false when the
// decomposition leaves the ranges.
bool tile_coords(int64_t tile, int64_t nmb, int64_t hg, int64_t pairs, bool causal, int64_t* m_block,
                 int64_t* pair) {
  const int64_t full = nmb * hg;
  const int64_t group = tile / full;
  const int64_t in_group = tile - group * full;
  const int64_t first = group * hg;
  if (first >= pairs) return false;
  const int64_t n = std::min(pairs - first, hg);
  *m_block = in_group / n;
  *pair = first + in_group % n;
  if (*m_block >= nmb) return false;
  if (causal) *m_block = nmb - 1 - *m_block;
  return true;
}

// Checks every documented property of one plan; `cover` also walks every tile through the
// kernel's tile order and the static schedule (small problems only).
void check_fwd_properties(const KernelInfo& row, const FwdShape& s, const DeviceInfo& dev, bool counter,
                          bool cover) {
  const FwdLaunchPlan p = ptxfmha::plan_fwd(row, s, dev, counter);
  const int64_t bm = row.block_m, pairs = int64_t(s.heads_q) * s.batch;
  // m-blocks: enough for every query row, none without a query row.
  REQUIRE(p.num_m_blocks >= 1);
  CHECK(p.num_m_blocks * bm >= s.seqlen_q);
  CHECK((p.num_m_blocks - 1) * bm < s.seqlen_q);
  CHECK(p.total_tiles == p.num_m_blocks * pairs);
  CHECK(p.block_threads == unsigned(row.threads));
  CHECK(p.smem_bytes == unsigned(row.smem_bytes));
  if (row.grid == KernelInfo::Grid::GridMHB) {
    CHECK(p.schedule == FwdSchedule::MhbGrid);
    CHECK(p.grid[0] == unsigned(p.num_m_blocks));
    CHECK(p.grid[1] == unsigned(s.heads_q));
    CHECK(p.grid[2] == unsigned(s.batch));
    CHECK(p.head_group == 1);
    CHECK_FALSE(p.use_tile_counter);
    return;
  }
  CHECK(p.grid[1] == 1u);
  CHECK(p.grid[2] == 1u);
  const int64_t grid = p.grid[0];
  CHECK(grid >= 1);
  CHECK(grid <= p.total_tiles);  // no CTA without a tile
  const bool persistent = !s.causal || counter;
  CHECK(p.schedule == (!s.causal ? FwdSchedule::StaticPersistent
                                 : counter ? FwdSchedule::DynamicCounter : FwdSchedule::CtaPerTile));
  CHECK(p.use_tile_counter == (s.causal && counter));
  if (persistent && dev.num_sms > 0) {
    CHECK(grid <= dev.num_sms);
    CHECK(grid == std::min<int64_t>(p.total_tiles, dev.num_sms));
  } else {
    CHECK(grid == p.total_tiles);
  }
  // head_group: 1 unless causal; else the most pairs whose K+V fit in half the L2, within
  // [1, pairs].
  REQUIRE(p.head_group >= 1);
  CHECK(p.head_group <= pairs);
  if (!s.causal) {
    CHECK(p.head_group == 1);
  } else {
    const int64_t kv = 4 * int64_t(s.seqlen_k) * s.head_dim;  // K + V bf16 bytes per pair
    const int64_t budget = dev.l2_bytes > 0 ? dev.l2_bytes / 2 : 25 * kMiB;
    if (p.head_group > 1) CHECK(p.head_group * kv <= budget);
    if (p.head_group < pairs) CHECK((p.head_group + 1) * kv > budget);
  }
  if (!cover) return;
  // Every tile decodes to a distinct (m_block, head, batch), and CTA c of the static
  // schedule (tiles c, c + grid, ...) together with the others takes each tile once.
  std::vector<unsigned char> seen(static_cast<std::size_t>(p.total_tiles), 0);
  std::vector<unsigned char> taken(static_cast<std::size_t>(p.total_tiles), 0);
  bool ok = true;
  for (int64_t t = 0; t < p.total_tiles && ok; ++t) {
    int64_t mb = 0, pair = 0;
    ok = tile_coords(t, p.num_m_blocks, p.head_group, pairs, s.causal, &mb, &pair);
    if (!ok) break;
    unsigned char& cell = seen[static_cast<std::size_t>(pair * p.num_m_blocks + mb)];
    ok = cell == 0;
    cell = 1;
  }
  CHECK(ok);
  for (int64_t c = 0; c < grid; ++c)
    for (int64_t t = c; t < p.total_tiles; t += grid) ++taken[static_cast<std::size_t>(t)];
  CHECK(std::all_of(taken.begin(), taken.end(), [](unsigned char n) { return n == 1; }));
}

}  // namespace

TEST_CASE("cpu launch plan fwd: properties over random shapes") {
  std::mt19937_64 rng(0x5eedf00dULL);
  const KernelInfo* rows[] = {&kTile128, &kTile192, &kMhb128};
  const int sms[] = {0, 1, 8, 78, 132, 148};
  const int64_t l2s[] = {0, 1 * kMiB, 6 * kMiB, 40 * kMiB, 50 * kMiB, 60 * kMiB, 126 * kMiB};
  const int dims[] = {32, 64, 128, 256};
  int covered = 0;
  for (int i = 0; i < 4000; ++i) {
    FwdShape s;
    do {
      s.batch = (i % 50 == 0) ? log_uniform(rng, 1, 65535) : log_uniform(rng, 1, 64);
      s.heads_kv = log_uniform(rng, 1, 16);
      s.heads_q = s.heads_kv * log_uniform(rng, 1, 8);
      s.seqlen_q = log_uniform(rng, 1, 65536);
      s.seqlen_k = log_uniform(rng, 1, 65536);
    } while (int64_t(s.batch) * s.heads_q * s.seqlen_q >= (int64_t(1) << 31));
    s.head_dim = dims[rng() % 4];
    s.causal = rng() % 2 == 0;
    const KernelInfo& row = *rows[rng() % 3];
    const DeviceInfo dev = device(sms[rng() % 6], l2s[rng() % 7]);
    const bool counter = rng() % 2 == 0;
    const int64_t tiles = (int64_t(s.seqlen_q) + row.block_m - 1) / row.block_m * s.heads_q * s.batch;
    const bool cover = tiles <= 4096;
    covered += cover;
    CAPTURE(row.name); CAPTURE(s.batch); CAPTURE(s.seqlen_q); CAPTURE(s.seqlen_k);
    CAPTURE(s.heads_q); CAPTURE(s.heads_kv); CAPTURE(s.head_dim); CAPTURE(s.causal);
    CAPTURE(dev.num_sms); CAPTURE(dev.l2_bytes); CAPTURE(counter);
    check_fwd_properties(row, s, dev, counter, cover);
  }
  CHECK(covered > 1000);  // the tile walk ran on a good share of the shapes
}

TEST_CASE("cpu launch plan fwd: every real forward row satisfies the properties") {
  int n = 0;
  for (const KernelInfo* r : ptxfmha::all_kernels()) {
    if (r->kind != KernelKind::Fwd) continue;
    ++n;
    CAPTURE(r->name);
    for (bool causal : {false, true})
      for (bool counter : {false, true}) {
        check_fwd_properties(*r, shape(3, 1000, 3000, 8, 2, r->head_dim, causal), kH100, counter, true);
        check_fwd_properties(*r, shape(1, 1, 1, 1, 1, r->head_dim, causal), kH100, counter, true);
      }
    const ptxfmha::FwdTmaBoxes b = ptxfmha::plan_fwd_tma_boxes(*r, shape(1, 1, 1, 1, 1, r->head_dim, false));
    CHECK(b.cols == unsigned(std::min(r->head_dim, 64)));
    CHECK(b.cols * 2 <= 128u);  // within the 128-byte swizzle span
  }
  CHECK(n > 0);
}
