#include "bench_timing.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "bench_ceiling.h"
#include "bench_family.h"
#include "bench_options.h"
#include "bench_stats.h"
#include "driver.h"

namespace ptxfmha_bench {

namespace {

std::string one(Runner& r) {
  const int s = r.next_set;
  r.next_set = (r.next_set + 1) % std::max(1, r.nsets);
  return r.launch(s);
}

// TimingMethod::Graph: the runner's reps launches captured into one CUDA graph (relaxed
// capture mode: a side's library may query the driver while capturing), instantiated once.
// A launch that cannot be captured (or fails) ends the capture and is the runner's error.
std::string capture(Runner& r) {
  const auto& d = ptxfmha::drv();
  CUresult cr = d.cuStreamBeginCapture(g_stream, CU_STREAM_CAPTURE_MODE_RELAXED);
  if (cr != CUDA_SUCCESS) return ptxfmha::cu_error_message(cr, "cuStreamBeginCapture");
  std::string e;
  for (int i = 0; i < r.out->reps && e.empty(); ++i) e = one(r);
  CUgraph g = nullptr;
  cr = d.cuStreamEndCapture(g_stream, &g);
  if (e.empty() && cr != CUDA_SUCCESS) e = ptxfmha::cu_error_message(cr, "cuStreamEndCapture");
  if (e.empty() && g != nullptr) {
    cr = d.cuGraphInstantiateWithFlags(&r.graph, g, 0);
    if (cr != CUDA_SUCCESS) e = ptxfmha::cu_error_message(cr, "cuGraphInstantiateWithFlags");
  }
  if (g != nullptr) d.cuGraphDestroy(g);
  if (!e.empty()) return "CUDA graph capture: " + e;
  return "";
}

std::string graph_launch(Runner& r) {
  const CUresult cr = ptxfmha::drv().cuGraphLaunch(r.graph, g_stream);
  return cr == CUDA_SUCCESS ? "" : ptxfmha::cu_error_message(cr, "cuGraphLaunch");
}

// Warm-up (clocks, module load, cuDNN's first-run work), then a single-launch estimate: a
// filler launch keeps the queue busy so the timed one does not wait on the host. Up to 3
// estimates; one is enough for a launch longer than a batch.
std::string warm_up(Runner& r, double batch_ms) {
  std::string e = one(r);
  if (e.empty()) e = sync_stream(r.what.c_str());
  if (!e.empty()) return e;
  g_events.resize(4);
  std::vector<double> est;
  for (int i = 0; i < 3 && e.empty(); ++i) {
    e = one(r);
    g_events.record_start(i, g_stream);
    if (e.empty()) e = one(r);
    g_events.record_end(i, g_stream);
    if (e.empty()) e = sync_stream(r.what.c_str());
    if (e.empty()) est.push_back(g_events.elapsed_ms(i));
    if (e.empty() && est.back() >= batch_ms) break;
  }
  if (!e.empty()) return e;
  const double t = median(est);
  r.out->reps = reps_for(t, batch_ms);
  // Untimed launches ahead of each batch hide the host's launch latency behind GPU work; a
  // launch longer than a batch dwarfs that latency, so slow kernels skip them (and the run
  // stays short when a kernel is very slow).
  r.out->fillers = fillers_for(t, batch_ms);
  return r.method == TimingMethod::Graph ? capture(r) : "";
}

// One timed batch of a runner: "" or the error.
std::string batch(Runner& r) {
  MethodTiming& t = *r.out;
  std::string e;
  const bool b2b = r.method != TimingMethod::PerLaunch;  // b2b and graph: one event pair
  g_events.resize(b2b ? 1 : std::size_t(t.reps));
  if (r.method == TimingMethod::Graph) {
    e = graph_launch(r);  // untimed: the timed replay is queued while the GPU runs this one
    g_events.record_start(0, g_stream);
    if (e.empty()) e = graph_launch(r);
    g_events.record_end(0, g_stream);
  } else if (b2b) {
    for (int f = 0; f < t.fillers && e.empty(); ++f) e = one(r);  // untimed
    g_events.record_start(0, g_stream);
    for (int i = 0; i < t.reps && e.empty(); ++i) e = one(r);
    g_events.record_end(0, g_stream);
  } else {
    for (int f = 0; f < t.fillers && e.empty(); ++f) e = one(r);  // untimed
    for (int i = 0; i < t.reps && e.empty(); ++i) {
      g_events.record_start(i, g_stream);
      e = one(r);
      g_events.record_end(i, g_stream);
    }
  }
  GpuSample gs;
  if (e.empty() && g_monitor.sample(&gs)) t.gpu.add(gs);  // the batch is running
  if (e.empty()) e = sync_stream(r.what.c_str());
  if (!e.empty()) return e;
  if (b2b) {
    const double per = g_events.elapsed_ms(0) / t.reps;
    t.samples.push_back(per);
    t.batch_means.push_back(per);
  } else {
    double sum = 0;
    for (int i = 0; i < t.reps; ++i) {
      const double ms = g_events.elapsed_ms(i);
      t.samples.push_back(ms);
      sum += ms;
    }
    t.batch_means.push_back(sum / t.reps);
  }
  return "";
}

}  // namespace

void measure_interleaved(std::vector<Runner>& runners, int samples, double batch_ms, double drop_above) {
  std::vector<bool> run(runners.size(), true);
  for (std::size_t i = 0; i < runners.size(); ++i) {
    Runner& r = runners[i];
    try {
      r.out->error = warm_up(r, batch_ms);
    } catch (const std::exception& ex) {
      r.out->error = ex.what();
    }
    if (!r.out->error.empty()) run[i] = false;
    if (!g_fatal.empty()) return;
  }
  for (int round = 0; round < samples && g_fatal.empty(); ++round) {
    for (int i : interleave_order(round, int(runners.size()))) {
      if (!run[i] || !g_fatal.empty()) continue;
      std::string e;
      try {
        e = batch(runners[i]);
      } catch (const std::exception& ex) {
        e = ex.what();
      }
      if (!e.empty()) {
        runners[i].out->error = e;
        run[i] = false;
      }
    }
    if (round == 0 && drop_above > 0) {
      std::vector<double> first(runners.size(), NAN);
      for (std::size_t i = 0; i < runners.size(); ++i)
        if (run[i] && !runners[i].out->batch_means.empty()) first[i] = runners[i].out->batch_means.back();
      const std::vector<bool> keep = keep_after_first_round(first, drop_above);
      for (std::size_t i = 0; i < runners.size(); ++i) run[i] = run[i] && keep[i];
    }
  }
  for (Runner& r : runners) {
    r.out->stats = series_stats(r.out->samples);
    if (r.graph != nullptr) ptxfmha::drv().cuGraphExecDestroy(r.graph);
    r.graph = nullptr;
  }
}

std::string launch_side(const Case& c, CaseState& cs, int side, int s) {
  const SetView v = set_view(c, cs, s, side);
  if (side == kOurs) return family_for(c.family)->ours_launch(c, cs.ours, v);
  if (side == kCeiling) return read_ceiling().launch_read(v.k, v.v, std::size_t(c.kv_bytes() / 2), g_stream);
  SdpaBuffers b;
  b.q = v.q; b.k = v.k; b.v = v.v; b.o = v.o; b.lse = v.lse;
  b.page_table = v.page_table; b.seq_len_q = v.seqlens_q; b.seq_len_kv = v.seqlens_k;
  b.dout = v.dout; b.dq = v.dq; b.dk = v.dk; b.dv = v.dv;  // backward
  b.workspace = cs.cudnn_ws.bytes() ? cs.cudnn_ws.get() : nullptr;
  std::string why;
  return cs.cudnn->run(b, &why) ? "" : why;
}

void measure_case(const Case& c, CaseState& cs) {
  cs.measured = true;
  const bool can[kNumSides] = {cs.cudnn_skip.empty() && cs.cudnn != nullptr, cs.ours_skip.empty(),
                               c.decode() && g_opt.ceiling && cs.ceiling_skip.empty()};
  std::vector<Runner> runners;
  for (TimingMethod m : g_opt.methods) {
    for (int side : {kCudnn, kOurs, kCeiling}) {
      if (!can[side]) continue;
      Runner r;
      r.what = c.name + " " + side_name(side);
      r.launch = [&c, &cs, side](int s) { return launch_side(c, cs, side, s); };
      r.nsets = cs.nsets;
      r.method = m;
      r.out = &cs.timing[side][int(m)];
      runners.push_back(std::move(r));
    }
  }
  // Read probes (decode, beside the ceiling; the headline method only).
  for (std::size_t i = 0; can[kCeiling] && i < cs.probe_skip.size(); ++i) {
    if (!cs.probe_skip[i].empty()) continue;
    Runner r;
    r.what = c.name + " read probe " + g_opt.read_probes[i].name;
    r.launch = [&c, &cs, i](int s) {
      const SetView v = set_view(c, cs, s, kCeiling);
      return read_ceiling().launch_probe(g_opt.read_probes[i], cs.probe_launch[i], v.k, v.v, g_stream);
    };
    r.nsets = cs.nsets;
    r.method = g_opt.headline();
    r.out = &cs.probe_timing[i];
    runners.push_back(std::move(r));
  }
  measure_interleaved(runners, g_opt.samples, g_opt.batch_ms);
}

}  // namespace ptxfmha_bench
