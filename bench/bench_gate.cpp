#include "bench_gate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "bench_ceiling.h"
#include "bench_cudnn_side.h"
#include "bench_family.h"
#include "bench_options.h"
#include "bench_timing.h"

namespace ptxfmha_bench {

namespace {

// Two blocks of rows: the first `m` query rows of batch 0 (against the keys they can see) and
// the last `m` rows of the last batch (against all keys). With bottom-right alignment a block
// of rows [r0, r0+m) over keys [0, kn) is itself an attention problem with seqlen_q = m and
// seqlen_k = kn whose mask is the same, so the shared reference computes it directly.
std::vector<RefBlock> ref_blocks(const Case& c) {
  const int64_t m = std::min<int64_t>(g_opt.ref_rows, c.seqlen_q);
  std::vector<RefBlock> blocks;
  const int64_t kn_first = c.causal ? std::min(c.seqlen_k, m + c.seqlen_k - c.seqlen_q) : c.seqlen_k;
  blocks.push_back({0, 0, m, std::max<int64_t>(kn_first, 0)});
  if (c.batch > 1 || c.seqlen_q > m) blocks.push_back({c.batch - 1, c.seqlen_q - m, m, c.seqlen_k});
  return blocks;
}

void build_reference(const Case& c, CaseState& cs) {
  RefCache& r = cs.ref;
  const Arena& a = arena_for(c);
  const int64_t H = c.heads_q, D = c.head_dim, Hkv = c.heads_kv;
  r.blocks = ref_blocks(c);
  r.out.clear();
  r.lse.clear();
  static HostStaging k_host, v_host;  // the cells' K / V copies (up to GiBs each), kept
  for (const RefBlock& blk : r.blocks) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<uint16_t> q(blk.m * H * D);
    const std::size_t kv_bytes = std::size_t(std::max<int64_t>(blk.kn, 1) * Hkv * D) * 2;
    uint16_t* k = static_cast<uint16_t*>(k_host.reserve(kv_bytes));
    uint16_t* v = static_cast<uint16_t*>(v_host.reserve(kv_bytes));
    const std::size_t qoff = std::size_t((blk.b * c.seqlen_q + blk.r0) * H * D) * 2;
    download(q.data(), a.q.ptr() + qoff, q.size() * 2);
    if (blk.kn > 0) download_kv(c, cs, blk.b, blk.kn, k, v);
    const auto t1 = std::chrono::steady_clock::now();
    r.fetch_s += seconds_since(t0);
    RefProblem rp{1, blk.m, blk.kn, c.heads_q, c.heads_kv, c.head_dim, c.causal,
                  double(softmax_scale(c))};
    std::vector<double> out, lse;
    if (blk.kn > 0) {
      reference_dense(rp, q.data(), k, v, &out, &lse);
      r.compute_s += seconds_since(t1);
    } else {  // no key visible: O = 0, LSE = -inf
      out.assign(std::size_t(blk.m * H * D), 0.0);
      lse.assign(std::size_t(H * blk.m), -INFINITY);
    }
    r.out.insert(r.out.end(), out.begin(), out.end());
    r.lse.insert(r.lse.end(), lse.begin(), lse.end());
  }
  r.ready = true;
}

// Runs one side once on poisoned set-0 outputs: "" or why it failed.
std::string run_once(const Case& c, CaseState& cs, int side, const char* what) {
  poison_set0(c, side);
  std::string e = launch_side(c, cs, side, 0);
  if (e.empty()) e = sync_stream(what);
  return e;
}

}  // namespace

Agreement check_vs_reference(const Case& c, CaseState& cs, int side) {
  Agreement own;
  if (family_for(c.family)->reference_check(c, cs, side, &own)) return own;  // e.g. family_attn.cpp
  return family_for(c.family)->check_vs_reference(c, cs, side);
}

// ---- the forward's gate (Family defaults) -----------------------------------------------------
std::string Family::prepare_inputs(const Case&, CaseState&) const { return ""; }

Agreement Family::check_vs_reference(const Case& c, CaseState& cs, int side) const {
  if (!cs.ref.ready) build_reference(c, cs);
  const Arena& a = arena_for(c);
  const bool ours = side == kOurs;
  const int64_t H = c.heads_q, D = c.head_dim;
  std::vector<double> got;
  std::vector<float> lse_got;
  for (const RefBlock& blk : cs.ref.blocks) {
    std::vector<uint16_t> o(blk.m * H * D);
    const std::size_t qoff = std::size_t((blk.b * c.seqlen_q + blk.r0) * H * D) * 2;
    download(o.data(), (ours ? a.o_ours : a.o_cudnn).ptr() + qoff, o.size() * 2);
    for (uint16_t x : o) got.push_back(float_from_bf16(x));
    std::vector<float> rows(blk.m);
    for (int64_t h = 0; h < H; ++h) {
      const std::size_t off = std::size_t((blk.b * H + h) * c.seqlen_q + blk.r0) * 4;
      download(rows.data(), (ours ? a.lse_ours : a.lse_cudnn).ptr() + off, blk.m * 4);
      lse_got.insert(lse_got.end(), rows.begin(), rows.end());
    }
  }
  Agreement ag = compare_double(got.data(), cs.ref.out.data(), got.size());
  compare_lse(lse_got.data(), cs.ref.lse.data(), lse_got.size(), &ag);
  return ag;
}

Agreement Family::compare_sides(const Case& c, CaseState&) const {
  const Arena& a = arena_for(c);
  std::vector<uint16_t> o1(c.q_elems()), o2(c.q_elems());
  std::vector<float> l1(c.lse_elems()), l2(c.lse_elems());
  download(o1.data(), a.o_ours.ptr(), o1.size() * 2);
  download(o2.data(), a.o_cudnn.ptr(), o2.size() * 2);
  download(l1.data(), a.lse_ours.ptr(), l1.size() * 4);
  download(l2.data(), a.lse_cudnn.ptr(), l2.size() * 4);
  Agreement ag = compare_bf16(o1.data(), o2.data(), o1.size());
  if (cudnn_problem(c).lse) compare_lse(l1.data(), l2.data(), l1.size(), &ag);  // ragged: no LSE
  return ag;
}

void prepare_case(const Case& c, CaseState& cs, int index, int total) {
  cs.prepared = true;
  const auto t0 = std::chrono::steady_clock::now();
  std::fprintf(stderr, "[%d/%d] %s: preparing\n", index, total, c.name.c_str());
  ensure_arena(c);
  const Arena& a = arena_for(c);

  // Rotation: enough disjoint input sets to exceed twice the L2 size, within the arena.
  const int64_t fit = std::min({a.cap.q_elems / c.q_elems(), a.cap.kv_elems / c.kv_elems(),
                                a.cap.o_elems / c.q_elems(), a.cap.lse_elems / c.lse_elems(),
                                int64_t(kMaxSets)});
  cs.nsets = int(std::max<int64_t>(1, std::min<int64_t>(wanted_sets(c, g_l2_bytes), fit)));
  make_case_tables(c, cs);

  // ptx-fmha: a kernel for this case on this device, its workspace.
  const Family* fam = family_for(c.family);
  cs.ours_skip = fam->ours_prepare(c, set_view(c, cs, 0, kOurs), &cs.ours);
  if (cs.ours_skip.empty() && cs.ours.ws_bytes) cs.ours_ws.alloc(cs.ours.ws_bytes * cs.nsets);
  const std::string inputs = fam->prepare_inputs(c, cs);
  if (!inputs.empty()) {
    cs.prepare_error = "inputs: " + inputs;
    std::fprintf(stderr, "[%d/%d] %s: %s\n", index, total, c.name.c_str(), cs.prepare_error.c_str());
    return;
  }

  // Correctness gate, on set 0 with poisoned outputs: ours first, then every cuDNN plan that
  // may be timed (each against the reference), tuning, and cuDNN's chosen plan again.
  bool ours_ran = false;
  if (cs.ours_skip.empty()) {
    const std::string e = run_once(c, cs, kOurs, "the ptx-fmha check launch");
    if (!e.empty()) cs.ours_skip = "ptx-fmha failed: " + e;
    else ours_ran = true;
  }
  if (!g_fatal.empty()) return;
  std::string fails;
  if (ours_ran) {
    const Agreement ref = check_vs_reference(c, cs, kOurs);
    cs.ours_check = "vs f64 " + ref.summary();
    if (!ref.ok()) fails = "vs float64 reference: " + ref.failure() + " (" + ref.summary() + ")";
  }
  const auto t_cudnn = std::chrono::steady_clock::now();
  const bool cudnn_ran = prepare_cudnn(c, cs);
  cs.cudnn_s = seconds_since(t_cudnn);
  if (!g_fatal.empty()) return;
  if (ours_ran && cudnn_ran && fam->same_problem_as_cudnn(c)) {
    const Agreement ag = fam->compare_sides(c, cs);
    cs.ours_check = "vs cuDNN " + ag.summary() + "; " + cs.ours_check;
    if (!ag.ok())
      fails = "vs cuDNN: " + ag.failure() + " (" + ag.summary() + ")" + (fails.empty() ? "" : "; " + fails);
  }
  if (!fails.empty()) cs.ours_skip = "CHECK FAILED, not timed: " + fails;

  if (c.decode() && g_opt.ceiling) {
    if (!read_ceiling().load()) cs.ceiling_skip = read_ceiling().why();
    else read_ceiling().launch_floor_ms();  // measured once, at the first decode case
    prepare_read_probes(c, cs);
  }
  cs.prepare_s = seconds_since(t0);
  std::fprintf(stderr, "[%d/%d] %s: ptx-fmha %s | cuDNN %s (%.1f s: reference inputs %.1f, reference %.1f, cuDNN %.1f)\n",
               index, total, c.name.c_str(),
               cs.ours_skip.empty() ? ("ok, " + cs.ours_check).c_str() : cs.ours_skip.c_str(),
               cs.cudnn_skip.empty() ? ("ok, " + cs.cudnn_choice + ", " + cs.cudnn_check).c_str()
                                     : cs.cudnn_skip.c_str(),
               cs.prepare_s, cs.ref.fetch_s, cs.ref.compute_s, cs.cudnn_s);
}

}  // namespace ptxfmha_bench
