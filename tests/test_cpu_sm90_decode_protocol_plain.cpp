// "sm90 decode protocol model" of the plain mma.sync decode rows: the synchronisation of the
// producer warp and the four consumer warps (160 threads; roles.ptxh, producer.ptxh,
// consumer.ptxh, mainloop.ptxh, epilogue.ptxh) checked on the PTX itself, on the CPU. This file:
// fmha_decode_d64_sm90a and fmha_decode_d128_sm90a (both CPASYNC rows, config.ptxh: a contiguous
// cache with DP_K_PTR set loads with cp.async, a paged one or DP_K_PTR 0 with TMA: both paths
// run) and fmha_decode_d128_e4m3_sm90a; the two-heads rows and the hand-out row:
// test_cpu_sm90_decode_protocol_plain_h2_ho.cpp. The model: tests/sm90_decode_plain.h (the roles
// from the PTX), sm90_decode_plain_hb.h (the checks), sm90_decode_plain_explore.h (the
// exploration), sm90_decode_plain_mut.h (the injected bugs).
//
// What is executed: per split, lanes 0 and 31 of each consumer warp and of the producer warp
// (tests/sm100_model/ptx_exec.h: the integer and address arithmetic, the branches, every mbarrier
// init / wait with its parity / arrive / expect_tx, TMA loads with their destination, cp.async
// copies and cp.async.mbarrier.arrive.noinc, ldmatrix and ld / st.shared with their addresses,
// named barriers with their thread counts, bar.warp.sync, fence.proxy.async). An arrival both lanes
// make counts the warp's 32 (the consumers' RELEASE, the producer lanes' noinc arrivals), one only
// lane 0 makes counts 1 (expect_tx); a wait or named barrier one lane skips is a problem. Shared
// memory is cut into units: a 16-key sub-block of one head's K or V tile of one stage (its column
// blocks together; lane 31 stores row 15 of every sub-block ZERO_V_TAIL zeroes, lane 0's ldmatrix
// reads every sub-block its warp reads). The EPILOGUE's accesses are its warp's (every consumer
// thread executed once on an empty split, where the EPILOGUE's addresses are those of any split;
// the warps' part stores byte-disjoint). Each role: its nodes (waits, arrivals, named barriers)
// and, between them, the units its lanes read and write (gaps); TMA boxes and cp.async copies
// land asynchronously, before the phase of their barrier completes.
//
// What is checked, per split:
//   * every wait's parity the completion the role means (its k-th wait on a barrier: parity
//     k & 1); every barrier initialised; each phase's arrivals its count (1 or the producer's 32
//     noinc arrivals on full[s], the consumers' 128 on empty[s]) and its expect_tx bytes the bytes
//     of the boxes loaded for it; a named barrier's count the threads of the warps that take it
//     (BAR_ZERO_V0 + kp: the WM warps of key part kp; BAR_EPI: 128);
//   * every role on its tiles' stages: a consumer warp waits on full[t % STAGES] and arrives on
//     empty[t % STAGES] per tile, and reads exactly its sub-blocks kp, kp + WN, ... of that stage
//     (K and V); the producer waits on empty from tile STAGES on and loads each tile's boxes (those
//     holding keys below the split's end; cp.async: every row) into the tile's stage;
//   * every interleaving, twice: by the happens-before order of the nodes (each wait after the
//     arrivals and copies of the phase it waits for, each named barrier after its takers), which
//     decides a split at once whatever its length, and by exploring the states (every role's
//     position and which copies landed; an mbarrier's completed phases from its arrivals, as the
//     hardware counts them) on the splits of up to 5 tiles (the four warps' positions multiply:
//     a 15-tile split of the 6-stage e4m3 row has 4.5 x 10^5 states). No deadlock; no arrival of a
//     phase before the previous one completed; no barrier two phases ahead of a waiter; no TMA /
//     cp.async copy in flight into a unit another role reads or writes; no unordered write / access
//     pair of a unit (ZERO_V_TAIL's stores against the other warps' reads of the sub-block and the
//     stage's next loads, the EPILOGUE's stores against every access of the ring); generic stores
//     that a TMA load of the unit follows fenced (fence.proxy.async) before the arrival that
//     orders them; no EPILOGUE store into a unit another role will still write;
//   * per lane: a load of a unit the warp's lanes stored into behind a named barrier or
//     bar.warp.sync (WM = 1: ZERO_V_OWN; one thread a warp cannot see the other lanes' order);
//   * the causal flag: it changes the rows' limits and the masked sub-blocks, not one node.
// Splits: 0, 1, 64, 65, 300, 581 and 900 keys (0..15 tiles; tails of 1, 44, 5 and 4 keys), a
// split that starts at key 320 and an empty split past the keys; 16, 32, 48 and 64 packed rows
// (WM 1, 2, 4 with MT 3, 4); contiguous caches (TMA and cp.async), pages of 16 (4 boxes a tile,
// only those below the end loaded) and of 64 (d64: a subset of d128's, check_bf16_row).
// Injected bugs: the last test case, each caught, the exploration (where under 30000 states) and
// the happens-before check agreeing on every split of every bug. The model found no protocol
// error. ZERO_V's own fence.proxy.async orders nothing these rows need: ZERO_V runs on a split's
// last tile only, and no load follows it in the CTA (in _ho HO_FLUSH's fence follows first:
// test_cpu_sm90_decode_protocol_plain_h2_ho.cpp); removing it is no bug the model can show.
//
// Measured (s40, build-bench, 2 cores, the other one busy): d128 30 splits checked (27 and the
// causal flag on 3), 2101 events, 20 explored (112920 states); d64 16 (14 + 2), 1353 events, 9
// explored (108904 states); ~0.8 s for both. e4m3 11 splits, 663 events, 7 explored (102789
// states), ~0.35 s. 14 of 14 mutations caught, ~0.35 s.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "sm90_decode_plain_mut.h"

using namespace sm90_decode_plain;

namespace {
const std::vector<long long> kKeys = {0, 1, 64, 65, 300, 581, 900};
enum Mode { kTma, kCpAsync, kPage16, kPage64 };
Config cfg(long long keys, long long rows, Mode mode) {
  Config c;
  c.keys = keys;
  c.rows = rows;
  c.cpasync = mode == kCpAsync;
  c.page = mode == kPage16 ? 16 : mode == kPage64 ? 64 : 0;
  return c;
}
constexpr long long kExplore = 5;  // the splits explored: up to 5 tiles (the others: the happens-before check)

// The splits of a bf16 row: WM 1 in every mode, WM 2 and 4 (MT 3 and 4), a split that starts at
// key 320, an empty split past the keys, the causal flag (its nodes those of the split without
// it). d128 all of them; d64 (the same loop, 4 stages of half the bytes) those marked.
void check_bf16_row(const std::string& row, bool all, Tally* t) {
  std::vector<Config> cs;
  std::vector<std::size_t> causal;  // the splits also run with the causal flag
  auto add = [&](bool d64, Config c, bool with_causal = false) {
    if (!all && !d64) return;
    if (with_causal) causal.push_back(cs.size());
    cs.push_back(c);
  };
  for (long long keys : kKeys) add(keys == 0 || keys == 65 || keys == 581 || keys == 900, cfg(keys, 16, kTma), keys == 300);
  for (long long keys : {1LL, 65LL, 300LL, 900LL}) add(keys != 65, cfg(keys, 16, kCpAsync), keys == 900);
  for (long long keys : {1LL, 65LL, 300LL, 581LL}) add(keys == 65 || keys == 300, cfg(keys, 16, kPage16));
  for (long long keys : {65LL, 900LL}) add(keys == 900, cfg(keys, 16, kPage64));
  for (long long keys : {65LL, 581LL}) add(keys == 65, cfg(keys, 32, kCpAsync));
  add(false, cfg(300, 32, kPage16));
  add(false, cfg(65, 48, kTma));
  for (long long keys : {1LL, 581LL}) add(keys == 581, cfg(keys, 64, kPage64), keys == 581);
  add(false, cfg(300, 64, kCpAsync));
  for (Mode mode : {kCpAsync, kPage16}) {  // split 1 of 2: keys 320 .. 580
    Config c = cfg(581, 16, mode);
    c.split_keys = 320;
    c.split = 1;
    add(mode == kPage16, c);
  }
  {  // split 2 of 3: past the keys, empty
    Config c = cfg(581, 32, kPage16);
    c.split_keys = 320;
    c.split = 2;
    c.num_splits = 3;
    add(true, c);
  }
  std::vector<Run> runs;
  for (const Config& c : cs) runs.push_back(check_plain(row, c, kExplore, t));
  for (std::size_t i : causal) check_causal_same(row, cs[i], runs[i], t);
}

const Template& unmutated(const std::string& row, long long rows) { return plain_template(row, rows); }
}  // namespace

TEST_CASE("sm90 decode protocol model: the plain rows' producer warp and four consumer warps (d64, d128; TMA and cp.async)") {
  for (const char* row : {"fmha_decode_d128_sm90a", "fmha_decode_d64_sm90a"}) {
    const KernelMacros& k = sm90_decode_protocol::kernel(std::string(row));
    CHECK(k.mv("CPASYNC") == 1);
    CHECK(k.mv("KERNEL_THREADS") == 160);
    CHECK(k.mv("EMPTY_ARRIVALS") == 128);
    Tally t;
    check_bf16_row(row, std::string(row) == "fmha_decode_d128_sm90a", &t);
    MESSAGE("sm90 decode protocol model (" << std::string(row) << "): " << t.splits << " splits of 0-900 keys, " << t.counts());
  }
}

TEST_CASE("sm90 decode protocol model: the plain e4m3 row") {
  const std::string row = "fmha_decode_d128_e4m3_sm90a";
  const KernelMacros& k = sm90_decode_protocol::kernel(row);
  CHECK(k.mv("CPASYNC") == 0);
  CHECK(k.mv("KV_ELEM_BYTES") == 1);
  Tally t;
  for (long long keys : {0LL, 1LL, 65LL, 300LL, 900LL}) check_plain(row, cfg(keys, 16, kPage16), kExplore, &t);
  for (long long keys : {65LL, 300LL}) check_plain(row, cfg(keys, 32, kTma), kExplore, &t);
  for (long long keys : {1LL, 581LL}) check_plain(row, cfg(keys, 64, kPage64), kExplore, &t);
  check_causal_same(row, cfg(300, 32, kTma), check_plain(row, cfg(300, 32, kTma), 0, &t), &t);
  MESSAGE("sm90 decode protocol model (" << row << "): " << t.splits << " splits of 0-900 keys, " << t.counts());
}

TEST_CASE("sm90 decode protocol model: broken synchronisation of the plain rows is caught") {
  const std::string d128 = "fmha_decode_d128_sm90a", d64 = "fmha_decode_d64_sm90a", e4 = "fmha_decode_d128_e4m3_sm90a";
  std::vector<PlainMutation> muts;
  auto add = [&](const char* what, const std::string& row, std::vector<Mutation> e, std::vector<Config> cs, bool epi = false) {
    add_edits(&muts, what, row, std::move(e), std::move(cs), epi);
  };
  // the consumers never release a stage: the producer waits forever for its fourth tile
  add("consumer: no arrival on empty[s] (RELEASE)", d128, {edit("RELEASE", "mbarrier.arrive", "")}, {cfg(300, 16, kTma)});
  // the consumers' full wait with parity 0: a stage's second round passes on its first completion
  add("consumer: full[s] wait parity forced to 0", d128,
      {edit("WAIT_FULL_LOOP", "mbarrier.try_wait", "mbarrier.try_wait.parity.shared::cta.b64 %p, [%bar_f], 0")}, {cfg(300, 16, kTma)});
  // RELEASE moved before the PV_MMA of the warp's (WM 1: only, so last) sub-block
  add_move(&muts, "consumer: RELEASE before its last sub-block's V reads (PV_MMA)", d128, "RELEASE", "add.u32 %t0, %bar_f", 2,
           "PV_MMA", "", {cfg(300, 16, kTma)});
  // the m-tile-1 warp reads the tail's V rows while the m-tile-0 warp zeroes them
  add("ZERO_V: its named barrier removed", d128, {edit("ZERO_V_JOIN", "bar.sync", "")}, {cfg(65, 32, kTma)});
  add("ZERO_V: its named barrier counting half its warps' threads", d128,
      {edit("ZERO_V_JOIN", "shl.b32 %t1, %wm, 5", "shl.b32 %t1, %wm, 4")}, {cfg(65, 32, kTma)});
  // WM = 1: the warp's ldmatrix reads rows its other lanes zeroed
  add("ZERO_V: bar.warp.sync removed (WM = 1)", d128, {edit("ZERO_V_OWN", "bar.warp.sync", "")}, {cfg(65, 16, kTma)});
  // the producer overwrites a stage the consumers still read
  add("producer: no wait on empty[s]", d128, {edit("WAIT_EMPTY_LOOP", "mbarrier.try_wait", "setp.eq.u32 %p, 0, 0")}, {cfg(300, 16, kTma)});
  // full[s] completes when half the bytes landed
  add("producer: expect_tx of half the bytes", d128,
      {edit("PRODUCER_ISSUE", "mul.lo.u32 %bytes, %bytes", "mul.lo.u32 %bytes, %bytes, 256")}, {cfg(300, 16, kTma)});
  add("cp.async: no cp.async.mbarrier.arrive", d128, {edit("CA_ARRIVE", "cp.async.mbarrier.arrive", "")}, {cfg(300, 16, kCpAsync)});
  // full[s] counts 1 arrival: the first lane's completes it, the others' copies still in flight
  add("cp.async: full[s] counting 1 arrival, not the warp's 32", d64, {edit("BARRIER_INIT", "selp.u32 %t2", "mov.u32 %t2, 1")},
      {cfg(300, 16, kCpAsync)});
  // the EPILOGUE's parts overwrite the ring while slower warps still read their last tile
  add("EPILOGUE: its first BAR_EPI removed", d128, {edit("EPILOGUE", "bar.sync", "")}, {cfg(65, 16, kTma), cfg(300, 32, kPage16)}, true);
  add("EPILOGUE: its second BAR_EPI removed", d128, {edit("EPI_STORE_DONE", "bar.sync", "")}, {cfg(65, 16, kTma)}, true);
  add("e4m3: ZERO_V's named barrier removed", e4, {edit("ZERO_V_JOIN", "bar.sync", "")}, {cfg(65, 32, kTma)});
  add("e4m3: no wait on empty[s]", e4, {edit("WAIT_EMPTY_LOOP", "mbarrier.try_wait", "setp.eq.u32 %p, 0, 0")}, {cfg(581, 16, kPage16)});
  const int caught = run_plain_mutations(muts, unmutated, 30000);
  CHECK(muts.size() == 14);
  MESSAGE("sm90 decode protocol mutations (plain rows): " << caught << " of " << muts.size() << " caught");
}
