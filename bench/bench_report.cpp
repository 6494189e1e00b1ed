#include "bench_report.h"

#include <algorithm>
#include <cmath>

#include "bench_ceiling.h"
#include "bench_options.h"

namespace ptxfmha_bench {

std::string fmt_num(double v, const char* f) {
  if (std::isnan(v)) return "-";
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

namespace {

// Work per call in the table's unit: TFLOP (prefill) or GB of K+V read (decode).
double work(const Case& c) { return c.decode() ? c.kv_bytes() / 1e9 : c.flops() / 1e12; }
double rate(const Case& c, double ms) { return work(c) / (ms * 1e-3); }

double median_of(const CaseState& cs, int side, TimingMethod m) {
  return cs.timing[side][int(m)].stats.median_ms;
}

std::string short_reason(const std::string& s) {
  std::string t = s;
  std::replace(t.begin(), t.end(), '\n', ' ');
  return t.size() > 90 ? t.substr(0, 87) + "..." : t;
}

// The cuDNN plan in a few characters: "eng8 k[...]" and how it was chosen.
std::string plan_short(const CaseState& cs) {
  if (cs.cudnn_chosen < 0) return "-";
  const PlanCandidate& p = cs.cudnn_plans[cs.cudnn_chosen];
  std::string s = p.engine_id >= 0 ? "eng" + std::to_string(p.engine_id) : p.tag;
  int timed = 0;
  for (const PlanCandidate& k : cs.cudnn_plans) timed += k.excluded.empty() && k.median_ms > 0;
  if (timed > 1) s += "/" + std::to_string(timed);
  return s;
}

}  // namespace

void report_entry(benchmark::State& state, const Case& c, const CaseState& cs, int side) {
  const MethodTiming& t = cs.headline(side);
  std::size_t i = 0;
  for (auto _ : state) {
    if (i >= t.batch_means.size()) {
      state.SkipWithError(t.error.empty() ? "fewer timed batches than samples" : t.error.c_str());
      return;
    }
    state.SetIterationTime(t.batch_means[i++] * 1e-3);
  }
  const double med = t.stats.median_ms;
  auto& k = state.counters;
  if (c.decode()) {
    k["GBps"] = c.bytes() / (med * 1e-3) / 1e9;  // Q+K+V+O, as in the runs before 2026-12
    k["KV_GBps"] = rate(c, med);
  } else {
    k["TFLOPS"] = rate(c, med);
  }
  k["median_us"] = med * 1e3;
  k["min_us"] = t.stats.min_ms * 1e3;
  k["p10_us"] = t.stats.p10_ms * 1e3;
  k["p90_us"] = t.stats.p90_ms * 1e3;
  k["launches"] = double(t.reps) * double(t.batch_means.size());
  k["sets"] = cs.nsets;
  k["reps"] = t.reps;
  if (t.gpu.n > 0) {
    k["sm_mhz"] = t.gpu.mhz;
    k["watts"] = t.gpu.watts;
  }
  // The other timing method (--ptxfmha_timing=both), suffixed with its name.
  for (TimingMethod m : g_opt.methods) {
    if (m == g_opt.headline()) continue;
    const MethodTiming& o = cs.timing[side][int(m)];
    if (!(o.stats.median_ms > 0)) continue;
    const std::string sfx = std::string("_") + method_name(m);
    k[(c.decode() ? "KV_GBps" : "TFLOPS") + sfx] = rate(c, o.stats.median_ms);
    k["median_us" + sfx] = o.stats.median_ms * 1e3;
    if (o.gpu.n > 0) k["sm_mhz" + sfx] = o.gpu.mhz;
    if (side == kOurs && median_of(cs, kCudnn, m) > 0)
      k["vs_cudnn" + sfx] = median_of(cs, kCudnn, m) / o.stats.median_ms;
  }
  // Decode: against the read ceiling measured beside it, and the launch floor.
  const double ceil_ms = cs.headline(kCeiling).stats.median_ms;
  if (c.decode() && ceil_ms > 0) {
    k["ceiling_GBps"] = rate(c, ceil_ms);
    k["pct_ceiling"] = 100.0 * ceil_ms / med;
    k["read_us"] = ceil_ms * 1e3;
    const double floor_ms = read_ceiling().launch_floor_ms();
    if (floor_ms > 0) {
      k["launch_floor_us"] = floor_ms * 1e3;
      k["bound_us"] = std::max(ceil_ms, floor_ms) * 1e3;
    }
  }
  if (side == kOurs) {
    const double cud = cs.headline(kCudnn).stats.median_ms;
    if (cud > 0) k["vs_cudnn"] = cud / med;
    if (cs.ours.splits > 0) {  // decode: the library's plan
      k["splits"] = cs.ours.splits;
      k["split_ctas"] = double(cs.ours.split_ctas);
    }
    if (cs.ours.cpasync >= 0) k["cpasync"] = cs.ours.cpasync;  // decode: which producer loads the cache
    for (std::size_t i = 0; i < cs.probe_timing.size(); ++i) {  // decode read probes
      const double pm = cs.probe_timing[i].stats.median_ms;
      if (!(pm > 0)) continue;
      const std::string n = "probe_" + g_opt.read_probes[i].name;
      k[n + "_us"] = pm * 1e3;
      k[n + "_GBps"] = rate(c, pm);
      k[n + "_splits"] = cs.probe_launch[i].grid[1];
    }
    state.SetLabel((cs.ours.kernel ? std::string(cs.ours.kernel->name) : std::string("?")) + "; " +
                   cs.ours_check);
  } else {
    if (cs.cudnn_chosen >= 0) {
      const PlanCandidate& p = cs.cudnn_plans[cs.cudnn_chosen];
      k["cudnn_engine"] = double(p.engine_id);
      int timed = 0;
      for (const PlanCandidate& q : cs.cudnn_plans) timed += q.excluded.empty() && q.median_ms > 0;
      k["cudnn_plans_timed"] = timed;
      k["cudnn_plans_offered"] = double(cs.cudnn_plans.size());
    }
    state.SetLabel("cuDNN " + cudnn_library().version_string() + " " +
                   (cs.cudnn_chosen >= 0 ? cs.cudnn_plans[cs.cudnn_chosen].tag : std::string("?")) +
                   " " + cs.cudnn_choice + "; " + cs.cudnn_check);
  }
}

namespace {

std::string notes_of(const CaseState& cs) {
  if (!cs.prepare_error.empty()) return short_reason(cs.prepare_error);
  std::string n;
  auto add = [&n](const char* who, const std::string& why) {
    if (!why.empty()) n += (n.empty() ? "" : " | ") + std::string(who) + ": " + short_reason(why);
  };
  add("ours", !cs.ours_skip.empty() ? cs.ours_skip : cs.headline(kOurs).error);
  add("cuDNN", !cs.cudnn_skip.empty() ? cs.cudnn_skip : cs.headline(kCudnn).error);
  return n;
}

void print_block(FILE* f, const std::vector<Row>& rows, bool decode) {
  bool any = false;
  for (const Row& r : rows) any |= r.c->decode() == decode;
  if (!any) return;
  const TimingMethod hm = g_opt.headline();
  TimingMethod other = hm;
  for (TimingMethod m : g_opt.methods) if (m != hm) other = m;
  const bool two = other != hm;
  const std::string oname = std::string("ratio ") + method_name(other);
  if (decode)
    std::fprintf(f, "\n%-52s %8s %8s %7s %-12s %-9s %8s %-15s %-9s %-10s %s\n", "decode (K+V GB/s)",
                 "ours", "cuDNN", "ratio", two ? oname.c_str() : "", "%ceil o/c", "ceiling",
                 "b1 us o/bound", "MHz o/c", "cuDNN plan", "notes");
  else
    std::fprintf(f, "\n%-44s %8s %8s %7s %-12s %-9s %-10s %s\n", "prefill, backward (TFLOPS; bwd 2.5x fwd)", "ours", "cuDNN",
                 "ratio", two ? oname.c_str() : "", "MHz o/c", "cuDNN plan", "notes");
  for (const Row& r : rows) {
    const Case& c = *r.c;
    if (c.decode() != decode) continue;
    const CaseState& cs = *r.cs;
    const double o = median_of(cs, kOurs, hm), d = median_of(cs, kCudnn, hm);
    const std::string ratio2 = two ? fmt_num(median_of(cs, kCudnn, other) / median_of(cs, kOurs, other), "%.3f") : "";
    auto mhz = [&](int side) {
      const MethodTiming& t = cs.headline(side);
      return t.gpu.n ? fmt_num(t.gpu.mhz, "%.0f") : std::string("-");
    };
    const std::string clocks = mhz(kOurs) + "/" + mhz(kCudnn);
    if (decode) {
      const double ce = median_of(cs, kCeiling, hm);
      const std::string pct = fmt_num(100 * ce / o, "%.0f") + "/" + fmt_num(100 * ce / d, "%.0f");
      std::string lat;
      if (c.batch == 1) {
        const double fl = read_ceiling().launch_floor_ms();
        lat = fmt_num(o * 1e3, "%.1f") + "/" + fmt_num(std::max(ce, fl) * 1e3, "%.1f");
      }
      std::fprintf(f, "%-52s %8s %8s %7s %-12s %-9s %8s %-15s %-9s %-10s %s\n", c.shape.c_str(),
                   fmt_num(rate(c, o), "%.0f").c_str(), fmt_num(rate(c, d), "%.0f").c_str(),
                   fmt_num(d / o, "%.3f").c_str(), ratio2.c_str(), pct.c_str(),
                   fmt_num(rate(c, ce), "%.0f").c_str(), lat.c_str(), clocks.c_str(),
                   plan_short(cs).c_str(), notes_of(cs).c_str());
    } else {
      std::fprintf(f, "%-44s %8s %8s %7s %-12s %-9s %-10s %s\n", c.shape.c_str(),
                   fmt_num(rate(c, o), "%.1f").c_str(), fmt_num(rate(c, d), "%.1f").c_str(),
                   fmt_num(d / o, "%.3f").c_str(), ratio2.c_str(), clocks.c_str(),
                   plan_short(cs).c_str(), notes_of(cs).c_str());
    }
  }
}

// Forward + backward (a training step's attention): for each backward cell whose forward cell
// ran in the same run, the sum of the two medians per side (each interleaved with cuDNN's);
// FLOPs 3.5 x the forward's.
void print_fwd_bwd_block(FILE* f, const std::vector<Row>& rows) {
  const TimingMethod hm = g_opt.headline();
  bool header = false;
  for (const Row& r : rows) {
    const Case& b = *r.c;
    if (!b.grads) continue;
    const std::string fwd_name = "fwd" + b.name.substr(3, b.name.size() - 3 - (b.deterministic ? 4 : 0));
    const Row* fr = nullptr;
    for (const Row& x : rows)
      if (x.c->name == fwd_name) fr = &x;
    if (!fr) continue;
    if (!header) {
      std::fprintf(f, "\n%-44s %8s %8s %7s %9s %9s\n", "forward + backward (TFLOPS, 3.5 x fwd FLOPs)",
                   "ours", "cuDNN", "ratio", "ours ms", "cuDNN ms");
      header = true;
    }
    const double o = median_of(*fr->cs, kOurs, hm) + median_of(*r.cs, kOurs, hm);
    const double d = median_of(*fr->cs, kCudnn, hm) + median_of(*r.cs, kCudnn, hm);
    const double tflop = fr->c->flops() * 3.5 / 1e12;
    const std::string shape = "fwd+bwd" + b.shape.substr(3);
    std::fprintf(f, "%-44s %8s %8s %7s %9s %9s\n", shape.c_str(), fmt_num(tflop / (o * 1e-3), "%.1f").c_str(),
                 fmt_num(tflop / (d * 1e-3), "%.1f").c_str(), fmt_num(d / o, "%.3f").c_str(),
                 fmt_num(o, "%.3f").c_str(), fmt_num(d, "%.3f").c_str());
  }
}

}  // namespace

void print_table(FILE* f, const std::vector<Row>& rows) {
  std::fprintf(f, "\nptx-fmha vs cuDNN on %s (%s), cuDNN %s; median per launch, %s\n",
               g_device_name.c_str(), g_dev.arch ? g_dev.arch : "?",
               cudnn_library().version_string().c_str(), method_caption(g_opt.headline()));
  std::fprintf(f, "cuDNN baseline: %s\n",
               g_opt.autotune ? "autotuned: the fastest of the plans heuristics modes A, B and "
                                "fallback offer (engine / plans timed in 'cuDNN plan')"
                              : "the heuristics' first plan (mode A), not tuned");
  if (g_opt.perturb_scale != 1.0)
    std::fprintf(f, "PERTURBED RUN: ptx-fmha softmax scale x%g (PTXFMHA_BENCH_PERTURB_SCALE)\n",
                 g_opt.perturb_scale);
  print_block(f, rows, false);
  print_fwd_bwd_block(f, rows);
  print_block(f, rows, true);
  std::fprintf(f, "\nratio = cuDNN time / ptx-fmha time (> 1: ptx-fmha faster); MHz o/c = mean SM "
               "clock during our / cuDNN's batches (interleaved)\n");
  bool decode = false;
  for (const Row& r : rows) decode |= r.c->decode();
  if (decode) {
    ReadCeiling& rc = read_ceiling();
    std::fprintf(f, "decode: GB/s of K+V read; ceiling = a read-only streaming kernel over the same "
                    "bytes, timed beside both sides (%s); %%ceil o/c = ceiling time / our, cuDNN's "
                    "time; b1 us = our latency / max(read time at the ceiling, launch floor %s us)\n",
                 rc.config().c_str(), fmt_num(rc.ok() ? rc.launch_floor_ms() * 1e3 : NAN, "%.2f").c_str());
  }
  unsigned long long reasons = 0;
  for (const Row& r : rows)
    for (int s = 0; s < kNumSides; ++s) reasons |= r.cs->headline(s).gpu.reasons;
  if (g_monitor.ok() || reasons)
    std::fprintf(f, "clock limits seen while timing: %s\n",
                 reasons ? GpuMonitor::reasons_text(reasons).c_str() : "none");
  else
    std::fprintf(f, "clocks not sampled: %s\n", g_monitor.why().c_str());
  if (!g_fatal.empty()) std::fprintf(f, "STOPPED: %s\n", g_fatal.c_str());
}

}  // namespace ptxfmha_bench
