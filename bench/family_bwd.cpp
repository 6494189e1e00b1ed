// Family "bwd": the attention backward, ptxfmha_bwd (or a kernel-table variant of the main
// kernel through bwd_with_main_row, --ptxfmha_bwd_kernel) against cuDNN's SDPA backward
// (cudnn_sdpa.cpp, section "backward"), fast and deterministic (cells ".../det": both sides'
// deterministic algorithms), on the prefill grid (bench_case.h: backward_grid).
//
// Inputs: the arena's random Q, K, V, dO and, made once per case by prepare_inputs, the O and
// LSE of ptx-fmha's forward on the same Q, K, V (both sides read the same O and LSE). Outputs:
// each side's dQ, dK, dV. The gate (bench_gate.h, through this family's overrides):
//   - each side against the float64 gradients of those inputs (bench_bwd_ref.h) on sampled
//     rows: dQ of the first ref_rows query rows of batch 0 and of the last ones of the last
//     batch, dK and dV of the first keys of batch 0 and the last keys of the last batch;
//   - ours against cuDNN's chosen plan over the whole dQ, dK, dV;
// the thresholds of bench_util.h per tensor (the worst of the three is reported).
// FLOPs: 2.5 x the forward's (Case::flops). The table adds forward + backward (bench_report).
#include <algorithm>
#include <cstring>
#include <map>
#include <vector>

#include "bench_bwd_ref.h"
#include "bench_family.h"
#include "bench_options.h"
#include "bwd.h"
#include "kernel_table.h"

namespace ptxfmha_bench {

namespace {

// The worst of several agreements, as one (every count summed, the worst of each figure).
Agreement worst_of(const std::vector<Agreement>& v) {
  Agreement w = v.front();
  for (std::size_t i = 1; i < v.size(); ++i) {
    const Agreement& a = v[i];
    w.count += a.count;
    w.rel_l2 = std::max(w.rel_l2, a.rel_l2);
    w.cosine = std::min(w.cosine, a.cosine);
    w.max_abs = std::max(w.max_abs, a.max_abs);
    w.nonfinite += a.nonfinite;
    w.ref_nonfinite += a.ref_nonfinite;
  }
  return w;
}

// The sampled reference of a case (set 0), computed on first use.
struct RefPart {
  int64_t b;
  BwdRefRows rows;
  BwdRefOut out;
};
std::map<std::string, std::vector<RefPart>>& ref_cache() {
  static std::map<std::string, std::vector<RefPart>> m;
  return m;
}

int64_t tokens_q(const Case& c) { return c.seqlen_q * c.heads_q * c.head_dim; }   // elements per batch
int64_t tokens_k(const Case& c) { return c.seqlen_k * c.heads_kv * c.head_dim; }

const std::vector<RefPart>& reference_of(const Case& c) {
  auto it = ref_cache().find(c.name);
  if (it != ref_cache().end()) return it->second;
  const Arena& a = arena_for(c);
  const int64_t m = std::min<int64_t>(g_opt.ref_rows, std::min(c.seqlen_q, c.seqlen_k));
  std::vector<RefPart> parts;
  parts.push_back({0, {0, m, 0, m}, {}});
  if (c.batch > 1 || c.seqlen_q > m) parts.push_back({c.batch - 1, {c.seqlen_q - m, m, c.seqlen_k - m, m}, {}});
  BwdRefShape s;
  s.seqlen_q = c.seqlen_q; s.seqlen_k = c.seqlen_k; s.heads_q = c.heads_q; s.heads_kv = c.heads_kv;
  s.head_dim = c.head_dim; s.causal = c.causal; s.softmax_scale = double(softmax_scale(c));
  for (RefPart& p : parts) {
    std::vector<uint16_t> q(tokens_q(c)), o(q.size()), dout(q.size()), k(tokens_k(c)), v(k.size());
    std::vector<float> lse(std::size_t(c.heads_q * c.seqlen_q));
    const std::size_t qoff = std::size_t(p.b * tokens_q(c)) * 2, koff = std::size_t(p.b * tokens_k(c)) * 2;
    download(q.data(), a.q.ptr() + qoff, q.size() * 2);
    download(o.data(), a.o_ours.ptr() + qoff, o.size() * 2);
    download(dout.data(), a.dout.ptr() + qoff, dout.size() * 2);
    download(k.data(), a.k.ptr() + koff, k.size() * 2);
    download(v.data(), a.v.ptr() + koff, v.size() * 2);
    download(lse.data(), a.lse_ours.ptr() + std::size_t(p.b * c.heads_q * c.seqlen_q) * 4, lse.size() * 4);
    bwd_reference_rows(s, q.data(), k.data(), v.data(), o.data(), dout.data(), lse.data(), p.rows, &p.out);
  }
  return ref_cache()[c.name] = std::move(parts);
}

// Rows [r0, r0 + n) of batch b of a dense [batch, seq, heads, d] bf16 tensor, as doubles.
std::vector<double> rows_of(const DeviceBuffer& buf, int64_t per_batch, int64_t row_elems, int64_t b, int64_t r0,
                            int64_t n) {
  std::vector<uint16_t> x(std::size_t(n * row_elems));
  download(x.data(), buf.ptr() + std::size_t(b * per_batch + r0 * row_elems) * 2, x.size() * 2);
  std::vector<double> out(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) out[i] = float_from_bf16(x[i]);
  return out;
}

class BwdFamily final : public Family {
 public:
  const char* id() const override { return "bwd"; }

  std::string ours_prepare(const Case& c, const SetView& set0, OursPlan* plan) const override {
    plan->kernel = ptxfmha::find_kernel(g_dev.sm, ptxfmha::KernelKind::Bwd, int(c.head_dim));
    if (!g_opt.bwd_kernel.empty()) {  // --ptxfmha_bwd_kernel: a main-kernel variant of this head dim
      const ptxfmha::KernelInfo* r = ptxfmha::find_bwd_main_row(g_opt.bwd_kernel.c_str());
      if (r != nullptr && plan->kernel != nullptr && r->head_dim == c.head_dim &&
          std::strcmp(r->arch, plan->kernel->arch) == 0) {
        plan->kernel = r;
        plan->forced = true;
      }
    }
    if (!plan->kernel) return no_kernel_message(c, ptxfmha::KernelKind::Bwd, "backward");
    ptxfmha_bwd_params p = params(c, set0, 0);
    uint64_t bytes = 0;
    const std::string e = status_message("ptxfmha_bwd_workspace_size", ptxfmha_bwd_workspace_size(&p, &bytes));
    if (!e.empty()) return e;
    plan->ws_bytes = (bytes + 255) / 256 * 256;  // each rotation set's slice 256-byte aligned
    return "";
  }

  std::string ours_launch(const Case& c, const OursPlan& plan, const SetView& v) const override {
    const ptxfmha_bwd_params p = params(c, v, plan.ws_bytes);
    return status_message("ptxfmha_bwd", plan.forced ? ptxfmha::bwd_with_main_row(&p, plan.kernel, 0) : ptxfmha_bwd(&p));
  }

  SdpaProblem cudnn_problem(const Case& c) const override {
    SdpaProblem p = Family::cudnn_problem(c);
    p.backward = true;
    p.deterministic = c.deterministic;
    p.lse = true;  // the forward's statistics: an input
    return p;
  }

  // O and LSE of every rotation set: ptx-fmha's forward on the set's Q, K, V.
  std::string prepare_inputs(const Case& c, CaseState& cs) const override {
    for (int s = 0; s < cs.nsets; ++s) {
      const ptxfmha_fwd_params f = dense_fwd_params(c, set_view(c, cs, s, kOurs), softmax_scale(c));
      const std::string e = status_message("ptxfmha_fwd (the backward's O and LSE)", ptxfmha_fwd(&f));
      if (!e.empty()) return e;
    }
    return sync_stream("the forward that makes the backward's O and LSE");
  }

  Agreement check_vs_reference(const Case& c, CaseState&, int side) const override {
    const Arena& a = arena_for(c);
    const bool ours = side == kOurs;
    std::vector<double> gq, rq, gk, rk, gv, rv;
    for (const RefPart& p : reference_of(c)) {
      const int64_t qrow = c.heads_q * c.head_dim, krow = c.heads_kv * c.head_dim;
      const auto dq = rows_of(ours ? a.dq_ours : a.dq_cudnn, tokens_q(c), qrow, p.b, p.rows.q0, p.rows.nq);
      const auto dk = rows_of(ours ? a.dk_ours : a.dk_cudnn, tokens_k(c), krow, p.b, p.rows.k0, p.rows.nk);
      const auto dv = rows_of(ours ? a.dv_ours : a.dv_cudnn, tokens_k(c), krow, p.b, p.rows.k0, p.rows.nk);
      gq.insert(gq.end(), dq.begin(), dq.end());
      gk.insert(gk.end(), dk.begin(), dk.end());
      gv.insert(gv.end(), dv.begin(), dv.end());
      rq.insert(rq.end(), p.out.dq.begin(), p.out.dq.end());
      rk.insert(rk.end(), p.out.dk.begin(), p.out.dk.end());
      rv.insert(rv.end(), p.out.dv.begin(), p.out.dv.end());
    }
    return worst_of({compare_double(gq.data(), rq.data(), gq.size()), compare_double(gk.data(), rk.data(), gk.size()),
                     compare_double(gv.data(), rv.data(), gv.size())});
  }

  Agreement compare_sides(const Case& c, CaseState&) const override {
    const Arena& a = arena_for(c);
    auto cmp = [](const DeviceBuffer& x, const DeviceBuffer& y, int64_t n) {
      std::vector<uint16_t> u(static_cast<std::size_t>(n)), w(static_cast<std::size_t>(n));
      download(u.data(), x.ptr(), u.size() * 2);
      download(w.data(), y.ptr(), w.size() * 2);
      return compare_bf16(u.data(), w.data(), u.size());
    };
    return worst_of({cmp(a.dq_ours, a.dq_cudnn, c.q_elems()), cmp(a.dk_ours, a.dk_cudnn, c.kv_elems()),
                     cmp(a.dv_ours, a.dv_cudnn, c.kv_elems())});
  }

 private:
  // ptxfmha_bwd's parameters for one rotation set (workspace: the set's slice of ws_bytes).
  static ptxfmha_bwd_params params(const Case& c, const SetView& v, uint64_t ws_bytes) {
    int64_t st[3], kst[3];
    dense_strides(c.seqlen_q, c.heads_q, c.head_dim, st);
    dense_strides(c.seqlen_k, c.heads_kv, c.head_dim, kst);
    ptxfmha_bwd_params p;
    ptxfmha_bwd_params_init(&p);
    p.q = v.q; p.k = v.k; p.v = v.v; p.o = v.o; p.dout = v.dout; p.lse = v.lse;
    p.dq = v.dq; p.dk = v.dk; p.dv = v.dv;
    auto set = [](int64_t* b, int64_t* s, int64_t* h, const int64_t x[3]) { *b = x[0]; *s = x[1]; *h = x[2]; };
    set(&p.q_batch_stride, &p.q_seq_stride, &p.q_head_stride, st);
    set(&p.o_batch_stride, &p.o_seq_stride, &p.o_head_stride, st);
    set(&p.dout_batch_stride, &p.dout_seq_stride, &p.dout_head_stride, st);
    set(&p.dq_batch_stride, &p.dq_seq_stride, &p.dq_head_stride, st);
    set(&p.k_batch_stride, &p.k_seq_stride, &p.k_head_stride, kst);
    set(&p.v_batch_stride, &p.v_seq_stride, &p.v_head_stride, kst);
    set(&p.dk_batch_stride, &p.dk_seq_stride, &p.dk_head_stride, kst);
    set(&p.dv_batch_stride, &p.dv_seq_stride, &p.dv_head_stride, kst);
    p.batch = int32_t(c.batch); p.seqlen_q = int32_t(c.seqlen_q); p.seqlen_k = int32_t(c.seqlen_k);
    p.heads_q = int32_t(c.heads_q); p.heads_kv = int32_t(c.heads_kv); p.head_dim = int32_t(c.head_dim);
    p.softmax_scale = ours_scale(c);
    p.causal = c.causal ? 1 : 0;
    p.deterministic = c.deterministic ? 1 : 0;
    p.workspace = v.ours_ws;
    p.workspace_bytes = ws_bytes;
    p.stream = g_stream;
    return p;
  }
};

const FamilyRegistrar kBwd(std::make_unique<BwdFamily>());

}  // namespace
}  // namespace ptxfmha_bench
