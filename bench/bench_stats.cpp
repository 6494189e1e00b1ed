#include "bench_stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ptxfmha_bench {

const char* method_name(TimingMethod m) {
  switch (m) {
    case TimingMethod::BackToBack: return "b2b";
    case TimingMethod::PerLaunch: return "launch";
    case TimingMethod::Graph: return "graph";
  }
  return "?";
}

const char* method_caption(TimingMethod m) {
  switch (m) {
    case TimingMethod::BackToBack:
      return "back-to-back: N launches between two events, per-launch time = elapsed / N";
    case TimingMethod::PerLaunch: return "one event pair around every launch";
    case TimingMethod::Graph:
      return "CUDA graph: N launches captured once, replayed between two events, per-launch time = elapsed / N";
  }
  return "?";
}

bool parse_methods(const std::string& s, std::vector<TimingMethod>* out) {
  out->clear();
  if (s == "both") {
    *out = {TimingMethod::BackToBack, TimingMethod::PerLaunch};
    return true;
  }
  std::size_t start = 0;
  while (start <= s.size()) {
    const std::size_t end = std::min(s.find(',', start), s.size());
    const std::string tok = s.substr(start, end - start);
    TimingMethod m = TimingMethod::BackToBack;
    bool known = true;
    if (tok == "b2b") m = TimingMethod::BackToBack;
    else if (tok == "launch") m = TimingMethod::PerLaunch;
    else if (tok == "graph") m = TimingMethod::Graph;
    else known = false;
    if (!known || std::find(out->begin(), out->end(), m) != out->end()) {
      out->clear();
      return false;
    }
    out->push_back(m);
    start = end + 1;
  }
  return !out->empty();
}

int reps_for(double est_ms, double batch_ms) {
  const double t = std::max(1e-3, est_ms);
  return int(std::clamp(std::ceil(batch_ms / t), 1.0, 2000.0));
}

int fillers_for(double est_ms, double batch_ms) { return est_ms < batch_ms ? 2 : 0; }

std::vector<int> interleave_order(int round, int n) {
  std::vector<int> order(std::max(0, n));
  for (int i = 0; i < n; ++i) order[i] = (round % 2 == 0) ? i : n - 1 - i;
  return order;
}

SeriesStats series_stats(const std::vector<double>& v) {
  SeriesStats s;
  s.n = int(v.size());
  if (v.empty()) return s;
  std::vector<double> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t n = sorted.size();
  s.median_ms = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  s.min_ms = sorted.front();
  // Nearest-rank percentiles.
  auto rank = [&](double q) {
    const double r = std::ceil(q * double(n)) - 1.0;
    return sorted[std::size_t(std::clamp(r, 0.0, double(n - 1)))];
  };
  s.p10_ms = rank(0.10);
  s.p90_ms = rank(0.90);
  return s;
}

// ---- cuDNN plan choice -------------------------------------------------------------------------
int pick_fastest(const std::vector<PlanCandidate>& c) {
  int best = -1;
  for (int i = 0; i < int(c.size()); ++i) {
    if (!c[i].excluded.empty() || !(c[i].median_ms > 0)) continue;
    if (best < 0 || c[i].median_ms < c[best].median_ms) best = i;
  }
  return best;
}

namespace {
std::string short_name(const PlanCandidate& p) {
  std::string s = p.engine_id >= 0 ? "eng" + std::to_string(p.engine_id) : p.tag;
  if (!p.knobs.empty()) s += " k[" + p.knobs + "]";
  return s;
}
std::string pct(double a, double b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.1f%%", 100.0 * (a / b - 1.0));
  return buf;
}
}  // namespace

std::string describe_choice(const std::vector<PlanCandidate>& c, int chosen) {
  if (chosen < 0 || chosen >= int(c.size())) return "no plan";
  const PlanCandidate& w = c[chosen];
  int timed = 0, first = -1, next = -1;
  for (int i = 0; i < int(c.size()); ++i) {
    if (!c[i].excluded.empty() || !(c[i].median_ms > 0)) continue;
    ++timed;
    if (first < 0) first = i;
    if (i != chosen && (next < 0 || c[i].median_ms < c[next].median_ms)) next = i;
  }
  std::string s = short_name(w);
  if (!w.notes.empty()) s += " {" + w.notes + "}";
  if (timed <= 1) return s + (timed == 1 ? " (the only plan timed)" : " (not tuned)");
  s += " (fastest of " + std::to_string(timed) + " timed";
  if (first >= 0 && first != chosen)
    s += "; heuristics' first " + short_name(c[first]) + " " + pct(c[first].median_ms, w.median_ms);
  else
    s += "; = heuristics' first";
  if (next >= 0) s += "; next " + short_name(c[next]) + " " + pct(c[next].median_ms, w.median_ms);
  return s + ")";
}

std::vector<bool> keep_after_first_round(const std::vector<double>& first, double drop_above) {
  double best = INFINITY;
  for (double t : first)
    if (t > 0) best = std::min(best, t);
  std::vector<bool> keep(first.size(), false);
  for (std::size_t i = 0; i < first.size(); ++i)
    keep[i] = first[i] > 0 && (drop_above <= 0 || first[i] <= drop_above * best);
  return keep;
}

std::string candidates_table(const std::vector<PlanCandidate>& c, int chosen) {
  std::string out;
  char buf[512];
  for (int i = 0; i < int(c.size()); ++i) {
    const PlanCandidate& p = c[i];
    std::snprintf(buf, sizeof buf, "    %s #%-2d %-28s %-22s ws %8lld B  build %5.2f s  %s\n",
                  i == chosen ? "*" : " ", p.index, p.tag.c_str(), p.notes.empty() ? "-" : p.notes.c_str(),
                  (long long)p.workspace, p.build_s,
                  p.excluded.empty() ? (std::to_string(p.median_ms * 1e3) + " us" +
                                        (p.dropped ? " (1 batch: > 1.5x the fastest first batch)" : ""))
                                           .c_str()
                                     : p.excluded.substr(0, 200).c_str());
    out += buf;
  }
  return out;
}

// ---- run-time estimate ---------------------------------------------------------------------------
double estimate_seconds(const std::vector<Case>& cases, const std::vector<std::string>& skip,
                        double arena_bytes, const EstimateParams& p) {
  double s = arena_bytes / (p.fill_gib_per_s * double(1 << 30));
  const double batch_s = p.batch_ms * 1e-3;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    if (i < skip.size() && !skip[i].empty()) continue;
    const int sides = p.cudnn ? 2 : 1;
    const int runners = sides * p.methods + ((p.ceiling && cases[i].decode()) ? p.methods : 0);
    // warm-up: about 4 launches of each runner, at most a batch each
    s += p.case_fixed_s + runners * (p.samples + 4) * batch_s;
    if (p.cudnn && p.autotune) s += p.plans_guess * (p.plan_build_s + (p.tune_samples + 4) * batch_s);
  }
  return s;
}

}  // namespace ptxfmha_bench
