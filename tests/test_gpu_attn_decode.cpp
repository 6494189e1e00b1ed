// GPU suite of ptxfmha_decode_attn with features (suite "gpu-decode"): sliding window,
// softcap, sinks and ALiBi, alone and together, on paged (page 16, 64, 256) and contiguous
// caches with ragged seqlens_k (a sequence without keys included), 1..8 query tokens, GQA 1,
// 4, 8, forced and automatic KV splits; against the float64 reference with the checks of
// tests/attn_util.h (NaN in every cache cell no call may read, poisoned outputs, two launches
// bitwise equal). The _attn split kernels and the _sink combine kernels run them
// (decode_rows.h); an UNSUPPORTED_FEATURE is a failure (attn_util.h's expectations).
//
// Sized for a short run (the first version's 327 cases of up to 5 x 4097 keys x 8 KV heads took
// over 100 s on an H200, almost all of it generating host data): each feature once per head
// dim on a rotating layout and query length, small head counts, keys up to 1100 except one
// 4097-key case per head dim with every feature; about 25 s on an H200 (estimate: the host
// data and reference of ~120 cases of <= 1.5 M elements each).
//
// Run: build/tests/ptxfmha_tests -ts=gpu-decode -tc="gpu decode attn*"
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "attn_util.h"
#include "shapes.h"

using namespace ptxfmha_test;

namespace {

std::vector<int> decode_head_dims() {
  std::vector<int> d;
  for (const ptxfmha::KernelInfo* r : rows_for(gpu().info.arch, ptxfmha::KernelKind::Decode)) d.push_back(r->head_dim);
  return d;
}

// B sequences of seqlen_q tokens over a cache of max_k keys, ragged lengths.
AttnCase decode_case(int sq, int hq, int hkv, int d, int page, std::vector<int> lens, int max_k) {
  AttnCase c = attn_case(std::vector<int>(lens.size(), sq), std::vector<int>(lens.size(), max_k), hq, hkv, d);
  c.page_size = page;
  c.used = std::move(lens);
  return c;
}

void run_list(const char* title, std::vector<NamedCase> (*list)(int)) {
  REQUIRE(ensure_context());
  std::vector<int> dims = decode_head_dims();
  std::sort(dims.begin(), dims.end());
  dims.erase(std::unique(dims.begin(), dims.end()), dims.end());
  REQUIRE(!dims.empty());
  CaseTally t;
  for (int d : dims)
    for (const NamedCase& n : list(d))
      t.add(run_decode_attn_case("ptxfmha_decode_attn d" + std::to_string(d) + " " + n.group, n.c, n.seed,
                                 n.num_splits));
  MESSAGE(title << ": " << t.str());
  CHECK(t.failed == 0);
}

}  // namespace

namespace ptxfmha_test {

// Each feature alone (on a rotating page size 0 / 16 / 64 / 256 and 1 or 4 query tokens) and
// all together on every page size; one long case (4097 keys, every feature, splits) per head dim.
std::vector<NamedCase> decode_attn_cases_features(int d) {
  std::vector<NamedCase> out;
  uint64_t seed = 0xDECA0001 + uint64_t(d) * 1000;
  const std::vector<int> lens = {1100, 1, 0, 700, 129};
  const int pages[4] = {0, 16, 64, 256};
  struct Feature {
    const char* name;
    std::function<void(AttnCase&)> set;
  };
  const std::vector<Feature> features = {
      {"window 1", [](AttnCase& c) { c.window_left = 1; }},
      {"window 64", [](AttnCase& c) { c.window_left = 64; }},
      {"window 1000", [](AttnCase& c) { c.window_left = 1000; }},
      {"softcap 5", [](AttnCase& c) { c.softcap = 5; }},
      {"softcap 50", [](AttnCase& c) { c.softcap = 50; }},
      {"sinks -10", [](AttnCase& c) { c.sinks.assign(std::size_t(c.heads_q), -10.0f); }},
      {"sinks 0", [](AttnCase& c) { c.sinks.assign(std::size_t(c.heads_q), 0.0f); }},
      {"sinks 10", [](AttnCase& c) { c.sinks.assign(std::size_t(c.heads_q), 10.0f); }},
      {"alibi", [](AttnCase& c) { c.slopes = alibi_slopes(c.heads_q); }},
  };
  auto all = [](AttnCase& c) {
    c.window_left = 128;
    c.softcap = 50;
    c.sinks.assign(std::size_t(c.heads_q), 1.0f);
    c.slopes = alibi_slopes(c.heads_q);
  };
  for (std::size_t f = 0; f < features.size(); ++f) {
    AttnCase c = decode_case(f % 2 ? 4 : 1, 8, 2, d, pages[f % 4], lens, 1100);
    c.causal = true;
    features[f].set(c);
    out.push_back({features[f].name, c, seed++, 0});
  }
  for (int page : pages) {
    AttnCase c = decode_case(page % 32 ? 1 : 4, 8, 2, d, page, lens, 1100);
    c.causal = true;
    all(c);
    out.push_back({"all", c, seed++, 0});
  }
  AttnCase c = decode_case(4, 8, 2, d, 64, {4097, 33}, 4097);
  c.causal = true;
  all(c);
  out.push_back({"all, 4097 keys", c, seed++, 0});
  return out;
}

// GQA {1, 4, 8} x query tokens {1, 2, 8} x splits {auto, 1, 5} (d64 / d256: {auto, 5}), every
// feature at once.
std::vector<NamedCase> decode_attn_cases_grid(int d) {
  std::vector<NamedCase> out;
  uint64_t seed = 0xDECA2000 + uint64_t(d) * 1000;
  for (int gqa : ptxfmha_test::kGqaRatios)
    for (int sq : {1, 2, 8})
      for (int splits : {0, 1, 5}) {
        if (d != 128 && splits == 1) continue;  // d64 / d256: auto and forced splits only
        AttnCase c = decode_case(sq, 2 * gqa, 2, d, 64, {777, 65, 2}, 1000);
        c.causal = sq > 1;
        c.window_left = 200;
        c.softcap = 30;
        c.sinks = std::vector<float>(std::size_t(2 * gqa), 0.5f);
        c.slopes = alibi_slopes(2 * gqa);
        c.q_order = gqa == 4 ? Order::BHSD : Order::BSHD;
        out.push_back({"(grid)", c, seed++, splits});
      }
  return out;
}

// Small shapes for compute-sanitizer: every feature, page 16, a sequence without keys, a
// window narrower than a split, table columns with garbage ids past the used pages.
std::vector<NamedCase> decode_attn_cases_sanitizer(int d) {
  std::vector<NamedCase> out;
  uint64_t seed = 0xDECA5A + uint64_t(d) * 1000;
  AttnCase a = decode_case(3, 8, 2, d, 16, {70, 0, 17}, 70);
  a.causal = true;
  a.window_left = 5;
  a.softcap = 5;
  a.sinks = std::vector<float>(8, -1.0f);
  a.slopes = alibi_slopes(8);
  out.push_back({"(sanitizer shapes)", a, seed++, 3});
  AttnCase b = decode_case(1, 4, 4, d, 0, {130, 1}, 130);
  b.sinks = {10, 0, -10, 2};
  out.push_back({"(sanitizer shapes)", b, seed++, 0});
  return out;
}

// The cluster merge of the _attn_cl rows (run with PTXFMHA_DECODE_CLUSTER=1): the sinks join
// the merge as in the _sink combine kernel; GQA {1, 4, 8} x query tokens {1, 4} x splits {auto,
// 2, 5, 16}, every feature (a window narrower than a split included), a sequence without keys.
std::vector<NamedCase> decode_attn_cases_cluster(int d) {
  std::vector<NamedCase> out;
  uint64_t seed = 0xDECAC000 + uint64_t(d) * 1000;
  for (int gqa : ptxfmha_test::kGqaRatios)
    for (int sq : {1, 4})
      for (int splits : {0, 2, 5, 16}) {
        AttnCase c = decode_case(sq, 2 * gqa, 2, d, (splits % 2) ? 64 : 0, {1037, 0, 65}, 1100);
        c.causal = sq > 1;
        c.window_left = splits == 5 ? 100 : -1;
        c.softcap = 30;
        c.sinks = std::vector<float>(std::size_t(2 * gqa), splits == 2 ? 4.0f : 0.5f);
        c.slopes = alibi_slopes(2 * gqa);
        out.push_back({"(cluster)", c, seed++, splits});
      }
  return out;
}

}  // namespace ptxfmha_test

TEST_CASE("gpu decode attn: cluster merge (_attn_cl) with sinks and every feature, splits {auto, 2, 5, 16}" *
          doctest::test_suite("gpu-decode")) {
  ScopedDecodeCluster policy("1");
  run_list("gpu decode attn cluster", decode_attn_cases_cluster);
}

TEST_CASE("gpu decode attn: window, softcap, sinks, ALiBi alone and together, paged and contiguous" *
          doctest::test_suite("gpu-decode")) {
  run_list("gpu decode attn features", decode_attn_cases_features);
}

TEST_CASE("gpu decode attn: GQA {1, 4, 8} x query tokens {1, 2, 8} x splits {auto, 1, 5}, every feature" *
          doctest::test_suite("gpu-decode")) {
  run_list("gpu decode attn grid", decode_attn_cases_grid);
}

TEST_CASE("gpu decode attn: sanitizer shapes" * doctest::test_suite("gpu-decode")) {
  run_list("gpu decode attn sanitizer shapes", decode_attn_cases_sanitizer);
}
