// CPU tests of the benchmark's timing arithmetic (bench/bench_stats.h): the timing-method
// flag, launches per batch, the interleaving order and the statistics of a series.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "bench_stats.h"

namespace pb = ptxfmha_bench;

TEST_CASE("bench timing: --ptxfmha_timing methods, b2b is the headline (CPU)") {
  std::vector<pb::TimingMethod> m;
  REQUIRE(pb::parse_methods("b2b", &m));
  CHECK(m == std::vector<pb::TimingMethod>{pb::TimingMethod::BackToBack});
  REQUIRE(pb::parse_methods("launch", &m));
  CHECK(m == std::vector<pb::TimingMethod>{pb::TimingMethod::PerLaunch});
  REQUIRE(pb::parse_methods("both", &m));
  CHECK(m == std::vector<pb::TimingMethod>{pb::TimingMethod::BackToBack, pb::TimingMethod::PerLaunch});
  REQUIRE(pb::parse_methods("graph,b2b", &m));
  CHECK(m == std::vector<pb::TimingMethod>{pb::TimingMethod::Graph, pb::TimingMethod::BackToBack});
  REQUIRE(pb::parse_methods("graph", &m));
  CHECK(m == std::vector<pb::TimingMethod>{pb::TimingMethod::Graph});
  for (const char* bad : {"events", "", "b2b,", ",graph", "graph,graph", "b2b,both", "graph;b2b"}) {
    CAPTURE(std::string(bad));
    CHECK(!pb::parse_methods(bad, &m));
    CHECK(m.empty());
  }
  CHECK(std::string(pb::method_name(pb::TimingMethod::BackToBack)) == "b2b");
  CHECK(std::string(pb::method_name(pb::TimingMethod::PerLaunch)) == "launch");
  CHECK(std::string(pb::method_name(pb::TimingMethod::Graph)) == "graph");
}

TEST_CASE("bench timing: launches per batch and untimed fillers (CPU)") {
  CHECK(pb::reps_for(1.0, 5.0) == 5);
  CHECK(pb::reps_for(0.3, 5.0) == 17);    // ceil(16.7)
  CHECK(pb::reps_for(10.0, 5.0) == 1);    // a launch longer than a batch: one per batch
  CHECK(pb::reps_for(0.0, 5.0) == 2000);  // capped
  CHECK(pb::reps_for(1e-9, 5.0) == 2000);
  CHECK(pb::fillers_for(1.0, 5.0) == 2);
  CHECK(pb::fillers_for(6.0, 5.0) == 0);
}

TEST_CASE("bench timing: interleaving puts every runner in the middle on average (CPU)") {
  CHECK(pb::interleave_order(0, 2) == std::vector<int>{0, 1});  // cuDNN, ours,
  CHECK(pb::interleave_order(1, 2) == std::vector<int>{1, 0});  // ours, cuDNN, ...
  for (int n : {1, 2, 3, 5}) {
    std::vector<std::vector<int>> at(n, std::vector<int>(n, 0));  // at[runner][position]
    const int rounds = 20;
    for (int r = 0; r < rounds; ++r) {
      const std::vector<int> o = pb::interleave_order(r, n);
      REQUIRE(int(o.size()) == n);
      std::vector<int> seen(n, 0);
      for (int p = 0; p < n; ++p) {
        ++seen[o[p]];
        ++at[o[p]][p];
      }
      for (int x : seen) CHECK(x == 1);  // a permutation
    }
    // every runner's mean position is the middle: none is always first (or last)
    for (int i = 0; i < n; ++i) {
      int pos_sum = 0;
      for (int p = 0; p < n; ++p) pos_sum += p * at[i][p];
      CHECK(2 * pos_sum == rounds * (n - 1));
    }
    CHECK(at[0][0] == (n == 1 ? rounds : rounds / 2));
  }
}

TEST_CASE("bench timing: median, minimum and percentiles of a series (CPU)") {
  pb::SeriesStats s = pb::series_stats({3, 1, 2});
  CHECK(s.n == 3);
  CHECK(s.median_ms == 2);
  CHECK(s.min_ms == 1);
  s = pb::series_stats({4, 1, 3, 2});
  CHECK(s.median_ms == 2.5);
  std::vector<double> v;
  for (int i = 20; i >= 1; --i) v.push_back(i);  // 1..20, reversed
  s = pb::series_stats(v);
  CHECK(s.median_ms == 10.5);
  CHECK(s.p10_ms == 2);   // nearest rank: ceil(0.1 * 20) = 2nd
  CHECK(s.p90_ms == 18);  // ceil(0.9 * 20) = 18th
  CHECK(s.min_ms == 1);
  s = pb::series_stats({7});
  CHECK((s.median_ms == 7 && s.p10_ms == 7 && s.p90_ms == 7));
  s = pb::series_stats({});
  CHECK(s.n == 0);
  CHECK(std::isnan(s.median_ms));
  // one outlier moves the mean, not the median
  s = pb::series_stats({1, 1, 1, 1, 100});
  CHECK(s.median_ms == 1);
}
