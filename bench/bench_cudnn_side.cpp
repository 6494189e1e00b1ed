#include "bench_cudnn_side.h"

#include <cstdio>
#include <map>

#include "bench_family.h"
#include "bench_gate.h"
#include "bench_options.h"
#include "bench_timing.h"

namespace ptxfmha_bench {

namespace {

std::map<std::string, std::string>& tune_cache() {  // SdpaProblem::key -> chosen plan tag
  static std::map<std::string, std::string> m;
  return m;
}

SdpaBuffers buffers(const Case& c, const CaseState& cs, int s) {
  const SetView v = set_view(c, cs, s, kCudnn);
  SdpaBuffers b;
  b.q = v.q; b.k = v.k; b.v = v.v; b.o = v.o; b.lse = v.lse;
  b.page_table = v.page_table; b.seq_len_q = v.seqlens_q; b.seq_len_kv = v.seqlens_k;
  b.dout = v.dout; b.dq = v.dq; b.dk = v.dk; b.dv = v.dv;  // backward
  b.workspace = cs.cudnn_ws.bytes() ? cs.cudnn_ws.get() : nullptr;
  return b;
}

// Plan `plan` once on poisoned set-0 outputs, then against the reference: "" or why not.
std::string gate_plan(const Case& c, CaseState& cs, int plan, std::string* summary) {
  poison_set0(c, kCudnn);
  std::string why;
  if (!cs.cudnn->run_plan(plan, buffers(c, cs, 0), &why)) return "failed: " + why;
  why = sync_stream("a cuDNN check launch");
  if (!why.empty()) return why;
  const Agreement ag = check_vs_reference(c, cs, kCudnn);
  *summary = ag.summary();
  if (!ag.ok())
    return "disagrees with the float64 reference (" + ag.failure() + "; " + ag.summary() + ")";
  return "";
}

// Times the candidates that passed the gate, interleaved, with the headline method.
void tune(const Case& c, CaseState& cs, std::vector<PlanCandidate>& cand) {
  std::vector<MethodTiming> t(cand.size());
  std::vector<Runner> runners;
  for (std::size_t i = 0; i < cand.size(); ++i) {
    if (!cand[i].excluded.empty()) continue;
    Runner r;
    r.what = c.name + " cuDNN plan " + cand[i].tag;
    const int plan = cand[i].index;
    r.launch = [&c, &cs, plan](int s) {
      std::string why;
      return cs.cudnn->run_plan(plan, buffers(c, cs, s), &why) ? std::string() : why;
    };
    r.nsets = cs.nsets;
    r.method = g_opt.headline();
    r.out = &t[i];
    runners.push_back(std::move(r));
  }
  measure_interleaved(runners, g_opt.tune_samples, g_opt.batch_ms, kTuneDropAbove);
  for (std::size_t i = 0; i < cand.size(); ++i) {
    if (!cand[i].excluded.empty()) continue;
    if (!t[i].error.empty()) {
      cand[i].excluded = "timing failed: " + t[i].error;
    } else {
      cand[i].median_ms = t[i].stats.median_ms;
      cand[i].dropped = g_opt.tune_samples > 1 && t[i].batch_means.size() == 1;
    }
  }
}

}  // namespace

bool prepare_cudnn(const Case& c, CaseState& cs) {
  if (!g_opt.cudnn) {
    cs.cudnn_skip = "cuDNN side off (--ptxfmha_cudnn=0): ptx-fmha side only";
    return false;
  }
  cs.cudnn = std::make_unique<CudnnSdpa>();
  const SdpaProblem prob = family_for(c.family)->cudnn_problem(c);
  std::string why;
  if (!cs.cudnn->build(prob, g_stream, g_opt.autotune, g_opt.max_plans, &why)) {
    cs.cudnn_skip = "cuDNN unavailable for this case: " + why;
    return false;
  }
  if (cs.cudnn->max_workspace_bytes()) cs.cudnn_ws.alloc(cs.cudnn->max_workspace_bytes());

  std::vector<PlanCandidate>& cand = cs.cudnn_plans;
  cand.clear();
  for (const SdpaPlan& p : cs.cudnn->plans()) {
    PlanCandidate k;
    k.index = p.index;
    k.tag = p.tag;
    k.engine_id = p.engine_id;
    k.knobs = p.knobs;
    k.notes = p.notes;
    k.workspace = p.workspace;
    k.build_s = p.build_s;
    k.excluded = p.built ? "" : p.why;
    cand.push_back(k);
  }
  const auto cached = tune_cache().find(prob.key());
  if (cached != tune_cache().end())
    for (PlanCandidate& k : cand)
      if (k.excluded.empty() && k.tag != cached->second)
        k.excluded = "not timed: the run's choice for this graph is cached (" + cached->second + ")";

  // Gate every plan that may be timed.
  std::string first_failure, summary;
  int passing = 0;
  for (PlanCandidate& k : cand) {
    if (!k.excluded.empty()) continue;
    k.excluded = gate_plan(c, cs, k.index, &summary);
    if (!g_fatal.empty()) return false;
    if (k.excluded.empty()) ++passing;
    else if (first_failure.empty()) first_failure = k.tag + ": " + k.excluded;
  }
  if (passing == 0) {
    cs.cudnn_skip = "cuDNN: no plan passed the check (" + first_failure +
                    "): the harness or cuDNN is wrong; not timed";
    return false;
  }

  int chosen = -1;
  if (passing > 1) {
    tune(c, cs, cand);
    if (!g_fatal.empty()) return false;
    chosen = pick_fastest(cand);
  }
  if (chosen < 0)
    for (int i = 0; i < int(cand.size()) && chosen < 0; ++i)
      if (cand[i].excluded.empty()) chosen = i;
  if (chosen < 0) {
    cs.cudnn_skip = "cuDNN: every plan failed while tuning";
    return false;
  }
  cs.cudnn_chosen = chosen;
  cs.cudnn_choice = describe_choice(cand, chosen);
  if (!g_opt.autotune) cs.cudnn_choice += " [heuristics' choice, autotuning off]";
  else if (cached != tune_cache().end()) cs.cudnn_choice += " [the run's cached choice for this graph]";
  else if (passing == 1)
    cs.cudnn_choice += " [the only plan of " + std::to_string(cand.size()) + " offered that built and passed]";
  if (passing > 1) std::fprintf(stderr, "  cuDNN plans:\n%s", candidates_table(cand, chosen).c_str());
  tune_cache()[prob.key()] = cand[chosen].tag;
  cs.cudnn->select(cand[chosen].index);

  // The chosen plan's output stays in set 0 for the comparison with ours.
  const std::string e = gate_plan(c, cs, cand[chosen].index, &summary);
  if (!g_fatal.empty()) return false;
  if (!e.empty()) {
    cs.cudnn_skip = "cuDNN " + e + ": not timed";
    return false;
  }
  cs.cudnn_check = "vs f64 " + summary;
  return true;
}

}  // namespace ptxfmha_bench
