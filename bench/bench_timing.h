// Interleaved timing on the GPU: several runners (a side of a case with one timing method, a
// cuDNN plan while tuning, the read-ceiling kernel) take turns batch by batch, so all of them
// see the same board clock, which falls as the board heats and meets its power cap; the SM
// clock, power and clock-limit reasons are sampled (NVML) while each batch runs.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "bench_device.h"
#include "bench_stats.h"

namespace ptxfmha_bench {

struct Runner {
  std::string what;                          // for messages, e.g. "fwd/d128/... cuDNN"
  std::function<std::string(int)> launch;    // one launch on rotation set s: "" or the error
  int nsets = 1;                             // rotation sets, used in turn launch by launch
  TimingMethod method = TimingMethod::BackToBack;
  MethodTiming* out = nullptr;               // results (reps, samples, clocks, stats, error)
  int next_set = 0;
  CUgraphExec graph = nullptr;               // TimingMethod::Graph: the reps launches, captured
};

// Warm-up of every runner (a first launch, then up to three single-launch estimates that
// choose the launches per batch), then `samples` rounds in which every runner still running
// times one batch of about batch_ms, in interleave_order(). A runner that fails stops (its
// error is kept); the others go on. An asynchronous fault sets g_fatal and stops all.
// drop_above > 0: after the first round only the runners keep_after_first_round keeps go on
// (cuDNN's tuning, kTuneDropAbove); the others' one batch is their result.
void measure_interleaved(std::vector<Runner>& runners, int samples, double batch_ms, double drop_above = 0);

// Times the sides of a measured case together (cuDNN, ptx-fmha and, for decode, the read
// ceiling; every method of --ptxfmha_timing), filling cs.timing.
void measure_case(const Case& c, CaseState& cs);

// One launch of a side on rotation set s ("" or the error).
std::string launch_side(const Case& c, CaseState& cs, int side, int s);

}  // namespace ptxfmha_bench
