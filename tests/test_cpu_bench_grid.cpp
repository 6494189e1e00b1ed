// CPU tests of the benchmark's cases (bench/bench_case.h): the grids and their named decode
// subsets, the --benchmark_filter rule, the device-memory plan (cells that do not fit are
// skipped with a message) and the run-time estimate (bench/bench_stats.h).
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "bench_case.h"
#include "bench_stats.h"

namespace pb = ptxfmha_bench;

namespace {
std::vector<pb::Case> grid(const char* name) {
  std::vector<pb::Case> g;
  std::string why;
  REQUIRE_MESSAGE(pb::decode_grid(name, &g, &why), why);
  return g;
}
}  // namespace

TEST_CASE("bench grid: prefill is the FlashAttention-3 grid (CPU)") {
  const auto g = pb::prefill_grid({64, 128, 256}, {512, 1024, 2048, 4096, 8192, 16384});
  CHECK(g.size() == 36);
  std::set<std::string> names;
  for (const pb::Case& c : g) {
    names.insert(c.name);
    CHECK(c.family == "fwd");
    CHECK(c.batch * c.seqlen_q == pb::kTotalTokens);
    CHECK(c.heads_q * c.head_dim == pb::kHidden);
    CHECK(c.heads_kv == c.heads_q);
    CHECK(c.seqlen_k == c.seqlen_q);
  }
  CHECK(names.size() == g.size());
  const pb::Case c = pb::prefill_case(128, true, 4096);
  CHECK(c.name == "fwd/d128/causal/s4096/b4h16");
  // 4*B*H*S*S*D / 2 for causal
  CHECK(c.flops() == doctest::Approx(4.0 * 4 * 16 * 4096.0 * 4096.0 * 128 / 2));
  CHECK(pb::prefill_case(128, false, 4096).flops() == doctest::Approx(2 * c.flops()));
}

TEST_CASE("bench grid: the headline decode subset covers every axis value (CPU)") {
  const pb::DecodeAxes& ax = pb::decode_axes();
  const auto g = grid("headline");
  std::set<int> dims, batches, kvs, qs, pages;
  std::set<std::pair<int, int>> heads;
  std::set<std::string> names;
  for (const pb::Case& c : g) {
    CHECK(c.family == "decode");
    dims.insert(int(c.head_dim));
    batches.insert(int(c.batch));
    kvs.insert(int(c.seqlen_k));
    qs.insert(int(c.seqlen_q));
    pages.insert(int(c.page_size));
    heads.insert({int(c.heads_q), int(c.heads_kv)});
    names.insert(c.name);
    CHECK(c.causal == (c.seqlen_q > 1));  // several new tokens are causal among themselves
  }
  for (int d : ax.head_dims) CHECK_MESSAGE(dims.count(d), "head dim " << d);
  for (int b : ax.batches) CHECK_MESSAGE(batches.count(b), "batch " << b);
  for (int kv : ax.kvs) CHECK_MESSAGE(kvs.count(kv), "kv " << kv);
  for (int q : ax.q_tokens) CHECK_MESSAGE(qs.count(q), "query tokens " << q);
  for (int p : ax.page_sizes) CHECK_MESSAGE(pages.count(p), "page size " << p);
  for (auto h : ax.heads) CHECK_MESSAGE(heads.count(h), "heads " << h.first << "/" << h.second);
  CHECK(names.size() == g.size());  // no cell twice
  // "a few minutes": a small fraction of the full grid
  CHECK(g.size() <= 60);
  // The classic grid (the runs up to 2026-11-25) is inside it.
  for (const pb::Case& c : grid("classic")) CHECK_MESSAGE(names.count(c.name), c.name);
}

TEST_CASE("bench grid: full, classic and quick decode grids; unknown names refused (CPU)") {
  const pb::DecodeAxes& ax = pb::decode_axes();
  const auto full = grid("full");
  CHECK(full.size() == ax.head_dims.size() * ax.heads.size() * ax.batches.size() * ax.kvs.size() *
                           ax.q_tokens.size() * ax.page_sizes.size());
  CHECK(full.size() == 2160);
  std::set<std::string> names;
  for (const pb::Case& c : full) names.insert(c.name);
  CHECK(names.size() == full.size());
  for (const pb::Case& c : grid("headline")) CHECK_MESSAGE(names.count(c.name), c.name);

  const auto classic = grid("classic");
  CHECK(classic.size() == 12);
  for (const pb::Case& c : classic) {
    CHECK(c.head_dim == 128);
    CHECK(c.heads_q == 32);
    CHECK(c.heads_kv == 8);
    CHECK(c.seqlen_q == 1);
    CHECK(!c.paged());
  }
  CHECK(grid("quick").size() == 2);
  std::vector<pb::Case> g;
  std::string why;
  CHECK(!pb::decode_grid("everything", &g, &why));
  CHECK(why.find("everything") != std::string::npos);

  const pb::Case p = pb::decode_case({128, 32, 8, 8, 8192, 1, 16});
  CHECK(p.name == "decode/d128/b8/kv8192/hq32hkv8/q1/page16");
  CHECK(p.blocks_per_seq() == 512);
  CHECK(p.num_pages() == 8 * 512);
  CHECK(p.kv_elems() == int64_t(8) * 8192 * 8 * 128);
  CHECK(p.kv_bytes() == doctest::Approx(4.0 * 8 * 8192 * 8 * 128));
}

TEST_CASE("bench grid: --benchmark_filter selects cells like Google Benchmark (CPU)") {
  std::string why;
  CHECK(pb::name_matches("fwd/d128/causal/s4096/b4h16/cudnn", ""));
  CHECK(pb::name_matches("fwd/d128/causal/s4096/b4h16/cudnn", "all"));
  CHECK(pb::name_matches("fwd/d128/causal/s4096/b4h16/cudnn", "fwd/d128/.*/s4096/"));
  CHECK(!pb::name_matches("fwd/d64/causal/s4096/b4h32/cudnn", "fwd/d128/.*/s4096/"));
  CHECK(!pb::name_matches("decode/d128/b8/kv8192/hq32hkv8/q1/page16/cudnn", "-page"));
  CHECK(pb::name_matches("decode/d128/b8/kv8192/hq32hkv8/q1/contig/cudnn", "-page"));
  CHECK(pb::name_matches("decode/d64/b1/kv8192/hq32hkv8/q1/contig/ptxfmha", "decode/d(64|256)/"));
  CHECK(!pb::name_matches("x", "(", &why));
  CHECK(why.find("malformed") != std::string::npos);
}

TEST_CASE("bench memory plan: cells that do not fit are skipped, arenas hold the rest (CPU)") {
  const double gib = double(1 << 30);
  const pb::Case big = pb::decode_case({256, 32, 8, 128, 131072, 1, 0});    // 128 GiB of K+V
  const pb::Case mid = pb::decode_case({128, 32, 8, 128, 131072, 1, 0});    // 64 GiB
  const pb::Case small = pb::decode_case({128, 32, 8, 1, 4096, 1, 16});     // 8 MiB: rotates
  const pb::Case pre = pb::prefill_case(128, false, 4096);
  CHECK(big.kv_bytes() == doctest::Approx(128 * gib));
  const std::vector<pb::Case> cases = {pre, big, mid, small};
  const size_t l2 = 50u << 20;

  pb::MemoryPlan plan = pb::plan_memory(cases, l2, 80 * gib);  // an H100-sized budget
  REQUIRE(plan.skip.size() == 4);
  CHECK(plan.skip[0].empty());
  CHECK(plan.skip[1].find("does not fit") != std::string::npos);
  CHECK(plan.skip[2].empty());
  CHECK(plan.skip[3].empty());
  const pb::ArenaSize* d = plan.arena("decode");
  REQUIRE(d != nullptr);
  CHECK(d->kv_elems == mid.kv_elems());
  CHECK(d->kv_elems >= small.kv_elems() * pb::wanted_sets(small, l2));
  CHECK(pb::wanted_sets(small, l2) > 1);
  CHECK(pb::wanted_sets(mid, l2) == 1);
  const pb::ArenaSize* p = plan.arena("fwd");
  REQUIRE(p != nullptr);
  CHECK(p->q_elems == pre.q_elems());
  CHECK(plan.arenas[0].bytes() + plan.arenas[1].bytes() <= 80 * gib);

  CHECK_FALSE(plan.in_turn);

  // Everything fits in a large budget; nothing fits in none.
  plan = pb::plan_memory(cases, l2, 1e15);
  for (const std::string& s : plan.skip) CHECK(s.empty());
  plan = pb::plan_memory(cases, l2, 0);
  for (const std::string& s : plan.skip) CHECK(!s.empty());
}

TEST_CASE("bench memory plan: a family whose arena does not fit beside another's runs in turn (CPU)") {
  const double gib = double(1 << 30);
  // A 64 GiB bf16 decode cell with its e4m3 variant (the arena allots two bytes per element):
  // each fits in 80 GiB alone, not together. Until 2026-12-03 the variant was skipped.
  const pb::Case mid = pb::decode_case({128, 32, 8, 128, 131072, 1, 0});
  const pb::Case small = pb::decode_case({128, 32, 8, 1, 4096, 1, 16});
  std::vector<pb::Case> cases = pb::decode_variant_cells({mid, small}, {"default", "e4m3"});
  REQUIRE(cases.size() == 4);
  CHECK(cases[1].family == "decode_e4m3");
  const size_t l2 = 50u << 20;
  pb::MemoryPlan plan = pb::plan_memory(cases, l2, 80 * gib);
  for (const std::string& s : plan.skip) CHECK(s.empty());
  CHECK(plan.in_turn);
  REQUIRE(plan.arena("decode_e4m3") != nullptr);
  CHECK(plan.arena("decode_e4m3")->kv_elems == mid.kv_elems());
  CHECK(plan.arena("decode")->kv_elems == mid.kv_elems());
  // Grouped by family, first appearance first, stable within a family.
  pb::group_by_family(&cases);
  CHECK(cases[0].name == mid.name);
  CHECK(cases[1].name == small.name);
  CHECK(cases[2].name == mid.name + "/v=e4m3");
  CHECK(cases[3].name == small.name + "/v=e4m3");
  // Both fit together in a larger budget: no turns.
  CHECK_FALSE(pb::plan_memory(cases, l2, 200 * gib).in_turn);
}

TEST_CASE("bench estimate: the run-time estimate adds up per runner, batch and plan (CPU)") {
  pb::EstimateParams p;
  p.samples = 20;
  p.batch_ms = 5;
  p.methods = 1;
  p.autotune = false;
  p.case_fixed_s = 0.5;
  p.fill_gib_per_s = 2;
  p.ceiling = true;
  const pb::Case pre = pb::prefill_case(128, false, 4096);
  const pb::Case dec = pb::decode_case({});
  const std::vector<std::string> none;
  // prefill: two runners, (samples + 4 warm-up) batches each
  CHECK(pb::estimate_seconds({pre}, none, 0, p) == doctest::Approx(0.5 + 2 * 24 * 0.005));
  // decode: the read ceiling is a third runner
  CHECK(pb::estimate_seconds({dec}, none, 0, p) == doctest::Approx(0.5 + 3 * 24 * 0.005));
  // both methods double the runners
  p.methods = 2;
  CHECK(pb::estimate_seconds({pre}, none, 0, p) == doctest::Approx(0.5 + 4 * 24 * 0.005));
  p.methods = 1;
  // autotuning adds plans x (build + tuning batches)
  p.autotune = true;
  p.plans_guess = 3;
  p.plan_build_s = 0.5;
  p.tune_samples = 6;
  CHECK(pb::estimate_seconds({pre}, none, 0, p) ==
        doctest::Approx(0.5 + 2 * 24 * 0.005 + 3 * (0.5 + 10 * 0.005)));
  // without the cuDNN side (--ptxfmha_cudnn=0): one runner less, nothing built or tuned
  p.cudnn = false;
  CHECK(pb::estimate_seconds({pre}, none, 0, p) == doctest::Approx(0.5 + 1 * 24 * 0.005));
  CHECK(pb::estimate_seconds({dec}, none, 0, p) == doctest::Approx(0.5 + 2 * 24 * 0.005));
  p.cudnn = true;
  // additive over cells; skipped cells cost nothing; filling costs bytes / rate
  const double one = pb::estimate_seconds({pre}, none, 0, p);
  CHECK(pb::estimate_seconds({pre, pre, dec}, none, 0, p) ==
        doctest::Approx(2 * one + pb::estimate_seconds({dec}, none, 0, p)));
  CHECK(pb::estimate_seconds({pre, dec}, {"", "does not fit"}, 0, p) == doctest::Approx(one));
  CHECK(pb::estimate_seconds({}, none, 4.0 * double(1 << 30), p) == doctest::Approx(2.0));
}
