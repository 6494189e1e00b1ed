// ptxfmha_bench's own command-line flags (Google Benchmark's are parsed by it first).
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "bench_stats.h"
#include "read_probe.h"

namespace ptxfmha_bench {

struct Options {
  std::string suite = "all";            // all (prefill + decode) | prefill | decode | bwd
                                        //   (bwd: the prefill grid's forward, backward and
                                        //   deterministic backward cells)
  bool quick = false;                   // a small subset (make run QUICK=1)
  bool list = false;                    // print the cells and the estimate, run nothing
  int samples = 20;                     // timed batches per runner
  double batch_ms = 5.0;                // length of a timed batch
  int ref_rows = 8;                     // sampled reference rows per block
  std::vector<int> head_dims = {64, 128, 256};
  std::vector<int> seqlens = {512, 1024, 2048, 4096, 8192, 16384};
  std::string decode_grid = "headline"; // bench_case.h: classic | headline | full | quick
  std::vector<TimingMethod> methods = {TimingMethod::BackToBack};  // [0] is the headline
  bool cudnn = true;                    // time cuDNN beside ours (0: a survey of ours and the
                                        //   decode read ceiling, no cuDNN graph built)
  bool autotune = true;                 // time every cuDNN plan, keep the fastest
  int max_plans = 12;                   // cuDNN plans built per graph at most
  int tune_samples = 6;                 // timed batches per cuDNN plan while tuning
  bool ceiling = true;                  // decode: the read-ceiling kernel beside both sides
  double mem_margin_gib = 4.0;          // device memory left free (workspaces, cuDNN, context)
  std::string filter;                   // --benchmark_filter, applied to the cells before sizing
  std::string table_path;
  std::string fwd_kernel;               // "" = ptxfmha_fwd's own choice
  std::string bwd_kernel;               // "" = ptxfmha_bwd's own main kernel
  std::vector<std::string> decode_variants;  // --ptxfmha_decode_variants (bench_case.h); empty = none
  std::vector<ReadProbe> read_probes;   // --ptxfmha_read_probes (read_probe.h); empty = none
  double perturb_scale = 1.0;           // PTXFMHA_BENCH_PERTURB_SCALE

  TimingMethod headline() const { return methods.front(); }
  bool has(TimingMethod m) const {
    for (TimingMethod x : methods)
      if (x == m) return true;
    return false;
  }
};

extern Options g_opt;

// Parses argv (after benchmark::Initialize removed its flags); exits 2 on a bad flag.
// `gbench_filter` is the --benchmark_filter value seen before Initialize ("" if none).
void parse_options(int argc, char** argv, const std::string& gbench_filter);
// One line per flag, for --help.
void print_flags(FILE* f);

}  // namespace ptxfmha_bench
