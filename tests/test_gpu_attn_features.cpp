// GPU suites of ptxfmha_attn with features (suite "gpu-fwd"), against the float64 reference
// (ptxfmha::reference_attn) through tests/attn_util.h: fresh random inputs per case, K/V cells
// no call may read hold NaN (keys past seqused_k, spare pages, page tails), outputs poisoned
// before each of two launches, the two launches bitwise equal, O per element / rel_l2 /
// cosine, LSE per row, rows that see no key exactly 0 (LSE -inf or the sink), nothing written
// outside the rows the sequences own, the first wrong element's position printed.
//
// On sm_90a every case runs the feature rows (fmha_fwd_d*_{ext,paged}_sm90a); on sm_100a every
// case runs the two-tile EXT rows (fmha_fwd_d*_ext_sm100a; seqused_k and paged K/V included
// since their V tail fix). A case whose features all have a kernel fails on UNSUPPORTED_FEATURE
// (attn_util.h); none is skipped on either arch.
// One test case per list and head dim.
//
// Run: build/tests/ptxfmha_tests -ts=gpu-fwd -tc="gpu attn:*"
// Sanitizer shapes only: -tc="gpu attn: sanitizer shapes*" (tools/gpu-check.sh runs those
// test cases under memcheck, racecheck, synccheck, initcheck once it lists them).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "attn_util.h"
#include "shapes.h"

using namespace ptxfmha_test;

namespace {

std::string key_for(int d, const std::string& group) { return "ptxfmha_attn d" + std::to_string(d) + " " + group; }

std::vector<int> repeat(int n, int x) { return std::vector<int>(std::size_t(n), x); }

// Runs every case of a list at head dim d (one test case per list and head dim, so each stays
// well under 30 s on an H200 host: the float64 reference samples rows of the large cases,
// attn_util.h sample_reference_rows); one tally line. A device without a forward row of that
// head dim reports the test case as not applicable (a MESSAGE), not as passed cases.
void run_list(const char* title, std::vector<NamedCase> (*list)(int), int d) {
  REQUIRE(ensure_context());
  bool have = false;
  for (const ptxfmha::KernelInfo* r : testable_fwd_rows()) have = have || r->head_dim == d;
  if (!have) {
    MESSAGE(title << " d" << d << ": no forward kernel of head dim " << d << " on this device");
    return;
  }
  CaseTally t;
  for (const NamedCase& n : list(d)) t.add(run_attn_case(key_for(d, n.group), n.c, n.seed));
  MESSAGE(title << " d" << d << ": " << t.str());
  CHECK(t.failed == 0);
}

}  // namespace

namespace ptxfmha_test {

// Each feature alone at odd lengths (1, 2, 63, 65, 127, 129, 1000, 4097 per sequence, empty
// sequences): varlen Q and K (self and crossed lengths), varlen Q over seqused_k, seqused_k,
// paged (16, 64, 256) with fixed and varlen Q, windows 1 / 64 / 1000 / wider than the
// sequence, softcap 5 / 50, sinks -10 / 0 / 10, ALiBi; causal and not.
std::vector<NamedCase> attn_cases_alone(int d) {
  std::vector<NamedCase> out;
  uint64_t seed = 0x5EED0001 + uint64_t(d) * 1000;
  auto add = [&](const char* group, const AttnCase& c) { out.push_back({group, c, seed++, 0}); };
  const std::vector<int> lq = {1, 2, 0, 63, 65, 127, 0, 129, 1000, 4097};
  const std::vector<int> lk_cross = {4097, 1000, 5, 129, 0, 65, 63, 2, 1, 1000};
  for (bool causal : {false, true}) {
    AttnCase c = attn_case(lq, lq, 4, 2, d);
    c.varlen_q = c.varlen_k = true;
    c.causal = causal;
    add("varlen", c);
    c.lk = lk_cross;
    add("varlen", c);
  }
  {
    AttnCase c = attn_case({1, 63, 129, 1000}, repeat(4, 1100), 4, 2, d);
    c.varlen_q = true;
    c.used = {1100, 65, 1, 0};
    c.causal = true;
    add("varlen_q+seqused_k", c);
  }
  {
    AttnCase c = attn_case(repeat(3, 129), repeat(3, 1000), 4, 4, d);
    c.used = {1000, 127, 2};
    add("seqused_k", c);
  }
  for (int page : {16, 64, 256}) {
    AttnCase c = attn_case(repeat(3, 129), repeat(3, 1000), 8, 2, d);
    c.page_size = page;
    c.used = {1000, 127, 1};
    c.causal = true;
    add("paged", c);
    AttnCase v = attn_case({65, 1, 0, 1000}, repeat(4, 4097), 8, 2, d);
    v.varlen_q = true;
    v.page_size = page;
    v.used = {4097, 63, 2, 1000};
    v.causal = true;
    add("paged+varlen_q", v);
  }
  for (int len : {1000, 4097})
    for (int w : {1, 64, 1000, 5000}) {
      AttnCase c = attn_case({len}, {len}, 4, 2, d);
      c.causal = true;
      c.window_left = w;
      add("window", c);
      c.causal = false;
      c.window_right = w;
      add("window", c);
    }
  for (float cap : {5.0f, 50.0f})
    for (int len : {63, 1000}) {
      AttnCase c = attn_case({len, len}, {len + 65, len + 65}, 4, 4, d);
      c.softcap = cap;
      c.causal = len == 63;
      add("softcap", c);
    }
  for (float s : {-10.0f, 0.0f, 10.0f})
    for (bool causal : {false, true}) {
      AttnCase c = attn_case({129}, {1000}, 4, 1, d);
      c.sinks = {s, s + 1, s - 1, s + 0.5f};
      c.causal = causal;
      add("sinks", c);
    }
  for (bool causal : {false, true}) {
    AttnCase c = attn_case({1000}, {1000}, 8, 8, d);
    c.slopes = alibi_slopes(8);
    c.causal = causal;
    add("alibi", c);
  }
  return out;
}

// Combinations x GQA {1, 4, 8} x layouts (Q and K/V in different orders).
std::vector<NamedCase> attn_cases_combinations(int d) {
  std::vector<NamedCase> out;
  uint64_t seed = 0x5EED2000 + uint64_t(d) * 1000;
  for (int gqa : ptxfmha_test::kGqaRatios)
    for (Order order : {Order::BSHD, Order::BHSD}) {
      const int hkv = 2, hq = 2 * gqa;
      std::vector<AttnCase> combos;
      {  // chunked prefill: varlen Q on a paged cache, causal window, softcap, sinks, ALiBi
        AttnCase c = attn_case({1, 65, 0, 127, 1000}, repeat(5, 1000), hq, hkv, d);
        c.varlen_q = true;
        c.page_size = 64;
        c.used = {1000, 129, 5, 127, 1000};
        c.causal = true;
        c.window_left = 64;
        c.softcap = 50;
        c.sinks = std::vector<float>(std::size_t(hq), 0.0f);
        c.slopes = alibi_slopes(hq);
        combos.push_back(c);
      }
      {  // varlen Q and K, a non-causal band, sinks 10
        AttnCase c = attn_case({63, 2, 1000, 0}, {129, 1, 1000, 7}, hq, hkv, d);
        c.varlen_q = c.varlen_k = true;
        c.window_left = 1000;
        c.window_right = 64;
        c.sinks = std::vector<float>(std::size_t(hq), 10.0f);
        combos.push_back(c);
      }
      {  // fixed lengths, symmetric window 64, softcap 5, ALiBi, padded rows
        AttnCase c = attn_case({127, 127}, {1000, 1000}, hq, hkv, d);
        c.window_left = c.window_right = 64;
        c.softcap = 5;
        c.slopes = alibi_slopes(hq);
        c.row_pad = 8;
        combos.push_back(c);
      }
      {  // varlen Q, fixed K with seqused_k, causal, sinks -10, softcap 5, no LSE
        AttnCase c = attn_case({65, 129, 1}, repeat(3, 1000), hq, hkv, d);
        c.varlen_q = true;
        c.used = {1000, 64, 0};
        c.causal = true;
        c.sinks = std::vector<float>(std::size_t(hq), -10.0f);
        c.softcap = 5;
        c.with_lse = false;
        combos.push_back(c);
      }
      for (AttnCase& c : combos) {
        c.q_order = order;
        c.kv_order = order == Order::BSHD ? Order::BHSD : Order::BSHD;
        out.push_back({"combinations", c, seed++, 0});
      }
    }
  return out;
}

// Small, odd shapes for compute-sanitizer (memcheck, racecheck, synccheck, initcheck): residue
// tiles, empty sequences, rows without keys, windows of 1, pages of 16 with garbage table
// columns, every feature at once, and garbage metadata the kernels must clamp (offsets that
// decrease, run past total_q / total_k or max_seqlen_q, page ids outside the pool in columns
// the sequences use): in bounds whatever it holds.
std::vector<NamedCase> attn_cases_sanitizer(int d) {
  std::vector<NamedCase> out;
  uint64_t seed = 0x5A11 + uint64_t(d) * 1000;
  auto add = [&](const AttnCase& c) { out.push_back({"sanitizer shapes", c, seed++, 0}); };
  AttnCase a = attn_case({1, 2, 0, 65}, {3, 0, 2, 130}, 4, 1, d);
  a.varlen_q = a.varlen_k = true;
  a.causal = true;
  a.window_left = 1;
  add(a);
  AttnCase b = attn_case({3, 3}, {17, 17}, 2, 2, d);
  b.page_size = 16;
  b.used = {17, 0};
  b.softcap = 5;
  add(b);
  AttnCase c = attn_case({33}, {77}, 4, 1, d);
  c.sinks = {-10, 0, 10, 1};
  c.slopes = alibi_slopes(4);
  c.q_order = Order::BHSD;
  add(c);
  AttnCase e = attn_case({5, 129, 1}, repeat(3, 200), 8, 2, d);  // everything at once
  e.varlen_q = true;
  e.page_size = 32;
  e.used = {3, 200, 199};
  e.causal = true;
  e.window_left = 64;
  e.softcap = 50;
  e.sinks = std::vector<float>(8, 0.5f);
  e.slopes = alibi_slopes(8);
  e.row_pad = 8;
  add(e);
  // Garbage offsets (query rows of two sequences never overlap here: such rows would be
  // written twice, in bounds but racy). Q: negative first offset, seq 1 empty, seq 2 past
  // total_q and longer than max_seqlen_q (rows 30..69 written, 70..119 nobody's).
  // K: decreasing offsets, one past total_k.
  AttnCase g = attn_case({40, 40, 40}, {50, 50, 50}, 2, 2, d);
  g.varlen_q = g.varlen_k = true;
  g.cu_q_override = {-7, 30, 30, 900};
  g.cu_k_override = {3, 2, 1000, -1};
  add(g);
  // Page ids outside the pool in columns the sequences use: read as zeros. The table comes
  // from make_attn_host with the case's own seed (same pool, same table), two entries broken.
  AttnCase p = attn_case({9, 9}, {64, 64}, 2, 2, d);
  p.page_size = 16;
  const uint64_t pseed = seed;
  const AttnHost ph = make_attn_host(p, pseed);
  p.table_override = ph.table;
  p.table_override[1] = -3;
  p.table_override[std::size_t(ph.mbps) + 2] = ph.num_pages + 100;
  add(p);
  return out;
}

}  // namespace ptxfmha_test

// One test case per list and head dim (each < 30 s on an H200 host).
#define PTXFMHA_ATTN_LIST_CASES(title, list, d)                                                         \
  TEST_CASE(title " (d" #d ")" * doctest::test_suite("gpu-fwd")) { run_list(title, list, d); }
PTXFMHA_ATTN_LIST_CASES("gpu attn: each feature alone at odd lengths (varlen, paged, seqused_k, window, softcap, "
                        "sinks, ALiBi)", attn_cases_alone, 64)
PTXFMHA_ATTN_LIST_CASES("gpu attn: each feature alone at odd lengths (varlen, paged, seqused_k, window, softcap, "
                        "sinks, ALiBi)", attn_cases_alone, 128)
PTXFMHA_ATTN_LIST_CASES("gpu attn: each feature alone at odd lengths (varlen, paged, seqused_k, window, softcap, "
                        "sinks, ALiBi)", attn_cases_alone, 256)
PTXFMHA_ATTN_LIST_CASES("gpu attn: combinations x GQA {1, 4, 8} x BSHD / BHSD", attn_cases_combinations, 64)
PTXFMHA_ATTN_LIST_CASES("gpu attn: combinations x GQA {1, 4, 8} x BSHD / BHSD", attn_cases_combinations, 128)
PTXFMHA_ATTN_LIST_CASES("gpu attn: combinations x GQA {1, 4, 8} x BSHD / BHSD", attn_cases_combinations, 256)
PTXFMHA_ATTN_LIST_CASES("gpu attn: sanitizer shapes (small, odd, every feature, garbage metadata)",
                        attn_cases_sanitizer, 64)
PTXFMHA_ATTN_LIST_CASES("gpu attn: sanitizer shapes (small, odd, every feature, garbage metadata)",
                        attn_cases_sanitizer, 128)
PTXFMHA_ATTN_LIST_CASES("gpu attn: sanitizer shapes (small, odd, every feature, garbage metadata)",
                        attn_cases_sanitizer, 256)
