// ptxfmha_bench: ptx-fmha against cuDNN's fused SDPA forward (and, --ptxfmha_suite=bwd, its
// backward), same process, same inputs.
//
// Cases (bench_case.h): prefill on the FlashAttention-3 paper's grid (16k tokens, hidden 2048,
// seqlen 512 ... 16k, head dims 64/128/256, causal and not) and decode grids
// (--ptxfmha_decode_grid: head dims 64/128/256, heads 32/32 ... 128/8, batch 1 ... 128,
// kv 1k ... 128k, 1 or 4 query tokens, contiguous or paged caches). bf16, [batch, seq, heads,
// head_dim], LSE on for both sides.
//
// Each case registers two Google Benchmark entries, .../cudnn first, then .../ptxfmha. The
// first one to run prepares the case (bench_gate.h: ptx-fmha's plan, cuDNN's plans gated and
// autotuned, the correctness gate), then both sides (and, for decode, the read-ceiling kernel)
// are timed together, interleaved, with clocks sampled (bench_timing.h); each entry reports
// its side (bench_report.h). bench/METHOD.md describes the method; --ptxfmha_help the flags.
// A side that cannot run or fails its check reports why (error_message in the JSON), and the
// other side is still timed.
//
// Environment: PTXFMHA_BENCH_PERTURB_SCALE=f multiplies ptx-fmha's softmax scale by f in this
// binary only, to show the gate refusing a wrong kernel; PTXFMHA_CUDNN_LIB (cudnn_sdpa.h);
// PTXFMHA_BENCH_CUBIN_DIR (the read-ceiling kernel, bench_ceiling.h).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "bench_ceiling.h"
#include "bench_device.h"
#include "bench_family.h"
#include "bench_gate.h"
#include "bench_options.h"
#include "bench_report.h"
#include "bench_timing.h"
#include "driver.h"

namespace pb = ptxfmha_bench;

namespace {

using pb::g_opt;

// The cells of this run, filtered like Google Benchmark's entries will be.
std::vector<pb::Case> make_cases() {
  std::vector<pb::Case> all, out;
  if (g_opt.suite != "decode") all = pb::prefill_grid(g_opt.head_dims, g_opt.seqlens);
  if (g_opt.suite == "bwd") {  // the forward cells too: the table adds forward + backward
    const std::vector<pb::Case> b = pb::backward_grid(g_opt.head_dims, g_opt.seqlens);
    all.insert(all.end(), b.begin(), b.end());
  }
  if (g_opt.suite == "attn") {  // serving features + the plain grid's EXT-row twins (family_attn.cpp)
    const std::vector<pb::Case> a = pb::attn_grid(g_opt.head_dims, g_opt.seqlens);
    all.insert(all.end(), a.begin(), a.end());
  }
  if (g_opt.suite != "prefill" && g_opt.suite != "bwd" && g_opt.suite != "attn") {
    std::vector<pb::Case> d;
    std::string why;
    pb::decode_grid(g_opt.decode_grid, &d, &why);
    if (!g_opt.decode_variants.empty()) d = pb::decode_variant_cells(d, g_opt.decode_variants);
    all.insert(all.end(), d.begin(), d.end());
  }
  for (pb::Case& c : all) {
    if (!pb::family_for(c.family)) {
      std::fprintf(stderr, "ptxfmha_bench: no family '%s' registered for %s\n", c.family.c_str(),
                   c.name.c_str());
      std::exit(2);
    }
    // A case runs when either of its entries matches the filter.
    std::string why;
    if (pb::name_matches(c.name + "/cudnn", g_opt.filter, &why) ||
        pb::name_matches(c.name + "/ptxfmha", g_opt.filter, &why))
      out.push_back(std::move(c));
    if (!why.empty()) {
      std::fprintf(stderr, "ptxfmha_bench: --benchmark_filter: %s\n", why.c_str());
      std::exit(2);
    }
  }
  return out;
}

std::vector<pb::Case> g_cases;
std::map<std::string, pb::CaseState> g_states;
std::vector<pb::Row> g_rows;
int g_prepared_count = 0;

pb::CaseState& state_for(std::size_t i) {
  const pb::Case& c = g_cases[i];
  pb::CaseState& cs = g_states[c.name];
  if (!cs.prepared && pb::g_fatal.empty()) {
    cs.prepared = true;
    const int total = int(g_cases.size());
    if (!pb::g_memory.skip[i].empty()) {
      cs.prepare_error = pb::g_memory.skip[i];
      std::fprintf(stderr, "[%d/%d] %s: skipped, %s\n", ++g_prepared_count, total, c.name.c_str(),
                   cs.prepare_error.c_str());
    } else {
      try {
        pb::prepare_case(c, cs, ++g_prepared_count, total);
      } catch (const std::exception& ex) {
        cs.prepare_error = std::string("setup failed: ") + ex.what();
        std::fprintf(stderr, "  %s: %s\n", c.name.c_str(), cs.prepare_error.c_str());
      }
    }
    g_rows.push_back({&c, &cs});
  }
  return cs;
}

void run_entry(benchmark::State& state, std::size_t i, int side) {
  if (!pb::g_fatal.empty()) {
    state.SkipWithError(pb::g_fatal.c_str());
    return;
  }
  const pb::Case& c = g_cases[i];
  pb::CaseState& cs = state_for(i);
  const std::string& skip = !pb::g_fatal.empty()          ? pb::g_fatal
                            : !cs.prepare_error.empty() ? cs.prepare_error
                            : side == pb::kOurs         ? cs.ours_skip
                                                        : cs.cudnn_skip;
  if (!skip.empty()) {
    state.SkipWithError(skip.c_str());
    return;
  }
  if (!cs.measured) {
    try {
      pb::measure_case(c, cs);
    } catch (const std::exception& ex) {
      cs.timing[side][int(g_opt.headline())].error = ex.what();
    }
  }
  const pb::MethodTiming& t = cs.headline(side);
  if (t.samples.empty()) {
    state.SkipWithError(t.error.empty() ? "not timed" : t.error.c_str());
    return;
  }
  pb::report_entry(state, c, cs, side);
}

std::string now_utc() {
  std::time_t t = std::time(nullptr);
  char b[64];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return b;
}

pb::EstimateParams estimate_params() {
  pb::EstimateParams p;
  p.samples = g_opt.samples;
  p.batch_ms = g_opt.batch_ms;
  p.methods = int(g_opt.methods.size());
  p.cudnn = g_opt.cudnn;
  p.autotune = g_opt.autotune;
  p.tune_samples = g_opt.tune_samples;
  p.plans_guess = std::min(p.plans_guess, g_opt.max_plans);
  p.ceiling = g_opt.ceiling;
  return p;
}

void add_context(const pb::CudnnLibrary& cud) {
  const auto& d = ptxfmha::drv();
  benchmark::AddCustomContext("ptxfmha_version", ptxfmha_version());
  benchmark::AddCustomContext("device", pb::g_device_name);
  benchmark::AddCustomContext("compute_capability", std::to_string(pb::g_dev.cc_major) + "." +
                                                        std::to_string(pb::g_dev.cc_minor));
  benchmark::AddCustomContext("arch", pb::g_dev.arch ? pb::g_dev.arch : "none");
  benchmark::AddCustomContext("sms", std::to_string(pb::g_dev.num_sms));
  benchmark::AddCustomContext("l2_bytes", std::to_string(pb::g_l2_bytes));
  benchmark::AddCustomContext("cuda_driver_version", std::to_string(d.driver_version));
  benchmark::AddCustomContext("cudnn_version", cud.version_string());
  benchmark::AddCustomContext("cudnn_library", cud.loaded ? cud.path : cud.why);
  benchmark::AddCustomContext("cudnn_headers_version", std::to_string(pb::cudnn_compiled_version()));
  benchmark::AddCustomContext("cudnn_frontend_version", std::to_string(pb::cudnn_frontend_version()));
  benchmark::AddCustomContext("cudnn_baseline", !g_opt.cudnn
      ? std::string("none (--ptxfmha_cudnn=0: ptx-fmha and the decode read ceiling only)")
      : g_opt.autotune
      ? "autotuned: fastest of heuristics modes A, B, fallback (max " + std::to_string(g_opt.max_plans) +
            " plans, " + std::to_string(g_opt.tune_samples) + " batches each)"
      : std::string("heuristics' first plan (mode A), not tuned"));
  benchmark::AddCustomContext("cubin_dir", ptxfmha_get_cubin_dir());
  benchmark::AddCustomContext("run_started_utc", now_utc());
  std::string timing = "median per launch; headline: ";
  timing += pb::method_caption(g_opt.headline());
  for (pb::TimingMethod m : g_opt.methods)
    if (m != g_opt.headline()) timing += std::string("; also ") + pb::method_caption(m) + " (_" + pb::method_name(m) + " counters)";
  timing += "; ours and cuDNN interleaved; inputs rotated to exceed 2x L2";
  benchmark::AddCustomContext("timing", timing);
  benchmark::AddCustomContext("timing_method", pb::method_name(g_opt.headline()));
  benchmark::AddCustomContext("decode_grid", g_opt.decode_grid);
  benchmark::AddCustomContext("perturb_scale", pb::fmt_num(g_opt.perturb_scale, "%g"));
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress visible through pipes
  const auto t_start = std::chrono::steady_clock::now();
  // With --benchmark_format=json (or csv) stdout is machine-readable: the table goes to stderr.
  // --benchmark_filter also selects the cells before anything is sized: read it first.
  bool table_to_stderr = false;
  std::string filter;
  for (int i = 1; i < argc; ++i) {
    if (!std::strncmp(argv[i], "--benchmark_format=", 19) && std::strcmp(argv[i] + 19, "console"))
      table_to_stderr = true;
    if (!std::strncmp(argv[i], "--benchmark_filter=", 19)) filter = argv[i] + 19;
  }
  benchmark::Initialize(&argc, argv);
  pb::parse_options(argc, argv, filter);
  g_cases = make_cases();
  FILE* out = table_to_stderr ? stderr : stdout;

  if (g_opt.list) {
    for (const pb::Case& c : g_cases) std::printf("%s\n", c.name.c_str());
    const std::vector<std::string> none(g_cases.size());
    std::printf("%zu cells; estimated %.0f s without input filling (the memory plan needs the device)\n",
                g_cases.size(), pb::estimate_seconds(g_cases, none, 0.0, estimate_params()));
    return 0;
  }

  std::string init_msg;
  ptxfmha_status st = ptxfmha::driver_init(&init_msg);
  if (st == PTXFMHA_OK) st = ptxfmha::acquire_context(&pb::g_dev);
  if (st != PTXFMHA_OK) {
    std::fprintf(out, "ptxfmha_bench: no usable GPU (%s: %s).\n"
                 "Running the benchmark needs a GPU; nothing was measured.\n",
                 ptxfmha_status_string(st), !init_msg.empty() ? init_msg.c_str() : ptxfmha_last_error());
    return 0;
  }
  const auto& d = ptxfmha::drv();
  std::size_t free_b = 0, total_b = 0;
  {
    char name[256] = {0};
    d.cuDeviceGetName(name, sizeof name, pb::g_dev.device);
    pb::g_device_name = name;
    int l2 = 0;
    d.cuDeviceGetAttribute(&l2, CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, pb::g_dev.device);
    pb::g_l2_bytes = std::size_t(l2);
    char bus[32] = {0};
    if (d.cuDeviceGetPCIBusId(bus, sizeof bus, pb::g_dev.device) == CUDA_SUCCESS) pb::g_monitor.open(bus);
    d.cuMemGetInfo(&free_b, &total_b);
  }
  try {
    pb::cu_check(d.cuStreamCreate(&pb::g_stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "ptxfmha_bench: %s\n", ex.what());
    return 1;
  }

  const pb::CudnnLibrary& cud = pb::cudnn_library();
  add_context(cud);
  if (g_opt.perturb_scale != 1.0)
    std::fprintf(stderr, "PERTURBED RUN: ptx-fmha softmax scale x%g; the check must refuse it\n",
                 g_opt.perturb_scale);
  std::fprintf(stderr, "ptxfmha_bench: %s (%s, %d SMs, L2 %zu MiB, %.1f of %.1f GiB free), cuDNN %s%s\n",
               pb::g_device_name.c_str(), pb::g_dev.arch ? pb::g_dev.arch : "no ptx-fmha kernels",
               pb::g_dev.num_sms, pb::g_l2_bytes >> 20, free_b / double(1 << 30),
               total_b / double(1 << 30), cud.version_string().c_str(),
               cud.loaded ? (" at " + cud.path).c_str() : "");

  // Arenas within the free memory less a margin (workspaces, cuDNN, the context).
  const double budget = double(free_b) - g_opt.mem_margin_gib * double(1 << 30);
  pb::g_memory = pb::plan_memory(g_cases, pb::g_l2_bytes, budget);
  if (pb::g_memory.in_turn) {  // one family's arena at a time: run each family's cases together
    pb::group_by_family(&g_cases);
    pb::g_memory = pb::plan_memory(g_cases, pb::g_l2_bytes, budget);
    std::fprintf(stderr, "ptxfmha_bench: the families' inputs do not fit together; cells run "
                 "grouped by family, one family's inputs on the device at a time\n");
  }
  double arena_bytes = 0;
  for (const pb::ArenaSize& a : pb::g_memory.arenas) arena_bytes += a.bytes();
  int skipped = 0;
  for (const std::string& s : pb::g_memory.skip) skipped += !s.empty();
  const double est = pb::estimate_seconds(g_cases, pb::g_memory.skip, arena_bytes, estimate_params());
  std::fprintf(stderr, "ptxfmha_bench: %zu cells (%d do not fit in memory), %.1f GiB of inputs; "
               "estimated run time %.0f s (%.1f min)\n",
               g_cases.size(), skipped, arena_bytes / double(1 << 30), est, est / 60);
  benchmark::AddCustomContext("estimated_seconds", pb::fmt_num(est, "%.0f"));

  for (std::size_t i = 0; i < g_cases.size(); ++i) {
    for (int side : {pb::kCudnn, pb::kOurs}) {
      const std::string name = g_cases[i].name + (side == pb::kOurs ? "/ptxfmha" : "/cudnn");
      benchmark::RegisterBenchmark(name.c_str(), [i, side](benchmark::State& s) { run_entry(s, i, side); })
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond)
          ->Iterations(g_opt.samples);
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  const double took = ptxfmha_bench::seconds_since(t_start);
  pb::print_table(out, g_rows);
  std::fprintf(out, "run time %.0f s (estimated %.0f s)\n", took, est);
  if (!g_opt.table_path.empty()) {
    if (FILE* f = std::fopen(g_opt.table_path.c_str(), "w")) {
      pb::print_table(f, g_rows);
      std::fprintf(f, "run time %.0f s (estimated %.0f s)\n", took, est);
      std::fclose(f);
    } else {
      std::fprintf(stderr, "ptxfmha_bench: cannot write %s\n", g_opt.table_path.c_str());
    }
  }
  benchmark::Shutdown();
  // Free device state while the context is alive (cuDNN handles first).
  g_states.clear();
  pb::release_arenas();
  return pb::g_fatal.empty() ? 0 : 1;
}
