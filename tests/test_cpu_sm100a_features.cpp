// CPU tests of the serving-feature variants of the two-tile Blackwell forward kernels,
// fmha_fwd_d{64,128,256}_ext_sm100a (issue 14; ptx/body/sm100_fwd/features.ptxh). Nothing here
// runs a kernel (no Blackwell GPU here): the preprocessed PTX of every role is executed on the
// CPU (tests/sm100_model/ptx_exec.h) with the parameter block the host builds for a ptxfmha_attn
// call (host/src/fwd.cpp attn_ext_fields, host/src/fwd_plan.h plan_fwd) and the call's device
// metadata (cu_seqlens, seqused_k, the block table) in its memory, over feature shapes
// (tests/sm100a_feature_cases.h): variable-length batches with empty sequences, windows (both
// edges, causal, bands that skip tiles and bands that are empty), variable-length K, GQA,
// seqused_k, paged K/V (pages of 16, 64, 256).
//
//   "sm100a protocol model: feature variants" -- each role's executed synchronisation equals the
//     protocol model's program (tests/sm100_model/twotile.h, with the V tail fix and the paged
//     boxes) for the work list written out here independently (sequences, m-blocks, and
//     fwd_plan.h attn_kv_tile_range, itself checked against the reference's visibility in
//     test_cpu_launch_plan.cpp); every TMA load's coordinates are the tile's rows of Q / K / V
//     (paged: the box's page and row in the page); every V tail fix zeroes exactly the slot's rows
//     past the keys and fences them before kv_full; every metadata read is inside its array; the
//     O stores (TMA boxes and the per-row copies) and LSE stores hit exactly the rows < len_q of
//     the tile's sequence; the softmax masks exactly the keys outside the row's band, on the tiles
//     where the row needs a mask.
//   "sm100a protocol model: feature variants never leave the tensors (bad metadata)" -- cu_seqlens
//     that decrease, overlap, run past the totals or are negative, seqused_k negative or huge,
//     page ids negative or past the pool: every coordinate and address stays inside the tensors
//     the host validated.
// The mutations of the feature code: tests/test_cpu_sm100a_features_mut.cpp.
// The softmax's mask is traced too (ptx_exec.h "mask": each selp of -inf into a register of S with
// its predicate), so the band's per-element mask is checked on the PTX itself.
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "sm100a_feature_cases.h"

using namespace sm100a_feat;

TEST_CASE("sm100a protocol model: feature variants (executed PTX vs model, TMA coordinates, stores of rows < len_q only)") {
  const auto& ks = ext_kernels();
  REQUIRE(ks.size() == 3);
  Tally tally;
  int runs = 0;
  for (const Kern& k : ks) {
    INFO(k.name);
    const std::vector<sm100_ptx::Stmt> st = statements(k);
    for (const Case& c : cases()) {
      INFO(c.what);
      for (int ctas : {1, 3}) {
        std::string why;
        CHECK_MESSAGE(check_case(k, st, c, ctas, &tally, false, &why), why);
        ++runs;
      }
    }
  }
  CHECK(tally.tma > 0);
  CHECK(tally.stores > 0);
  MESSAGE("feature variants: " << runs << " (kernel, case, grid) runs over " << tally.rows << " work tiles: " << tally.events
                               << " synchronisation events equal to the model's, " << tally.tma
                               << " TMA loads at the tiles' rows, " << tally.stores << " stores inside rows < len_q, "
                               << tally.masked << " mask decisions of the band, " << tally.zeroed << " V tail fixes (rows zeroed, fenced), "
                               << tally.metadata << " metadata reads inside their arrays");
}

TEST_CASE("sm100a protocol model: feature variants never leave the tensors (bad metadata)") {
  // Offsets that decrease, overlap, run past total_q / total_k, are negative or huge: the
  // kernels clamp them (attn_kernel_abi.h "Clamping"); the work list written out in this file
  // clamps alike, so the protocol must still match, and no coordinate or address may leave the
  // tensors the host validated.
  const std::vector<Case> bad = bad_cases();
  Tally tally;
  for (const Kern& k : ext_kernels()) {
    INFO(k.name);
    const std::vector<sm100_ptx::Stmt> st = statements(k);
    for (const Case& c : bad) {
      INFO(c.what);
      for (int ctas : {1, 2}) {
        std::string why;
        CHECK_MESSAGE(check_case(k, st, c, ctas, &tally, true, &why), why);
      }
    }
  }
  MESSAGE("bad metadata: " << tally.rows << " work tiles, " << tally.tma << " TMA loads, " << tally.stores << " stores, "
                            << tally.metadata << " metadata reads, all inside");
}
