// Pure parts of the benchmark's timing (bench_timing.cpp runs them on the GPU): the two timing
// methods, how many launches a batch has, the interleaving order, the statistics of a series,
// the choice among cuDNN's plans, and the run-time estimate. Tested without a GPU
// (tests/test_cpu_bench_timing.cpp, tests/test_cpu_bench_tune.cpp, tests/test_cpu_bench_grid.cpp).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "bench_case.h"

namespace ptxfmha_bench {

// How one timed batch of `reps` launches is bracketed by device events:
//   BackToBack  one event pair around all reps launches: a sample = elapsed / reps (how a model
//               runs: kernels queued back to back, one launch's tail overlapping the next's head)
//   PerLaunch   an event pair around every launch: a sample = one launch (the method of every run
//               up to 2026-11-25; the events themselves separate consecutive launches)
//   Graph       the reps launches captured once into a CUDA graph, replayed between one event
//               pair: a sample = elapsed / reps without the host's cost per launch (how serving
//               engines replay decode steps; on the device tool's gVisor machine one driver
//               launch costs the host about 4 us, so back-to-back launches of a kernel shorter
//               than that measure the host, not the GPU)
enum class TimingMethod { BackToBack = 0, PerLaunch = 1, Graph = 2 };
constexpr int kNumMethods = 3;
const char* method_name(TimingMethod m);     // "b2b", "launch", "graph"
const char* method_caption(TimingMethod m);  // a sentence for the table's header
// A comma-separated list of "b2b", "launch", "graph" (the first is the headline; no repeats),
// or "both" (= "b2b,launch"). False for anything else.
bool parse_methods(const std::string& s, std::vector<TimingMethod>* out);

// Launches per timed batch so that a batch lasts about batch_ms, from a single-launch estimate.
int reps_for(double est_ms, double batch_ms);
// Untimed launches queued ahead of each batch (hide the host's launch latency); none for a
// launch longer than a batch.
int fillers_for(double est_ms, double batch_ms);
// Order in which n interleaved runners time their batch in round `round`: forward on even
// rounds, reversed on odd ones, so each one goes first and last equally often
// (n = 2: cuDNN, ours, ours, cuDNN, ...).
std::vector<int> interleave_order(int round, int n);

// The samples of one runner (one side, one method) and their statistics.
struct SeriesStats {
  int n = 0;
  double median_ms = NAN, min_ms = NAN, p10_ms = NAN, p90_ms = NAN;
};
SeriesStats series_stats(const std::vector<double>& samples_ms);

// ---- cuDNN plan choice -------------------------------------------------------------------------
// One engine configuration the heuristics offered for a graph, as the tuner saw it.
struct PlanCandidate {
  int index = -1;             // position in the graph's plan list (heuristics order)
  std::string tag;            // cuDNN's engine tag, e.g. "eng8_k2=3_k3=0"
  int64_t engine_id = -1;
  std::string knobs;          // "TILE_SIZE=3 KERNEL_CFG=5" ("" when the engine has none)
  std::string notes;          // behaviour notes, e.g. "RUNTIME_COMPILATION"
  int64_t workspace = 0;      // bytes
  double build_s = 0;         // seconds cuDNN took to check and build it
  std::string excluded;       // why it was not timed ("" = timed): unsupported, duplicate, check failed
  double median_ms = NAN;     // tuning median (the headline method)
  bool dropped = false;       // timed one batch only: > kTuneDropAbove x the fastest first batch
};
// cuDNN's tuning stops timing a plan after its first batch when that batch's per-launch time
// exceeds kTuneDropAbove x the fastest first batch: it cannot win (a later batch would have to
// be 1.5x faster than its first), and the slow plans' batches are the tuning's longest (4-token
// decode cells: plans of 40-160 ms a launch beside the best one's 20-40).
constexpr double kTuneDropAbove = 1.5;
// Which runners go on after the first round: first[i] is runner i's first per-launch time (NaN:
// none, it stopped or failed and is not kept); with drop_above <= 0 every runner that has one.
std::vector<bool> keep_after_first_round(const std::vector<double>& first, double drop_above);
// Index (into the vector) of the fastest timed candidate; ties go to the earlier one
// (heuristics order). -1 when none was timed.
int pick_fastest(const std::vector<PlanCandidate>& c);
// One line for the progress log and the JSON label: the choice, how it compares with the
// heuristics' first plan and the runner-up, and how many were timed, e.g.
// "eng8 k[TILE_SIZE=3] (fastest of 3 timed; heuristics' first eng8; next eng0 +4.1%)".
std::string describe_choice(const std::vector<PlanCandidate>& c, int chosen);
// One line per candidate (index, tag, notes, time or why excluded) for the log.
std::string candidates_table(const std::vector<PlanCandidate>& c, int chosen);

// ---- run-time estimate ---------------------------------------------------------------------------
struct EstimateParams {
  int samples = 20;           // timed batches per runner
  double batch_ms = 5.0;
  int methods = 1;            // timing methods per side
  bool cudnn = true;          // the cuDNN side is timed (and tuned, with autotune)
  bool autotune = true;
  int tune_samples = 6;
  int plans_guess = 4;        // cuDNN plans a graph is assumed to offer
  double plan_build_s = 0.5;  // assumed seconds to build one cuDNN plan
  double case_fixed_s = 0.6;  // assumed set-up, correctness gate and reference per case
  double fill_gib_per_s = 2;  // assumed rate of filling the inputs
  bool ceiling = true;        // decode cases time the read-ceiling kernel too
};
// Seconds the benchmark of `cases` is expected to take (the skipped ones cost nothing), and
// the inputs' fill (arena_bytes). Printed before a run, next to the measured time after it.
double estimate_seconds(const std::vector<Case>& cases, const std::vector<std::string>& skip,
                        double arena_bytes, const EstimateParams& p);

}  // namespace ptxfmha_bench
