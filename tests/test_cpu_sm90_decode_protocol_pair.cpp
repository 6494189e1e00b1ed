// "sm90 decode protocol model" for the WG 4 row fmha_decode_d256_e4m3_wg2c_sm90a (512 threads:
// warps 0-3 consumer warpgroup 0, the split's even tiles; 4-7 warpgroup 1, the odd ones,
// mainloop_wg_e4m3_pair.ptxh; producer warp 8; spare warps 9-11, which leave at once; converter
// warps 12-15, converter.ptxh). What the model checks and how: the header of
// tests/test_cpu_sm90_decode_protocol.cpp; the model: tests/sm90_decode_protocol.h. Here four
// roles are interleaved: consumer 0 (thread 0, 128 arrivals), consumer 1 (thread 128, 128), the
// producer (thread 256, its elected lane: 1) and the converters (thread 384, 128), with the named
// barriers BAR_COPY and BAR_EPI (256 threads) ordering the two consumer roles, and each consumer
// role writing its whole warpgroup's epilogue regions (warpgroup 0: stages 0-2 and copy 0, its
// m / l; warpgroup 1: stages 2-3 and copy 0).
//
// Measured (s28, build-bench; the whole key range of the WG 3 check and more, no reduction
// needed): 21 splits of 0-900 keys (every tile count 0..15), 2653 events, 491149 states, ~1.3 s;
// 15 of 15 mutations caught (the 7 of WG 3 and 8 of the pair's own) on splits of 300 and 581
// keys, ~0.3 s.
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "sm90_decode_protocol_mut.h"

using namespace sm90_decode_protocol;

namespace {
// every tile count from 0 to 15 (each warpgroup 0..8 tiles, the split's last tile either's; at 15
// the 4-stage ring wraps three times, each copy is reused 7 times), tails at 1, 65, 129, 300, 500,
// 581 and 900 keys
const std::vector<long long> kKeys = {0,   1,   64,  65,  128, 129, 192, 256, 300, 384, 448,
                                      500, 512, 576, 581, 640, 704, 768, 832, 896, 900};
// the EPILOGUE's regions of each warpgroup (all 256 consumer threads executed), read once
const EpiRegions& wg2c_epilogue() {
  static const EpiRegions epi = epilogue_regions(kWg2c, statements(kWg2c), kernel(kWg2c));
  return epi;
}
}  // namespace

TEST_CASE("sm90 decode protocol model: the WG 4 row's two consumer warpgroups, producer and converters") {
  const KernelMacros& k = kernel(kWg2c);
  const std::vector<sm100_ptx::Stmt> st = statements(kWg2c);
  CHECK(k.mv("CONSUMER_WGS") == 2);
  CHECK(k.mv("CONVERTER_WARPS") == 4);
  CHECK(k.mv("KERNEL_THREADS") == 512);
  CHECK(k.mv("EMPTY_ARRIVALS") == k.mv("WG_THREADS") + k.mv("CONVERTER_THREADS"));
  CHECK(k.mv("VEMPTY_ARRIVALS") == k.mv("WG_THREADS"));
  CHECK(k.mv("STAGES") % 2 == 0);
  const EpiRegions& epi = wg2c_epilogue();
  REQUIRE_MESSAGE(epi.error.empty(), epi.error);
  // warpgroup 0's parts: stages 0-2 and copy 0 (its m / l); warpgroup 1's: stages 2-3 and copy 0
  CHECK(epi.of_wg[0] == std::set<int>{0, 1, 2, 4});
  CHECK(epi.of_wg[1] == std::set<int>{2, 3, 4});
  check_splits(kWg2c, st, k, kKeys, &epi);
}

TEST_CASE("sm90 decode protocol model: broken synchronisation of the WG 4 row is caught") {
  const KernelMacros& k = kernel(kWg2c);
  std::vector<Mutation> muts = common_mutations(kWg2c, k);
  const long long wg = k.mv("WG_THREADS"), conv = k.mv("CONVERTER_THREADS");
  auto add = [&](Mutation m) { muts.push_back(m); };
  {
    // a warpgroup steps its stage by 1 (TILE_ADVANCE_STAGE once): tile u + 2 waits on the other
    // warpgroup's stage
    Mutation m{Mutation::Edit, "consumer: stage stepped by 1, not 2", "RELEASE", "add.u32 %stage, %stage, 1", ""};
    m.skip = 1;
    add(m);
  }
  // warpgroup 1 starts on stage 0, not 1: it reads tile 0's K and V as tile 1's
  add({Mutation::Edit, "consumer: warpgroup 1's first tile on stage 0", "TILE0", "mov.u32 %stage, %kp", "mov.u32 %stage, 0"});
  // the vfull parity of completion u, not u / 2 (the warpgroup's tiles step by 2)
  add({Mutation::Edit, "consumer: vfull parity of completion u, not u / 2", "COPY_READY", "shr.u32", "mov.u32 %t0, %t"});
  {
    Mutation m{Mutation::VemptyInit, "vempty[c] counting both warpgroups (" + std::to_string(2 * wg) + ")"};
    m.a = 2 * wg;
    add(m);
  }
  {
    Mutation m{Mutation::EmptyInit, "empty[s] counting both warpgroups (" + std::to_string(2 * wg + conv) + ")"};
    m.a = 2 * wg + conv;
    add(m);
  }
  {
    Mutation m{Mutation::BarCount, "BAR_EPI over one warpgroup (" + std::to_string(wg) + ")"};
    m.a = k.mv("BAR_EPI");
    m.b = wg;
    add(m);
  }
  // the EPILOGUE stores its parts into the ring without waiting for the other warpgroup
  add({Mutation::Edit, "BAR_EPI before the parts' stores removed", "EPILOGUE", "bar.sync", ""});
  // warpgroup 1's QK wgmma may read Q's tiles before warpgroup 0 stored them
  add({Mutation::Edit, "BAR_COPY removed", "Q_TILES_STORED", "bar.sync", ""});
  const EpiRegions& epi = wg2c_epilogue();
  REQUIRE_MESSAGE(epi.error.empty(), epi.error);
  const int caught = run_mutations(kWg2c, statements(kWg2c), k, muts, {300, 581}, &epi);
  CHECK(muts.size() == 15);
  MESSAGE("sm90 decode protocol mutations (" << std::string(kWg2c.name) << "): " << caught << " of " << muts.size()
                                             << " caught");
}
