// Helpers of the backward GPU tests (tests/test_gpu_bwd*.cpp): problems with a strided layout
// per tensor, inputs (Q, K, V, dO random; O and LSE from the float64 forward reference, O
// rounded to bf16 as a forward kernel would store it), the float64 reference gradients of
// those inputs (D = rowsum(dO * O) from the given bf16 O, as the kernels compute it), a device
// case (outputs and workspace poisoned before every launch), and per-output error figures with
// the first bad element's (b, s, h, d).
//
// Error bounds (README "Backward"; bwd_tolerance() says why), per output dQ, dK, dV:
//   no NaN/Inf, every element written, padding untouched, dQ rows that see no key exactly 0;
//   every element |got - ref| <= 2^-6 l2 + 2^-7 |ref| + 2^-16 floor, where l2 is the root of
//     the sum of the squares of the products the element sums and floor the size of the fp32
//     noise of dS (ptxfmha::RefBwdTerms);
//   rel. L2 <= 2e-2 and cosine >= 0.9998 where the reference is above its noise floor.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "attn_kernel_abi.h"
#include "bwd.h"
#include "gpu_util.h"
#include "../ptx/manifest/sm90_bwd.h"

namespace ptxfmha_test {

struct BwdProblem {
  int batch = 1, seqlen_q = 1, seqlen_k = 1, heads_q = 1, heads_kv = 1, head_dim = 64;
  bool causal = false;
  bool deterministic = false;
  float softmax_scale = 0;  // 0: 1/sqrt(head_dim) (the library's default too)
  Layout q, k, v, o, dout, dq, dk, dv;
  // The serving features (ptxfmha_bwd_params version 2): window sides (-1 unbounded),
  // softcap (0 off), ALiBi slopes and sink logits ([heads_q], empty = none).
  int window_left = -1, window_right = -1;
  float softcap = 0;
  std::vector<float> alibi, sinks;
  bool has_features() const {
    return window_left >= 0 || window_right >= 0 || softcap > 0 || !alibi.empty() || !sinks.empty();
  }
  float scale() const {
    return softmax_scale > 0 ? softmax_scale : static_cast<float>(1.0 / std::sqrt(double(head_dim)));
  }
  int64_t lse_elems() const { return int64_t(batch) * heads_q * seqlen_q; }
};

inline BwdProblem bwd_problem(int batch, int sq, int sk, int hq, int hkv, int d, bool causal, bool det = false) {
  BwdProblem p;
  p.batch = batch; p.seqlen_q = sq; p.seqlen_k = sk; p.heads_q = hq; p.heads_kv = hkv; p.head_dim = d;
  p.causal = causal; p.deterministic = det;
  p.q = p.o = p.dout = p.dq = make_layout(batch, sq, hq, d);
  p.k = p.v = p.dk = p.dv = make_layout(batch, sk, hkv, d);
  return p;
}

inline std::string describe(const BwdProblem& p) {
  std::ostringstream s;
  s << "B=" << p.batch << " Sq=" << p.seqlen_q << " Sk=" << p.seqlen_k << " Hq=" << p.heads_q << " Hkv=" << p.heads_kv
    << " D=" << p.head_dim << " causal=" << int(p.causal) << " det=" << int(p.deterministic) << " scale=" << p.scale();
  auto st = [&s](const char* n, const Layout& l) {
    s << " " << n << "=[" << l.stride[0] << "," << l.stride[1] << "," << l.stride[2] << "]";
  };
  st("q", p.q); st("k", p.k); st("v", p.v); st("o", p.o); st("do", p.dout); st("dq", p.dq); st("dk", p.dk); st("dv", p.dv);
  if (p.has_features())
    s << " window=(" << p.window_left << "," << p.window_right << ") softcap=" << p.softcap
      << " alibi=" << int(!p.alibi.empty()) << " sinks=" << int(!p.sinks.empty());
  return s.str();
}

struct BwdHostInputs {
  std::vector<uint16_t> q, k, v, o, dout;
  std::vector<float> lse;  // [batch, heads_q, seqlen_q], natural log, -inf for rows without keys
};

// Q, K, V, dO ~ N(0, sigma^2) in bf16 (padding between rows random junk); O and LSE from the
// float64 forward of the same bf16 Q, K, V (O rounded to bf16, LSE to fp32).
inline BwdHostInputs bwd_inputs(const BwdProblem& p, uint64_t seed, double qk_sigma = 1.0) {
  std::mt19937_64 rng(seed);
  BwdHostInputs in;
  in.q = random_tensor(p.q, p.batch, p.seqlen_q, p.heads_q, p.head_dim, rng, qk_sigma);
  in.k = random_tensor(p.k, p.batch, p.seqlen_k, p.heads_kv, p.head_dim, rng, qk_sigma);
  in.v = random_tensor(p.v, p.batch, p.seqlen_k, p.heads_kv, p.head_dim, rng, 1.0);
  in.dout = random_tensor(p.dout, p.batch, p.seqlen_q, p.heads_q, p.head_dim, rng, 1.0);
  in.o = random_tensor(p.o, p.batch, p.seqlen_q, p.heads_q, p.head_dim, rng, 1.0);  // junk, then O
  if (p.has_features()) {  // O and LSE from the forward's own feature reference
    ptxfmha::RefAttnProblem ap;
    ap.batch = p.batch; ap.heads_q = p.heads_q; ap.heads_kv = p.heads_kv; ap.head_dim = p.head_dim;
    ap.softmax_scale = p.scale(); ap.causal = p.causal; ap.window_left = p.window_left;
    ap.window_right = p.window_right; ap.softcap = p.softcap; ap.sink_logits = p.sinks; ap.alibi_slopes = p.alibi;
    ap.seqlen_q = p.seqlen_q; ap.seqlen_k = p.seqlen_k;
    for (int i = 0; i < 3; ++i) { ap.q_stride[i] = p.q.stride[i]; ap.k_stride[i] = p.k.stride[i]; ap.v_stride[i] = p.v.stride[i]; }
    ptxfmha::RefAttnResult ar;
    ptxfmha::reference_attn(ap, in.q.data(), in.k.data(), in.v.data(), &ar);
    for (int b = 0; b < p.batch; ++b)
      for (int s = 0; s < p.seqlen_q; ++s)
        for (int h = 0; h < p.heads_q; ++h)
          for (int d = 0; d < p.head_dim; ++d)
            in.o[std::size_t(elem_index(p.o, b, s, h, d))] = ptxfmha::float_to_bf16(
                static_cast<float>(ar.o[((std::size_t(b) * p.seqlen_q + s) * p.heads_q + h) * p.head_dim + d]));
    in.lse.resize(ar.lse.size());
    for (std::size_t i = 0; i < ar.lse.size(); ++i) in.lse[i] = static_cast<float>(ar.lse[i]);
    return in;
  }
  FwdProblem f;
  f.batch = p.batch; f.seqlen_q = p.seqlen_q; f.seqlen_k = p.seqlen_k; f.heads_q = p.heads_q;
  f.heads_kv = p.heads_kv; f.head_dim = p.head_dim; f.causal = p.causal; f.softmax_scale = p.scale();
  f.q = p.q; f.k = p.k; f.v = p.v; f.o = p.o;
  FwdHostInputs fi;
  fi.q = in.q; fi.k = in.k; fi.v = in.v;
  const FwdReference r = reference(f, fi);
  const int D = p.head_dim;
  for (int b = 0; b < p.batch; ++b)
    for (int s = 0; s < p.seqlen_q; ++s)
      for (int h = 0; h < p.heads_q; ++h)
        for (int d = 0; d < D; ++d)
          in.o[std::size_t(elem_index(p.o, b, s, h, d))] = ptxfmha::float_to_bf16(
              static_cast<float>(r.o[((std::size_t(b) * p.seqlen_q + s) * p.heads_q + h) * D + d]));
  in.lse.resize(r.lse.size());
  for (std::size_t i = 0; i < r.lse.size(); ++i) in.lse[i] = static_cast<float>(r.lse[i]);
  return in;
}

// The head dims the device's backward kernels cover (the GPU suites loop over them).
inline std::vector<int> bwd_head_dims() {
  return ptxfmha::supported_head_dims(gpu().info.sm, ptxfmha::KernelKind::Bwd);
}

struct BwdReference {
  std::vector<double> dq, dk, dv;  // dense [b, sq, hq, d] / [b, sk, hkv, d]
  std::vector<double> dsum;        // D = rowsum(dO * O_bf16) [b, hq, sq] (what the kernels compute)
  ptxfmha::RefBwdTerms terms;      // per element: l2 of the products, fp32-noise floor
  std::vector<double> d_sink;      // [heads_q] with sinks
};

inline ptxfmha::RefBwdShape ref_bwd_shape(const BwdProblem& p, const uint16_t* o) {
  ptxfmha::RefBwdShape rs{};
  rs.s.batch = p.batch; rs.s.seqlen_q = p.seqlen_q; rs.s.seqlen_k = p.seqlen_k; rs.s.heads_q = p.heads_q;
  rs.s.heads_kv = p.heads_kv; rs.s.head_dim = p.head_dim; rs.s.causal = p.causal;
  rs.s.softmax_scale = static_cast<double>(p.scale());
  for (int i = 0; i < 3; ++i) {
    rs.s.q_stride[i] = p.q.stride[i]; rs.s.k_stride[i] = p.k.stride[i]; rs.s.v_stride[i] = p.v.stride[i];
    rs.do_stride[i] = p.dout.stride[i];
    rs.o_stride[i] = p.o.stride[i];
  }
  rs.o = o;
  rs.window_left = p.window_left;
  rs.window_right = p.window_right;
  rs.softcap = p.softcap;
  rs.alibi_slopes = p.alibi;
  rs.sink_logits = p.sinks;
  return rs;
}

// The gradients of the inputs the kernels get: D from the given bf16 O (reference.h says why).
inline BwdReference bwd_reference(const BwdProblem& p, const BwdHostInputs& in) {
  BwdReference r;
  ptxfmha::reference_bwd(ref_bwd_shape(p, in.o.data()), in.q.data(), in.k.data(), in.v.data(), in.dout.data(), r.dq,
                         r.dk, r.dv, &r.dsum, &r.terms, &r.d_sink);
  return r;
}

struct BwdOutputs {
  std::vector<uint16_t> dq, dk, dv;  // raw buffers (padding included)
  std::vector<uint8_t> ws;           // the workspace after the run (empty unless asked for)
  bool same_bits(const BwdOutputs& b, bool with_dq = true) const {
    return (!with_dq || dq == b.dq) && dk == b.dk && dv == b.dv;
  }
};

// Device side of one backward case: inputs uploaded once; dQ, dK, dV and the workspace
// poisoned (0xFFFF bf16 NaN, 0xFF bytes = fp32 NaN) before every launch.
class BwdDeviceCase {
 public:
  BwdDeviceCase(const BwdProblem& p, const BwdHostInputs& in) : p_(p) {
    q_.alloc(p.q.elems * 2); k_.alloc(p.k.elems * 2); v_.alloc(p.v.elems * 2); o_.alloc(p.o.elems * 2);
    do_.alloc(p.dout.elems * 2); lse_.alloc(std::max<int64_t>(p.lse_elems(), 1) * 4);
    dq_.alloc(p.dq.elems * 2); dk_.alloc(p.dk.elems * 2); dv_.alloc(p.dv.elems * 2);
    q_.upload(in.q); k_.upload(in.k); v_.upload(in.v); o_.upload(in.o); do_.upload(in.dout); lse_.upload(in.lse);
    if (!p.alibi.empty()) { alibi_.alloc(p.alibi.size() * 4); alibi_.upload(p.alibi); }
    if (!p.sinks.empty()) { sinks_.alloc(p.sinks.size() * 4); sinks_.upload(p.sinks); }
    ptxfmha_bwd_params a = params();
    uint64_t bytes = 0;
    const ptxfmha_status st = ptxfmha_bwd_workspace_size(&a, &bytes);
    // ptxfmha_last_error() describes the last *failed* call: read it only after a failure.
    if (st != PTXFMHA_OK) FAIL("ptxfmha_bwd_workspace_size: " << str(ptxfmha_last_error()));
    ws_bytes_ = bytes;
    ws_.alloc(static_cast<std::size_t>(bytes));
  }

  ptxfmha_bwd_params params(CUstream stream = nullptr) const {
    ptxfmha_bwd_params a;
    ptxfmha_bwd_params_init(&a);
    a.q = q_.get(); a.k = k_.get(); a.v = v_.get(); a.o = o_.get(); a.dout = do_.get();
    a.lse = static_cast<const float*>(lse_.get());
    a.dq = dq_.get(); a.dk = dk_.get(); a.dv = dv_.get();
    auto set = [](int64_t* b, int64_t* s, int64_t* h, const Layout& l) { *b = l.stride[0]; *s = l.stride[1]; *h = l.stride[2]; };
    set(&a.q_batch_stride, &a.q_seq_stride, &a.q_head_stride, p_.q);
    set(&a.k_batch_stride, &a.k_seq_stride, &a.k_head_stride, p_.k);
    set(&a.v_batch_stride, &a.v_seq_stride, &a.v_head_stride, p_.v);
    set(&a.o_batch_stride, &a.o_seq_stride, &a.o_head_stride, p_.o);
    set(&a.dout_batch_stride, &a.dout_seq_stride, &a.dout_head_stride, p_.dout);
    set(&a.dq_batch_stride, &a.dq_seq_stride, &a.dq_head_stride, p_.dq);
    set(&a.dk_batch_stride, &a.dk_seq_stride, &a.dk_head_stride, p_.dk);
    set(&a.dv_batch_stride, &a.dv_seq_stride, &a.dv_head_stride, p_.dv);
    a.batch = p_.batch; a.seqlen_q = p_.seqlen_q; a.seqlen_k = p_.seqlen_k;
    a.heads_q = p_.heads_q; a.heads_kv = p_.heads_kv; a.head_dim = p_.head_dim;
    a.softmax_scale = p_.softmax_scale;  // 0 = the library's default 1/sqrt(d), as scale()
    a.causal = p_.causal ? 1 : 0;
    a.deterministic = p_.deterministic ? 1 : 0;
    a.window_left = p_.window_left;
    a.window_right = p_.window_right;
    a.softcap = p_.softcap;
    a.alibi_slopes = p_.alibi.empty() ? nullptr : static_cast<const float*>(alibi_.get());
    a.sink_logits = p_.sinks.empty() ? nullptr : static_cast<const float*>(sinks_.get());
    a.workspace = ws_.get();
    a.workspace_bytes = ws_bytes_;
    a.stream = stream;
    return a;
  }

  void poison(CUstream s = nullptr) {
    dq_.fill16(kPoisonBf16, static_cast<std::size_t>(p_.dq.elems), s);
    dk_.fill16(kPoisonBf16, static_cast<std::size_t>(p_.dk.elems), s);
    dv_.fill16(kPoisonBf16, static_cast<std::size_t>(p_.dv.elems), s);
    ws_.fill32(kPoisonF32, ws_.bytes() / 4, s);
  }
  // Poison, launch (debug scratch when debug != 0; `main`: a main-kernel row, e.g. a variant,
  // instead of the head dim's default), no synchronisation.
  ptxfmha_status launch(CUstream stream = nullptr, uint64_t debug = 0, const ptxfmha::KernelInfo* main = nullptr) {
    poison(stream);
    ptxfmha_bwd_params a = params(stream);
    if (main != nullptr) return ptxfmha::bwd_with_main_row(&a, main, debug);
    return debug ? ptxfmha::bwd_with_debug(&a, debug) : ptxfmha_bwd(&a);
  }
  void download(BwdOutputs* out, bool with_ws = false) const {
    dq_.download(out->dq, static_cast<std::size_t>(p_.dq.elems));
    dk_.download(out->dk, static_cast<std::size_t>(p_.dk.elems));
    dv_.download(out->dv, static_cast<std::size_t>(p_.dv.elems));
    if (with_ws) ws_.download(out->ws, static_cast<std::size_t>(ws_bytes_));
    else out->ws.clear();
  }
  void run(BwdOutputs* out, bool with_ws = false, CUstream stream = nullptr, uint64_t debug = 0,
           const ptxfmha::KernelInfo* main = nullptr) {
    const ptxfmha_status st = launch(stream, debug, main);
    if (st != PTXFMHA_OK)
      FAIL("ptxfmha_bwd: " << str(ptxfmha_status_string(st)) << ": " << str(ptxfmha_last_error()) << " ["
                           << describe(p_) << "]");
    PTXFMHA_CU_CHECK(cu().cuStreamSynchronize(stream));
    download(out, with_ws);
  }
  const BwdProblem& problem() const { return p_; }
  uint64_t workspace_bytes() const { return ws_bytes_; }

 private:
  BwdProblem p_;
  DeviceBuffer q_, k_, v_, o_, do_, lse_, dq_, dk_, dv_, ws_, alibi_, sinks_;
  uint64_t ws_bytes_ = 0;
};

// ---- error figures ------------------------------------------------------------------------
// Why these bounds. Each output element is a sum of products: dQ[i,d] of t_j = scale dS_ij
// K_jd over keys j, dK[j,d] of scale dS_ij Q_id over query rows i (all heads of the group),
// dV[j,d] of P_ij dO_id. The kernels round every dS_ij (dQ, dK) or P_ij (dV) to bf16 before
// its product and the result to bf16; bf16 keeps 8 significant bits, unit roundoff u = 2^-8.
// So the error is a sum of independent terms e_j t_j, |e_j| <= u, plus u |ref| at the end: at
// most u sqrt(n) l2 for n terms (l2 = sqrt(sum t_j^2)), and for many terms about normal with
// standard deviation u / sqrt(3) l2. The bound 4u l2 = 2^-6 l2 is the worst case of up to 16
// terms and 7 standard deviations for many; 2u |ref| = 2^-7 |ref| is twice the output
// rounding. dS itself comes from fp32 dot products that cancel (dP_ij - D_i): an absolute
// error of at most head_dim 2^-24 (<= 2^-16) times their magnitudes, the floor term
// (ptxfmha::RefBwdTerms); it matters only where dS ~ 0, e.g. seqlen_k = 1 (one key: P = 1,
// dS = dP - D = 0 exactly, the kernel gives ~1e-7). A bug that adds or drops one product of
// typical size (l2 / sqrt(n)) exceeds 2^-6 l2 up to n = 4096. tests/test_cpu_bwd_numerics.cpp
// runs an emulation of the kernels' arithmetic through these bounds (it uses about half of
// them) and shows that masking, accumulation, row-indexing and GQA bugs do not pass them.
// rel. L2 and cosine (whole tensor) are checked where the reference lies above its noise
// floor (a zero reference has neither). Bounds against the true gradient (the exact O) would
// not hold: the given O's bf16 rounding moves D_i by ~1e-2 and so dQ of a row that sees few
// keys by ~1e-2 absolute, beyond the kernels' own rounding (test_cpu_bwd_numerics.cpp).
struct BwdTolerance {
  double rel_l2 = 2e-2;
  double cosine = 0.9998;
  double term = 1.0 / 64;      // x l2 of the products
  double elem_rel = 1.0 / 128; // x |ref|
  double floor = 1.0 / 65536;  // x the fp32-noise floor of dS
};
inline BwdTolerance bwd_tolerance() { return BwdTolerance(); }

struct TensorFigures {
  const char* name = "";
  ptxfmha::ErrorStats e;
  long long unwritten = 0, nonfinite = 0, pad_clobbered = 0, empty_row_nonzero = 0;
  long long first_bad = -1;  // dense index
  double got_at_bad = 0, ref_at_bad = 0, tol_at_bad = 0, l2_at_bad = 0;
  double worst_ratio = 0;    // max |got - ref| / bound over the elements (< 1 passes)
  long long worst_at = -1;
  bool at_noise_floor = false;  // reference within its noise floor: no rel. L2 / cosine
};

inline double rms(const std::vector<double>& x) {
  double s = 0;
  for (double v : x) s += v * v;
  return x.empty() ? 0.0 : std::sqrt(s / double(x.size()));
}

// (b, s, h, d) of a dense index of a [batch, seq, heads, head_dim] tensor.
inline std::string dense_position(long long i, int seq, int heads, int head_dim) {
  if (i < 0) return "-";
  const long long d = i % head_dim, r = i / head_dim, h = r % heads, r2 = r / heads, s = r2 % seq, b = r2 / seq;
  return "(b=" + std::to_string(b) + " s=" + std::to_string(s) + " h=" + std::to_string(h) + " d=" + std::to_string(d) + ")";
}

// Figures of one bf16 output against its dense float64 reference, with the per-element
// l2 of the products and noise floor (floor may be null: none). empty_rows (optional, per
// (b, s, h) row of the tensor) marks rows whose result must be exactly 0.
inline TensorFigures evaluate_tensor(const char* name, const std::vector<uint16_t>& raw, const Layout& l, int batch,
                                     int seq, int heads, int head_dim, const std::vector<double>& ref,
                                     const std::vector<double>& l2, const std::vector<double>* floor,
                                     const BwdTolerance& tol, const std::vector<char>* empty_rows = nullptr) {
  TensorFigures f;
  f.name = name;
  std::vector<double> dense(ref.size());
  std::vector<char> inside(raw.size(), 0);
  std::size_t n = 0;
  for (int b = 0; b < batch; ++b)
    for (int s = 0; s < seq; ++s)
      for (int h = 0; h < heads; ++h) {
        const bool empty = empty_rows && (*empty_rows)[(std::size_t(b) * seq + s) * heads + h];
        for (int d = 0; d < head_dim; ++d, ++n) {
          const std::size_t at = static_cast<std::size_t>(elem_index(l, b, s, h, d));
          inside[at] = 1;
          const double x = ptxfmha::bf16_to_float(raw[at]);
          if (raw[at] == kPoisonBf16) ++f.unwritten;
          if (!std::isfinite(x)) ++f.nonfinite;
          if (empty && x != 0.0) ++f.empty_row_nonzero;
          dense[n] = x;
        }
      }
  for (std::size_t i = 0; i < raw.size(); ++i)
    if (!inside[i] && raw[i] != kPoisonBf16) ++f.pad_clobbered;
  // rel. L2 / cosine / max_abs (compare's own element test is not used: the bound is per element)
  f.e = ptxfmha::compare(dense.data(), ref.data(), dense.size(), std::numeric_limits<double>::infinity(), 0.0);
  double ref2 = 0, floor2 = 0;
  for (std::size_t i = 0; i < dense.size(); ++i) {
    const double fl = floor ? tol.floor * (*floor)[i] : 0.0;
    const double bound = tol.term * l2[i] + tol.elem_rel * std::fabs(ref[i]) + fl;
    const double err = std::fabs(dense[i] - ref[i]);
    ref2 += ref[i] * ref[i];
    floor2 += fl * fl;
    const double ratio = bound > 0 ? err / bound : (err > 0 ? std::numeric_limits<double>::infinity() : 0.0);
    if (!(ratio <= f.worst_ratio)) {  // NaN lands here too
      f.worst_ratio = std::isnan(ratio) ? std::numeric_limits<double>::infinity() : ratio;
      f.worst_at = static_cast<long long>(i);
    }
    if (!(err <= bound) && f.first_bad < 0) {
      f.first_bad = static_cast<long long>(i);
      f.got_at_bad = dense[i];
      f.ref_at_bad = ref[i];
      f.tol_at_bad = bound;
      f.l2_at_bad = l2[i];
    }
  }
  // A reference no larger than 16 x its noise floor has no meaningful direction or relative size.
  f.at_noise_floor = !(std::sqrt(ref2) > 16.0 * std::sqrt(floor2));
  return f;
}

inline std::string describe(const TensorFigures& f) {
  char buf[240];
  std::snprintf(buf, sizeof buf, "%s: max_abs=%.3e rel_l2=%.3e cos=%.7f bound_use=%.3f", f.name, f.e.max_abs,
                f.e.rel_l2, f.e.cosine, f.worst_ratio);
  std::string s = buf;
  if (f.at_noise_floor) s += " (reference at its noise floor)";
  if (f.unwritten) s += " unwritten=" + std::to_string(f.unwritten);
  if (f.nonfinite) s += " nonfinite=" + std::to_string(f.nonfinite);
  if (f.pad_clobbered) s += " pad_clobbered=" + std::to_string(f.pad_clobbered);
  if (f.empty_row_nonzero) s += " empty_row_nonzero=" + std::to_string(f.empty_row_nonzero);
  return s;
}

// "" when within bounds, else why (first bad element with its position and values).
inline std::string tensor_failure(const TensorFigures& f, const BwdTolerance& tol, int seq, int heads, int head_dim) {
  std::ostringstream s;
  if (f.unwritten) s << f.name << ": " << f.unwritten << " elements never written; ";
  if (f.nonfinite) s << f.name << ": " << f.nonfinite << " elements NaN/Inf; ";
  if (f.pad_clobbered) s << f.name << ": " << f.pad_clobbered << " padding elements overwritten; ";
  if (f.empty_row_nonzero) s << f.name << ": " << f.empty_row_nonzero << " elements of rows without keys not 0; ";
  if (!f.at_noise_floor) {
    if (!(f.e.rel_l2 <= tol.rel_l2)) s << f.name << ": rel_l2 " << f.e.rel_l2 << " > " << tol.rel_l2 << "; ";
    if (!(f.e.cosine >= tol.cosine)) s << f.name << ": cosine " << f.e.cosine << " < " << tol.cosine << "; ";
  }
  if (f.first_bad >= 0)
    s << f.name << ": first element over its bound at " << dense_position(f.first_bad, seq, heads, head_dim) << " got "
      << f.got_at_bad << " ref " << f.ref_at_bad << " |err| " << std::fabs(f.got_at_bad - f.ref_at_bad) << " > bound "
      << f.tol_at_bad << " (l2 of its products " << f.l2_at_bad << "); worst |err|/bound " << f.worst_ratio << " at "
      << dense_position(f.worst_at, seq, heads, head_dim) << "; ";
  return s.str();
}

struct BwdFigures {
  TensorFigures dq, dk, dv;
};

// Rows (b, s, h) of dQ that see no key (bottom-right causal with seqlen_q > seqlen_k, or a
// window's band outside [0, seqlen_k)).
inline std::vector<char> empty_query_rows(const BwdProblem& p) {
  std::vector<char> e(std::size_t(p.batch) * p.seqlen_q * p.heads_q, 0);
  const int right = p.causal ? 0 : p.window_right;
  for (int b = 0; b < p.batch; ++b)
    for (int s = 0; s < p.seqlen_q; ++s) {
      const int64_t d = int64_t(s) + p.seqlen_k - p.seqlen_q;
      const int64_t hi = right < 0 ? p.seqlen_k : std::min<int64_t>(p.seqlen_k, d + right + 1);
      const int64_t lo = p.window_left < 0 ? 0 : std::max<int64_t>(0, d - p.window_left);
      if (lo >= hi)
        for (int h = 0; h < p.heads_q; ++h) e[(std::size_t(b) * p.seqlen_q + s) * p.heads_q + h] = 1;
    }
  return e;
}

inline BwdFigures evaluate_bwd(const BwdProblem& p, const BwdOutputs& got, const BwdReference& ref,
                               const BwdTolerance& tol = bwd_tolerance()) {
  BwdFigures f;
  const std::vector<char> empty = empty_query_rows(p);
  f.dq = evaluate_tensor("dQ", got.dq, p.dq, p.batch, p.seqlen_q, p.heads_q, p.head_dim, ref.dq, ref.terms.dq_l2,
                         &ref.terms.dq_floor, tol, &empty);
  f.dk = evaluate_tensor("dK", got.dk, p.dk, p.batch, p.seqlen_k, p.heads_kv, p.head_dim, ref.dk, ref.terms.dk_l2,
                         &ref.terms.dk_floor, tol);
  f.dv = evaluate_tensor("dV", got.dv, p.dv, p.batch, p.seqlen_k, p.heads_kv, p.head_dim, ref.dv, ref.terms.dv_l2,
                         nullptr, tol);
  return f;
}

inline std::string bwd_failure(const BwdProblem& p, const BwdFigures& f, const BwdTolerance& tol = bwd_tolerance()) {
  return tensor_failure(f.dq, tol, p.seqlen_q, p.heads_q, p.head_dim) +
         tensor_failure(f.dk, tol, p.seqlen_k, p.heads_kv, p.head_dim) +
         tensor_failure(f.dv, tol, p.seqlen_k, p.heads_kv, p.head_dim);
}

// ---- workspace checks (the preprocess kernel's D and -LSE*log2e, the main kernel's dQ
// accumulator before the postprocess kernel: the tiles some n-block stored, semaphore >= 1;
// the others are never written, kernel.ptxh "dQ accumulation order") ------------------------
struct WorkspaceFigures {
  long long dsum_bad = 0, nlse_bad = 0, acc_bad = 0, acc_pad_nonzero = 0;
  std::string first;  // the first failure, with its position
  double dsum_max_err = 0, nlse_max_err = 0;
  double acc_rel_l2 = 0;
};

// Decodes the workspace after a run: the layout of host/src/bwd.h and the tile / fragment
// order of ptx/body/sm90_bwd/layout.ptxh for the main kernel row `main`.
inline WorkspaceFigures evaluate_workspace(const BwdProblem& p, const BwdHostInputs& in, const BwdReference& ref,
                                           const std::vector<uint8_t>& ws, const ptxfmha::KernelInfo& main) {
  WorkspaceFigures w;
  ptxfmha::BwdWorkspaceLayout l;
  REQUIRE(ptxfmha::bwd_workspace_layout(p.batch, p.heads_q, p.seqlen_q, p.head_dim, &l));
  REQUIRE(ws.size() >= l.bytes);
  const int bm = main.block_m, D = p.head_dim;
  const int nm = (p.seqlen_q + bm - 1) / bm, sqp = nm * bm;
  auto f32 = [&](uint64_t off) {
    float x;
    std::memcpy(&x, ws.data() + off, 4);
    return x;
  };
  auto note = [&](const std::string& s) {
    if (w.first.empty()) w.first = s;
  };
  const double log2e = 1.4426950408889634;
  for (int b = 0; b < p.batch; ++b)
    for (int h = 0; h < p.heads_q; ++h)
      for (int r = 0; r < sqp; ++r) {
        const uint64_t idx = (uint64_t(b) * p.heads_q + h) * sqp + r;
        const float ds = f32(l.dsum + idx * 4), nl = f32(l.nlse + idx * 4);
        const std::string where = "(b=" + std::to_string(b) + " h=" + std::to_string(h) + " row=" + std::to_string(r) + ")";
        if (r >= p.seqlen_q) {
          if (ds != 0.0f) { ++w.dsum_bad; note("D of padding row " + where + " = " + std::to_string(ds) + ", not 0"); }
          if (!(std::isinf(nl) && nl < 0)) { ++w.nlse_bad; note("-LSE*log2e of padding row " + where + " not -inf"); }
          continue;
        }
        const std::size_t ri = (std::size_t(b) * p.heads_q + h) * p.seqlen_q + r;
        const double dref = ref.dsum[ri];
        double mag = 0;
        for (int d = 0; d < D; ++d)
          mag += std::fabs(double(ptxfmha::bf16_to_float(in.dout[std::size_t(elem_index(p.dout, b, r, h, d))])) *
                           double(ptxfmha::bf16_to_float(in.o[std::size_t(elem_index(p.o, b, r, h, d))])));
        const double derr = std::fabs(double(ds) - dref);
        w.dsum_max_err = std::max(w.dsum_max_err, std::isfinite(derr) ? derr : 1e30);
        if (!(derr <= 1e-5 + 4e-5 * mag)) { ++w.dsum_bad; note("D " + where + " = " + std::to_string(ds) + ", ref " + std::to_string(dref)); }
        const float lse = in.lse[ri];
        if (std::isinf(lse) && lse < 0) {
          if (!(std::isinf(nl) && nl < 0)) { ++w.nlse_bad; note("-LSE*log2e " + where + " (LSE -inf) not -inf"); }
        } else {
          const double nref = -double(lse) * log2e, e = std::fabs(double(nl) - nref);
          w.nlse_max_err = std::max(w.nlse_max_err, std::isfinite(e) ? e : 1e30);
          if (!(e <= 1e-6 * (1 + std::fabs(nref)))) { ++w.nlse_bad; note("-LSE*log2e " + where + " = " + std::to_string(nl) + ", ref " + std::to_string(nref)); }
        }
      }
  // dQ accumulator: tile (b, h, m), warpgroup part wg, float4 v of thread t, element j.
  const bool rows_by_wg = SM90_BWD_DQ_ROWS_BY_WG(bm);
  const int dq_n = SM90_BWD_DQ_N(D, bm);
  double num = 0, den = 0;
  const double scale = p.scale();
  for (int b = 0; b < p.batch; ++b)
    for (int h = 0; h < p.heads_q; ++h)
      for (int m = 0; m < nm; ++m) {
        const uint64_t tile_index = (uint64_t(b) * p.heads_q + h) * nm + m;
        uint32_t sem = 0;  // contributors that added (1 in fast mode): 0 = nobody stored the tile
        std::memcpy(&sem, ws.data() + l.sem + tile_index * 4, 4);
        if (sem == 0) continue;  // its rows see no key: fmha_bwd_post writes dQ = 0 there
        const uint64_t tile = tile_index * uint64_t(bm) * D;
        for (int wg = 0; wg < 2; ++wg)
          for (int t = 0; t < 128; ++t)
            for (int v = 0; v < dq_n / 8; ++v)
              for (int j = 0; j < 4; ++j) {
                const uint64_t off = tile + uint64_t(wg) * 64 * dq_n + uint64_t(v * 128 + t) * 4 + j;
                int row = 16 * (t / 32) + (t % 32) / 4 + (j >= 2 ? 8 : 0), col = 8 * v + 2 * (t % 4) + (j % 2);
                if (rows_by_wg) row += 64 * wg; else col += dq_n * wg;
                const int q = m * bm + row;
                const float x = f32(l.dq_acc + off * 4);
                if (q >= p.seqlen_q) {
                  if (x != 0.0f) { ++w.acc_pad_nonzero; note("dQ accumulator of padding row " + std::to_string(q) + " not 0"); }
                  continue;
                }
                const double r = ref.dq[((std::size_t(b) * p.seqlen_q + q) * p.heads_q + h) * D + col] / scale;
                if (!std::isfinite(x)) { ++w.acc_bad; note("dQ accumulator NaN/Inf at (b=" + std::to_string(b) + " s=" + std::to_string(q) + " h=" + std::to_string(h) + " d=" + std::to_string(col) + ")"); continue; }
                num += (x - r) * (x - r);
                den += r * r;
              }
      }
  w.acc_rel_l2 = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  if (!(w.acc_rel_l2 <= bwd_tolerance().rel_l2)) {
    ++w.acc_bad;
    note("dQ accumulator (before the postprocess kernel) rel_l2 " + std::to_string(w.acc_rel_l2));
  }
  return w;
}

}  // namespace ptxfmha_test
