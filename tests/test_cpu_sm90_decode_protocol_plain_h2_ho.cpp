// "sm90 decode protocol model" of the plain mma.sync decode rows (tests/sm90_decode_plain*.h;
// what it executes and checks: the header of test_cpu_sm90_decode_protocol_plain.cpp), here for
//   _h2  fmha_decode_d64_h2_sm90a, fmha_decode_d128_h2_sm90a: two KV heads per CTA, one m-tile
//        (<= 16 packed rows) per head, so WM = 2: warp w computes head w % 2 over key part w / 2;
//        each stage holds both heads' K tiles then both V tiles, the producer loads both heads'
//        boxes with one expect_tx; every warp zeroes its own head's V tail (no owner warp), then
//        meets the other head's warp of its key part at BAR_ZERO_V0 + kp (which orders only its own
//        lanes: the two warps share no rows). TMA only (config.ptxh CPASYNC: one head);
//   _ho  fmha_decode_d128_ho_sm90a (and the 4-stage d64_ho): persistent CTAs taking chunks by
//        tickets. The tickets come from a global atomic; the model gives lane 0's atom its
//        results from a fixed list, the
//        chunks this CTA would get (the next one drawn a chunk ahead, as the PTX does; past the
//        list: num_splits, the end), and each consumer's loads of a stage's slot words the words
//        the producer stored for the slot it waited for last. The ring runs on across chunks; a
//        chunk's last slot is flushed (HO_FLUSH: BAR_EPI, every warp's O and m / l put into the
//        stage and HO_ML_OFF, fence.proxy.async, BAR_EPI, the merge, then the release); an empty
//        chunk's slot is a marker, the end's too. The slot words and each warp's m / l are units
//        of their own; the flush's accesses are the warp's (all 128 consumer threads executed on
//        one chunk of one tile, moved to the flushed stage). The checks of every tile hold per
//        slot (expected_slots: each ticket's tiles or marker, then the end).
// Splits: _h2 0..15 tiles with tails (d64: a subset), 16 and 8 rows a head, contiguous and pages
// of 16 and 64; _ho: a CTA taking a unit's five chunks in order, the sequence's tail chunk before
// the others (ZERO_V's stores and a flush on a stage that a later chunk loads again), empty chunks
// past the sequence (markers), one tile a chunk (a flush every slot), no chunk at all, the causal
// flag.
// Injected bugs: the last test case. What the model shows about these rows (no protocol error):
// in _h2 BAR_ZERO_V0 + kp joins two warps that share no rows, so it stands for each warp's
// bar.warp.sync (without it the lanes' order is lost, which the per-lane check reports); in _ho
// ZERO_V's own fence.proxy.async is not the one that orders its stores before the stage's next
// TMA load: the sequence's last tile is its chunk's last, whose HO_FLUSH fences every consumer's
// stores before the release (only without both fences the zeroed rows go unfenced).
//
// Measured (s40, build-bench, 2 cores, the other one busy): _h2 d128 13 splits checked, 1003
// events, 8 explored (34982 states), d64 8, 764 events, 4 explored (19824 states), ~0.45 s; _ho
// 10 CTAs (d128 8, d64 2), 786 events, 4 explored (31671 states), ~0.4 s; 10 of 10 mutations
// caught, ~0.4 s.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "sm90_decode_plain_mut.h"

using namespace sm90_decode_plain;

namespace {
constexpr long long kExplore = 5;  // the splits explored: up to 5 tiles (_ho: slots)
Config cfg(long long keys, long long rows, int page) {
  Config c;
  c.keys = keys;
  c.rows = rows;
  c.page = page;
  return c;
}
Config ho(long long keys, long long split_keys, std::vector<long long> tickets, long long rows = 16, int page = 0) {
  Config c = cfg(keys, rows, page);
  c.split_keys = split_keys;
  c.tickets = std::move(tickets);
  return c;
}
const Template& unmutated(const std::string& row, long long rows) { return plain_template(row, rows); }
}  // namespace

TEST_CASE("sm90 decode protocol model: the two-heads rows (_h2)") {
  for (const char* name : {"fmha_decode_d128_h2_sm90a", "fmha_decode_d64_h2_sm90a"}) {
    const std::string row = name;
    const KernelMacros& k = sm90_decode_protocol::kernel(row);
    CHECK(k.mv("HEADS") == 2);
    CHECK(k.mv("CPASYNC") == 0);
    Tally t;
    const bool d128 = row == "fmha_decode_d128_h2_sm90a";  // d64: the same loop on half the bytes, fewer splits
    for (long long keys : {0LL, 1LL, 64LL, 65LL, 300LL, 581LL, 900LL})
      if (d128 || keys == 65 || keys == 900) check_plain(row, cfg(keys, 16, 16), kExplore, &t);
    for (long long keys : {65LL, 900LL}) check_plain(row, cfg(keys, 16, 0), kExplore, &t);
    for (long long keys : {1LL, 300LL}) check_plain(row, cfg(keys, 8, 64), kExplore, &t);
    check_causal_same(row, cfg(581, 16, 16), check_plain(row, cfg(581, 16, 16), 0, &t), &t);
    MESSAGE("sm90 decode protocol model (" << row << "): " << t.splits << " splits of 0-900 keys, " << t.counts());
  }
}

TEST_CASE("sm90 decode protocol model: the hand-out row (_ho)") {
  const std::string row = "fmha_decode_d128_ho_sm90a";
  const KernelMacros& k = sm90_decode_protocol::kernel(row);
  CHECK(k.mv("HANDOUT") == 1);
  CHECK(k.mv("CPASYNC") == 0);
  Tally t;
  check_plain(row, ho(581, 128, {0, 1, 2, 3, 4}), kExplore, &t);  // the unit's five chunks, in order
  check_plain(row, ho(581, 128, {4, 1}, 16, 16), kExplore, &t);   // the tail chunk (ZERO_V) first
  check_plain(row, ho(581, 128, {4, 0, 2}, 8), kExplore, &t);
  {  // chunks 3 and 4 past a sequence of 300 keys (the plan's 5 chunks): markers
    Config c = ho(300, 128, {3, 0, 4, 2});
    c.num_splits = 5;
    check_plain(row, c, kExplore, &t);
  }
  check_plain(row, ho(900, 64, {14, 13, 0, 7}, 16, 64), kExplore, &t);  // one tile a chunk: a flush every slot
  check_plain(row, ho(64, 64, {1}), kExplore, &t);                      // no chunk: the end at once
  check_causal_same(row, ho(200, 128, {1, 0}), check_plain(row, ho(200, 128, {1, 0}), kExplore, &t), &t);
  {  // the 4-stage d64 row: the tail chunk first, empty chunks
    const std::string d64 = "fmha_decode_d64_ho_sm90a";
    CHECK(sm90_decode_protocol::kernel(d64).mv("HANDOUT") == 1);
    check_plain(d64, ho(581, 128, {4, 1, 0}), kExplore, &t);
    Config c = ho(300, 128, {3, 0, 4, 2}, 16, 16);
    c.num_splits = 5;
    check_plain(d64, c, kExplore, &t);
  }
  MESSAGE("sm90 decode protocol model (" << row << ", fmha_decode_d64_ho_sm90a): " << t.splits << " CTAs' tickets over 64-900 keys, "
                                         << t.counts());
}

TEST_CASE("sm90 decode protocol model: broken synchronisation of the _h2 and _ho rows is caught") {
  const std::string h2 = "fmha_decode_d128_h2_sm90a", hor = "fmha_decode_d128_ho_sm90a";
  std::vector<PlainMutation> muts;
  auto add = [&](const char* what, const std::string& row, std::vector<Mutation> e, std::vector<Config> cs, bool epi = false) {
    add_edits(&muts, what, row, std::move(e), std::move(cs), epi);
  };
  // the tail chunk 4 (stages 0, 1: ZERO_V and the flush on stage 1), chunks 1 and 0 (stage 1 again)
  const Config tail_first = ho(581, 128, {4, 1, 0});
  // both heads' warps read (and zero) head 0's tiles
  add("_h2: a warp's K / V tiles without its head's offset (SB_HEAD_OFF)", h2, {edit("SUB_BLOCK", "mad.lo.u32 %sbk, %mt", "")},
      {cfg(65, 16, 0)});
  // each warp zeroes its own head's rows: the barrier orders only its lanes (no warp sync left)
  add("_h2: ZERO_V's named barrier removed", h2, {edit("ZERO_V_JOIN", "bar.sync", "")}, {cfg(65, 16, 0)});
  add("_h2: no wait on empty[s]", h2, {edit("WAIT_EMPTY_LOOP", "mbarrier.try_wait", "setp.eq.u32 %p, 0, 0")}, {cfg(300, 16, 16)});
  // a warp puts its fragments into the stage while the others still read its K and V
  add("_ho: HO_FLUSH's first BAR_EPI removed", hor, {edit("HO_FLUSH", "bar.sync", "")}, {tail_first}, true);
  // the merge reads the parts before every warp put them
  add("_ho: HO_FLUSH's second BAR_EPI removed", hor, {edit("HO_PUT", "bar.sync", "")}, {tail_first}, true);
  // the next chunk's TMA load into the flushed stage may land before the fragments' stores
  add("_ho: no fence.proxy.async after HO_PUT", hor, {edit("HO_PUT", "fence.proxy.async", "")}, {tail_first});
  // the tail chunk's zeroed V rows, then chunk 0's TMA load into the same stage (ZERO_V's own
  // fence alone is not needed: the sequence's last tile is its chunk's last, whose HO_FLUSH fences
  // every consumer's stores before the release; without both, the zeroed rows go unfenced)
  add("_ho: no fence.proxy.async after ZERO_V nor after HO_PUT", hor,
      {edit("ZERO_V_TAIL", "fence.proxy.async", ""), edit("HO_PUT", "fence.proxy.async", "")}, {tail_first});
  // the flushed stage never released: the producer waits forever
  add("_ho: no arrival on empty[s] after HO_FLUSH (HO_NEXT)", hor, {edit("HO_NEXT", "mbarrier.arrive", "")}, {tail_first});
  // a marker's slot words stored after its arrival: the consumers may read the old ones
  add_move(&muts, "_ho: a marker's slot words stored after its arrival", hor, "HO_MARKER_PUT", "@%p_lane0 st.shared", 1,
           "HO_MARKER_PUT", "add.u32 %ho_n", {tail_first});
  // a tile's slot words stored after its expect_tx
  add_move(&muts, "_ho: a tile's slot words stored after its arrival", hor, "PRODUCER_ISSUE", "@%p_lane0 st.shared", 1,
           "PRODUCER_ISSUE", "mov.u32 %j, 0", {tail_first});
  const int caught = run_plain_mutations(muts, unmutated, 30000);
  CHECK(muts.size() == 10);
  MESSAGE("sm90 decode protocol mutations (_h2, _ho rows): " << caught << " of " << muts.size() << " caught");
}
