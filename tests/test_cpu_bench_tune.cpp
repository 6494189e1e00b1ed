// CPU tests of the cuDNN plan choice (bench/bench_stats.h): the tuner keeps the fastest plan
// that was timed, never one that was excluded (unsupported, duplicate, failed check), breaks
// ties in the heuristics' order, and reports what it chose and against what.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "bench_stats.h"

namespace pb = ptxfmha_bench;

namespace {
pb::PlanCandidate plan(int index, int64_t engine, double ms, const std::string& excluded = "") {
  pb::PlanCandidate p;
  p.index = index;
  p.engine_id = engine;
  p.tag = "eng" + std::to_string(engine) + "_k" + std::to_string(index);
  p.median_ms = ms;
  p.excluded = excluded;
  return p;
}
bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("bench cuDNN tuning: the fastest timed plan is kept (CPU)") {
  std::vector<pb::PlanCandidate> c = {plan(0, 8, 1.10), plan(1, 0, 1.00), plan(2, 9, 1.05)};
  CHECK(pb::pick_fastest(c) == 1);
  // an excluded plan never wins, however fast its (stale) time
  c.push_back(plan(3, 4, 0.50, "disagrees with the float64 reference"));
  c.push_back(plan(4, 5, 0.40, "not supported: ..."));
  CHECK(pb::pick_fastest(c) == 1);
  // an untimed plan (NAN) does not win either
  c.push_back(plan(5, 6, NAN));
  CHECK(pb::pick_fastest(c) == 1);
  // ties: the earlier plan (heuristics' order)
  std::vector<pb::PlanCandidate> t = {plan(0, 8, 1.0), plan(1, 0, 1.0)};
  CHECK(pb::pick_fastest(t) == 0);
  // order does not matter otherwise
  std::vector<pb::PlanCandidate> r = {plan(0, 8, 0.9), plan(1, 0, 1.0)};
  CHECK(pb::pick_fastest(r) == 0);
  // nothing timed
  std::vector<pb::PlanCandidate> none = {plan(0, 8, NAN), plan(1, 0, 1.0, "duplicate of #0")};
  CHECK(pb::pick_fastest(none) == -1);
  CHECK(pb::pick_fastest({}) == -1);
}

TEST_CASE("bench cuDNN tuning: the choice is reported with what it beat (CPU)") {
  std::vector<pb::PlanCandidate> c = {plan(0, 8, 1.10), plan(1, 0, 1.00), plan(2, 9, 1.05),
                                      plan(3, 4, 0.5, "not supported: shape")};
  c[1].knobs = "KERNEL_CFG=3";
  c[1].notes = "RUNTIME_COMPILATION";
  const int w = pb::pick_fastest(c);
  const std::string d = pb::describe_choice(c, w);
  CHECK(has(d, "eng0"));
  CHECK(has(d, "KERNEL_CFG=3"));
  CHECK(has(d, "RUNTIME_COMPILATION"));
  CHECK(has(d, "fastest of 3 timed"));
  CHECK(has(d, "heuristics' first eng8 +10.0%"));
  CHECK(has(d, "next eng9 +5.0%"));
  // the heuristics' first plan is the fastest: said so
  std::vector<pb::PlanCandidate> f = {plan(0, 8, 1.0), plan(1, 0, 1.2)};
  CHECK(has(pb::describe_choice(f, 0), "= heuristics' first"));
  // one plan only
  std::vector<pb::PlanCandidate> one = {plan(0, 8, NAN)};
  CHECK(has(pb::describe_choice(one, 0), "eng8"));
  CHECK(pb::describe_choice(one, -1) == "no plan");
  // the table marks the chosen plan and says why the others were not timed
  const std::string tab = pb::candidates_table(c, w);
  CHECK(has(tab, "* #1"));
  CHECK(has(tab, "not supported: shape"));
}

TEST_CASE("bench cuDNN tuning: plans far slower than the fastest first batch stop after it (CPU)") {
  // first per-launch times: 20 (fastest), 29.9 (within 1.5x: goes on), 30.1 (above: dropped),
  // 400 (dropped), NaN (failed: not kept)
  const std::vector<double> first = {29.9, 20.0, 30.1, 400.0, NAN};
  const std::vector<bool> keep = pb::keep_after_first_round(first, pb::kTuneDropAbove);
  CHECK(keep == std::vector<bool>{true, true, false, false, false});
  // off: every runner with a time goes on
  CHECK(pb::keep_after_first_round(first, 0.0) == std::vector<bool>{true, true, true, true, false});
  // the fastest is always kept, alone or not
  CHECK(pb::keep_after_first_round({5.0}, pb::kTuneDropAbove) == std::vector<bool>{true});
  CHECK(pb::keep_after_first_round({NAN, NAN}, pb::kTuneDropAbove) == std::vector<bool>{false, false});
  // a dropped plan is still a timed candidate: it can never be picked over a faster one, and
  // the table says why it has one batch
  std::vector<pb::PlanCandidate> c = {plan(0, 8, 0.030), plan(1, 2, 0.120)};
  c[1].dropped = true;
  CHECK(pb::pick_fastest(c) == 0);
  CHECK(has(pb::candidates_table(c, 0), "(1 batch: > 1.5x the fastest first batch)"));
}
