// CPU tests of the decode cluster merge (the _cl rows, issue 17) that need no device:
//   - the Auto policy choose_cluster_splits: exact picks for representative shapes, the rule
//     restated by brute force over a grid, and mutants of the rule that the pinned picks reject;
//   - plan_decode with the cluster options: a cluster plan has cluster == num_splits <= the
//     limit, no workspace, no combine grid; Off, Force, requested split counts, no limit;
//   - the _cl kernels' preprocessed PTX holds the cluster protocol (two cluster barriers, the
//     first a release, 16 mapa, the peers' partials through ld.shared::cluster, the trap on a
//     wrong cluster size) and the other decode kernels none of it.
#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "decode.h"
#include "decode_rows.h"
#include "gpu_util.h"
#include "ptx_util.h"

using ptxfmha::DecodeClusterPolicy;
using ptxfmha::DecodePlan;
using ptxfmha::DecodePlanOptions;
using ptxfmha::KernelInfo;
using ptxfmha::KernelKind;

namespace {

// H100 / H200-like slots: 132 SMs x 2 resident d128 split CTAs.
constexpr int64_t kSlots = 264;

// The Auto rule restated from its documentation (decode.h), by brute force.
int cluster_rule(int64_t units, int64_t tiles, int64_t slots, int ws, int cmax, double merge, double combine) {
  if (ws <= 1 || cmax < 2) return 0;
  if (ws <= cmax) return ws;
  int best = 1;
  double best_cost = 1e300;
  for (int64_t s = 1; s <= cmax && s <= tiles; ++s) {
    const int64_t tps = (tiles + s - 1) / s;
    if ((tiles + tps - 1) / tps != s) continue;
    const double c = ptxfmha::decode_split_cost(units, tiles, slots, s, merge);
    if (c < best_cost - 1e-9) {
      best_cost = c;
      best = int(s);
    }
  }
  if (best < 2) return 0;
  return best_cost <= ptxfmha::decode_split_cost(units, tiles, slots, ws, combine) + 1e-9 ? best : 0;
}

struct Pick {
  const char* what;
  int64_t units, tiles;
  int cmax;
  int expect;  // choose_cluster_splits
};
// units = batch x heads_kv (8) x m-groups (1), tiles = kv / 64.
const Pick kPicks[] = {
    // kv 1k, B 1: the workspace plan runs 16 splits (16 + ... = 6 tile times): the same 16 as a
    // cluster when 16 fit; 8 fit: s = 8 costs 2 + 3 + 0.5 = 5.5 <= 6
    {"B1 kv1k cluster 16", 8, 16, 16, 16},
    {"B1 kv1k cluster 8", 8, 16, 8, 8},
    // kv 4k: 32 splits (2 + 3 + 2 = 7); a cluster of 16: 4 + 3 + 0.5 = 7.5 > 7
    {"B1 kv4k", 8, 64, 16, 0},
    // kv 8k: 32 splits (4 + 3 + 2 = 9); a cluster of 16: 8 + 3 + 0.5 = 11.5 > 9
    {"B1 kv8k", 8, 128, 16, 0},
    // B 8, kv 32k: 4 splits (one wave of 256 CTAs) fit any cluster
    {"B8 kv32k", 64, 512, 8, 4},
    // B 32, kv 8k: one split, nothing to merge
    {"B32 kv8k", 256, 128, 16, 0},
    // 20 tiles: the workspace plan runs 20 splits (1 + 3 + 2 = 6); s = 10 as a cluster
    // (2 + 3 + 0.5 = 5.5); s = 16 would leave empty splits
    {"B1 kv1280", 8, 20, 16, 10},
    // no cluster resident
    {"B1 kv1k no cluster", 8, 16, 0, 0},
    {"B1 kv1k cluster 1", 8, 16, 1, 0},
};

}  // namespace

TEST_CASE("decode cluster policy: Auto picks, the rule by brute force, mutants rejected") {
  for (const Pick& k : kPicks) {
    CAPTURE(k.what);
    const int ws = ptxfmha::choose_num_splits(k.units, k.tiles, kSlots);
    CHECK(ptxfmha::choose_cluster_splits(k.units, k.tiles, kSlots, ws, k.cmax) == k.expect);
  }
  for (int64_t units : {1, 8, 16, 64, 256, 1000})
    for (int64_t tiles : {1, 2, 3, 16, 20, 64, 100, 128, 512, 2048})
      for (int cmax : {0, 2, 8, 16}) {
        CAPTURE(units); CAPTURE(tiles); CAPTURE(cmax);
        const int ws = ptxfmha::choose_num_splits(units, tiles, kSlots);
        const int s = ptxfmha::choose_cluster_splits(units, tiles, kSlots, ws, cmax);
        CHECK(s == cluster_rule(units, tiles, kSlots, ws, cmax, ptxfmha::kDecodeClusterMergeTiles,
                                ptxfmha::kDecodeCombineTiles));
        CHECK((s == 0 || (s >= 2 && s <= cmax)));
        if (s > 0) {  // no empty trailing split
          const int64_t tps = (tiles + s - 1) / s;
          CHECK((tiles + tps - 1) / tps == s);
        }
      }
  // Mutants of the rule: each disagrees with a pinned pick above, so the picks guard them.
  auto pinned_ok = [](auto rule) {
    for (const Pick& k : kPicks) {
      const int ws = ptxfmha::choose_num_splits(k.units, k.tiles, kSlots);
      if (rule(k.units, k.tiles, ws, k.cmax) != k.expect) return false;
    }
    return true;
  };
  CHECK(pinned_ok([](int64_t u, int64_t t, int ws, int c) {
    return cluster_rule(u, t, kSlots, ws, c, ptxfmha::kDecodeClusterMergeTiles, ptxfmha::kDecodeCombineTiles);
  }));
  // the cluster merge charged like the combine kernel: the kv1k / 8-CTA and 20-tile picks flip
  CHECK_FALSE(pinned_ok([](int64_t u, int64_t t, int ws, int c) {
    return cluster_rule(u, t, kSlots, ws, c, ptxfmha::kDecodeCombineTiles, ptxfmha::kDecodeCombineTiles);
  }));
  // always the largest cluster that fits (no cost comparison): the kv4k / kv8k picks flip
  CHECK_FALSE(pinned_ok([](int64_t u, int64_t t, int ws, int c) {
    return ws <= 1 || c < 2 ? 0 : (ws <= c ? ws : ptxfmha::best_num_splits(u, t, kSlots, c, 0.5));
  }));
  // never a cluster above the workspace plan's count being within the limit
  CHECK_FALSE(pinned_ok([](int64_t, int64_t, int ws, int c) { return ws > 1 && ws <= c ? ws : 0; }));
}

namespace {

const KernelInfo kSplit = {"test_decode_split_d128", "sm90a", 90, KernelKind::Decode, 128, 64, 64,
                           160, 99456, 384, KernelInfo::Grid::GridMHB};
const KernelInfo kCombine = {"test_decode_combine_d128", "sm90a", 90, KernelKind::DecodeCombine, 128,
                             1, 0, 32, 0, 384, KernelInfo::Grid::GridMHB};

ptxfmha_decode_params shape(int b, int max_k, int num_splits = 0) {
  ptxfmha_decode_params p;
  std::memset(&p, 0, sizeof p);
  p.batch = b; p.seqlen_q = 1; p.heads_q = 32; p.heads_kv = 8; p.head_dim = 128; p.max_seqlen_k = max_k;
  p.num_splits = num_splits;
  return p;
}

DecodePlan plan(const ptxfmha_decode_params& p, int cmax, DecodeClusterPolicy pol) {
  DecodePlanOptions o;
  o.cluster_max = cmax;
  o.cluster_policy = pol;
  DecodePlan out;
  ptxfmha::plan_decode(p, kSplit, kCombine, kSlots, &out, o);
  return out;
}

void check_cluster_plan(const DecodePlan& pl, int splits) {
  CHECK(pl.num_splits == splits);
  CHECK(pl.cluster == splits);
  CHECK(pl.split_grid[1] == unsigned(splits));
  CHECK(pl.workspace_bytes == 0u);
  CHECK(pl.ws_o_offset == 0u);
  CHECK(pl.combine_grid == 0u);
}

void check_workspace_plan(const DecodePlan& pl) {
  CHECK(pl.cluster == 0);
  if (pl.num_splits > 1) {
    CHECK(pl.workspace_bytes > 0u);
    CHECK(pl.combine_grid > 0u);
  } else {
    CHECK(pl.workspace_bytes == 0u);
    CHECK(pl.combine_grid == 0u);
  }
}

}  // namespace

TEST_CASE("decode cluster plan: which path for which shape (Auto, Off, Force, requested splits)") {
  using P = DecodeClusterPolicy;
  check_cluster_plan(plan(shape(1, 1024), 16, P::Auto), 8);    // B1 kv1k: 8 splits of two tiles
  check_cluster_plan(plan(shape(1, 1024), 8, P::Auto), 8);
  check_workspace_plan(plan(shape(1, 1024), 16, P::Off));
  CHECK(plan(shape(1, 1024), 16, P::Off).num_splits == 8);     // the same splits, workspace path
  check_workspace_plan(plan(shape(1, 1024), 0, P::Auto));      // nothing resident
  check_workspace_plan(plan(shape(1, 1024), 0, P::Force));
  check_workspace_plan(plan(shape(1, 8192), 16, P::Auto));     // 32 splits model faster
  CHECK(plan(shape(1, 8192), 16, P::Auto).num_splits == 32);
  check_cluster_plan(plan(shape(1, 8192), 16, P::Force), 16);  // Force: best s <= 16
  check_cluster_plan(plan(shape(1, 8192), 8, P::Force), 8);
  check_cluster_plan(plan(shape(8, 32768), 16, P::Auto), 4);   // B8 kv32k
  check_workspace_plan(plan(shape(32, 8192), 16, P::Auto));    // one split
  CHECK(plan(shape(32, 8192), 16, P::Force).num_splits == 1);
  check_workspace_plan(plan(shape(32, 8192), 16, P::Force));
  // requested split counts: the cluster exactly when 2 <= s <= the limit
  for (int s : {2, 3, 5, 8, 13, 16}) {
    CAPTURE(s);
    check_cluster_plan(plan(shape(1, 8192, s), 16, P::Auto), s);
    check_cluster_plan(plan(shape(1, 8192, s), 16, P::Force), s);
    check_workspace_plan(plan(shape(1, 8192, s), 16, P::Off));
    if (s > 8) check_workspace_plan(plan(shape(1, 8192, s), 8, P::Auto));
  }
  check_workspace_plan(plan(shape(1, 8192, 1), 16, P::Force));
  check_workspace_plan(plan(shape(1, 8192, 20), 16, P::Force));  // 7 tiles each: 19 splits
  check_cluster_plan(plan(shape(1, 8192, 17), 16, P::Force), 16);  // 8 tiles each: 16 splits
  check_workspace_plan(plan(shape(1, 8192, 32), 16, P::Auto));
  // a requested count trimmed to no empty split: 3 tiles asked for 16 splits -> 3
  check_cluster_plan(plan(shape(1, 150, 16), 16, P::Auto), 3);
}

TEST_CASE("decode cluster PTX: the _cl kernels hold the cluster protocol, the others none of it") {
  int cl = 0, other = 0;
  for (const KernelInfo* r : ptxfmha::all_kernels()) {
    if (r->kind != KernelKind::Decode && r->kind != KernelKind::DecodeVariant) continue;
    CAPTURE(r->name);
    bool ok = false;
    const std::string text = ptxfmha_test::read_text_file(ptxfmha_test::preprocessed_path(r->arch, r->name), &ok);
    REQUIRE_MESSAGE(ok, "missing preprocessed PTX of " << r->name << " (run make)");
    auto count = [&](const std::string& needle) {
      int n = 0;
      for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
      return n;
    };
    // The warpgroup rows build their wgmma descriptors from (address & 0x3FFFF) >> 4: in a cluster
    // launch a shared address carries the CTA's rank at bit 24 (wgmma.ptxh, MAKE_DESC_CTA).
    if (ptxfmha::decode_row_wg(r)) {
      CHECK(count("wgmma.mma_async") > 0);
      // K and V descriptors: the pipelined loops (bf16 d64, e4m3 d64 / d128) make each twice (K
      // in the first round and the loop, V in the loop and the last round), the serial loops
      // (bf16 d128 and d256, e4m3 d256) each once; the rows with Q in shared memory (every e4m3
      // one: Q's two e4m3 tiles at d64 / d128, the f16 Q tile at d256; bf16 at d256) one more.
      // WG 4 (two consumer warpgroups, one tile at a time each) as the serial loops.
      const ptxfmha::DecodeRowFacts* f = ptxfmha::decode_row_facts(r);
      const bool pipelined = (r->head_dim == 64 || f->wg >= 2) && f->wg != 4;
      const bool q_tile = r->head_dim == 256 || f->kv_bytes == 1;
      CHECK(count(", 0x3FFFF;") == (pipelined ? 4 : 2) + (q_tile ? 1 : 0));
    } else {
      CHECK(count("wgmma") == 0);
    }
    if (ptxfmha::decode_row_cluster(r)) {
      ++cl;
      // (WG 4: the producer's, converters' and spare warps' own pair at EXIT_AUX, kernel.ptxh)
      const int sites = ptxfmha::decode_row_facts(r)->wg == 4 ? 2 : 1;
      CHECK(count("barrier.cluster.arrive.release;") == sites);   // partials published
      CHECK(count("barrier.cluster.arrive.relaxed;") == sites);   // exit barrier
      CHECK(count("barrier.cluster.wait.acquire;") == 2 * sites);
      CHECK(count("barrier.cluster.arrive") == 2 * sites);
      CHECK(count("mapa.shared::cluster.u32") == 16);
      CHECK(count("ld.shared::cluster.f32") == 16);           // partial LSEs
      CHECK(count("ld.shared::cluster.v4.f32") == 16);        // partial O, two groups of 8
      CHECK(count("%cluster_nctarank") == 1);
      CHECK(count("trap;") == 1);
      CHECK(count("st.global.v4.f32") == 0);                   // no workspace stores
      // the exit barrier comes after the last remote load (the merge's pair: the first of each)
      const std::size_t exit_aux = text.find("EXIT_AUX:");
      const std::string merge = text.substr(0, exit_aux);
      CHECK(merge.rfind("barrier.cluster.arrive.relaxed") > merge.rfind("ld.shared::cluster"));
      CHECK(merge.find("barrier.cluster.arrive.release") < merge.find("ld.shared::cluster"));
      if (exit_aux != std::string::npos) {  // WG 4: EXIT_AUX's pair in the protocol's order, no remote load
        const std::string aux = text.substr(exit_aux);
        CHECK(aux.find("barrier.cluster.arrive.release") < aux.find("barrier.cluster.arrive.relaxed"));
        CHECK(aux.find("ld.shared::cluster") == std::string::npos);
      }
    } else {
      ++other;
      CHECK(count("barrier.cluster") == 0);
      CHECK(count("ld.shared::cluster") == 0);  // (the TMA writes shared::cluster addresses)
      CHECK(count("mapa") == 0);
      CHECK(count("st.global.v4.f32") == 1);                   // the workspace partial O
    }
  }
  CHECK(cl == 32);  // 12 rows x 2 architectures + the sm90a warpgroup rows _wg_cl, _e4m3_wg_cl (d64, d128,
                    // d256), _e4m3_wgc_cl, _e4m3_wg2c_cl (d256)
  CHECK(other > 0);
}
