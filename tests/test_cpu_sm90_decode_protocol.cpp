// "sm90 decode protocol model": the mbarrier protocol of the converter-warp decode rows checked on
// the PTX itself, on the CPU. Two rows, one model (tests/sm90_decode_protocol.h):
//   WG 3  fmha_decode_d256_e4m3_wgc_sm90a (this file): producer warp, one consumer warpgroup, 2
//         converter warps (roles.ptxh, converter.ptxh, mainloop_wg_e4m3_pipe.ptxh);
//   WG 4  fmha_decode_d256_e4m3_wg2c_sm90a (test_cpu_sm90_decode_protocol_pair.cpp): two consumer
//         warpgroups (even / odd tiles, mainloop_wg_e4m3_pair.ptxh), producer warp, 4 converter
//         warps; 512 threads, the 3 spare warps leave at once.
// (The plain mma.sync rows, producer warp and four consumer warps: their own model,
// tests/sm90_decode_plain*.h, test_cpu_sm90_decode_protocol_plain*.cpp.)
// For both rows:
//   * one thread of each role is executed (tests/sm100_model/ptx_exec.h: the integer and address
//     arithmetic, the branches, every mbarrier init / wait with its parity / arrive /
//     expect_tx, TMA loads, wgmma waits, shared-memory stores, named barriers; setmaxnreg a
//     no-op) for splits of 0..15 tiles with tails, so each role's sequence of synchronisation
//     events is the one its PTX computes (WG 4: a consumer role per warpgroup, threads 0 and 128);
//   * every wait's parity is checked against the phase the role means (its k-th wait on a
//     barrier waits for completion k: parity k & 1), and every role waits on its tiles' barriers
//     (tile t: stage t % STAGES, copy t % 2; WG 4: a consumer warpgroup w on tiles w, w + 2, ..);
//   * the sequences are then interleaved in every order the barriers allow (explicit state
//     exploration; a role's arrive counts its threads: a consumer warpgroup 128, the converters
//     64 (WG 4: 128), the producer's elected lane 1; a full barrier's transaction bytes land when
//     the producer goes on; a named barrier taken by several roles (WG 4: BAR_COPY and BAR_EPI,
//     both consumer warpgroups) lets a role's k-th bar.sync pass once all of them reached their
//     k-th), and in every reachable state: no deadlock (every role reaches its end), no barrier
//     two phases ahead of a role that still waits on it (the parity test would be fooled), no
//     write into a stage or a V copy that another role is still reading (a consumer or converter
//     reads stage s from its wait on full[s] to its next arrive; a consumer reads copy c from its
//     wait on vfull[c] to its arrive on vempty[c], or to its end), no write into a region another
//     role will still write (the epilogue reuses the ring and the copies; WG 4: each consumer
//     role writes the regions of its whole warpgroup's epilogue stores, found by executing all
//     256 consumer threads; the two warpgroups' own parts are disjoint);
//   * statically, per role: a copy freed (vempty) only after the P V's wgmma.wait_group 0, a
//     copy published (vfull) only after a fence.proxy.async that follows the stores; a named
//     barrier's count the threads of the roles that take it; Q's tiles stored, then
//     fence.proxy.async, then a named barrier of every consumer thread (BAR_COPY) before any
//     consumer's first wgmma;
//   * injected bugs, each of which the model must catch, on splits of 300 and 581 keys: on both
//     rows an un-awaited copy, a stage released with the converters' arrivals not counted, a
//     missing vempty or vfull arrive, a vfull parity forced, a copy freed before its P V
//     completed, a copy published without the proxy fence; on WG 4 also a warpgroup stepping its
//     stage by 1 (not 2), warpgroup 1 starting on stage 0, a vfull parity of completion u (not
//     u / 2), vempty / empty counts of both warpgroups, BAR_EPI over one warpgroup or missing
//     before the parts' stores, BAR_COPY missing.
//
// Measured (s28, build-bench): WG 3: 11 splits of 0-900 keys, 745 events, 18415 states, ~0.2 s;
// 7 of 7 mutations caught, ~0.1 s. WG 4: test_cpu_sm90_decode_protocol_pair.cpp.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "sm90_decode_protocol_mut.h"

using namespace sm90_decode_protocol;

namespace {
// up to 15 tiles: the 4-stage ring wraps three times, each copy is reused 7 times
const std::vector<long long> kKeys = {0, 1, 64, 65, 128, 129, 256, 300, 448, 581, 900};
}  // namespace

TEST_CASE("sm90 decode protocol model: the converter-warp row's producer, consumers and converters") {
  const KernelMacros& k = kernel(kWgc);
  const std::vector<sm100_ptx::Stmt> st = statements(kWgc);
  CHECK(k.mv("CONVERTER_WARPS") == 2);
  CHECK(k.mv("EMPTY_ARRIVALS") == k.mv("CONSUMER_THREADS") + k.mv("CONVERTER_THREADS"));
  check_splits(kWgc, st, k, kKeys, nullptr);
}

TEST_CASE("sm90 decode protocol model: broken synchronisation of the converter warps is caught") {
  const KernelMacros& k = kernel(kWgc);
  const std::vector<Mutation> muts = common_mutations(kWgc, k);
  const int caught = run_mutations(kWgc, statements(kWgc), k, muts, {300, 581}, nullptr);
  CHECK(muts.size() == 7);
  MESSAGE("sm90 decode protocol mutations: " << caught << " of " << muts.size() << " caught");
}
