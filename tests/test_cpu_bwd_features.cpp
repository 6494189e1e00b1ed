// CPU tests of the float64 backward reference with the serving features (host/src/
// reference_bwd.cpp; RefBwdShape's window, softcap, ALiBi, sinks), the yardstick of the GPU
// feature tests:
//   - finite differences per feature and combined: central differences of L = sum(dO * O)
//     (reference_fwd_f64 with the same features) match reference_bwd_f64's dQ, dK, dV, and
//     d_sink (perturbing the sink logits); mutations are caught by the same check (the
//     softcap derivative dropped, the window one key off, the ALiBi slope's sign, d_sink's
//     sign);
//   - the features' forward (LSE and O of reference_fwd_f64) equals the forward's own feature
//     reference (ptxfmha::reference_attn, written independently) on bf16 inputs;
//   - the reference's limits: an unbounded window and softcap 0 are the plain function.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gpu_util.h"
#include "bwd_ref_util.h"
#include "ptxfmha/reference.h"

using namespace ptxfmha_test;

namespace {

struct FeatCase {
  const char* what;
  int b, sq, sk, hq, hkv, d;
  bool causal;
  int wl, wr;
  double softcap;
  bool alibi, sinks;
};

ptxfmha::RefBwdShape feat_shape(const FeatCase& t) {
  ptxfmha::RefBwdShape r{};
  ptxfmha::RefShape& s = r.s;
  s.batch = t.b; s.seqlen_q = t.sq; s.seqlen_k = t.sk; s.heads_q = t.hq; s.heads_kv = t.hkv;
  s.head_dim = t.d; s.causal = t.causal; s.softmax_scale = 0.5;
  s.q_stride[2] = t.d; s.q_stride[1] = int64_t(t.hq) * t.d; s.q_stride[0] = int64_t(t.sq) * t.hq * t.d;
  s.k_stride[2] = t.d; s.k_stride[1] = int64_t(t.hkv) * t.d; s.k_stride[0] = int64_t(t.sk) * t.hkv * t.d;
  for (int i = 0; i < 3; ++i) { s.v_stride[i] = s.k_stride[i]; r.do_stride[i] = s.q_stride[i]; }
  r.window_left = t.wl;
  r.window_right = t.wr;
  r.softcap = t.softcap;
  for (int h = 0; h < t.hq; ++h) {
    if (t.alibi) r.alibi_slopes.push_back(0.25f / float(1 << h));   // exact in float
    if (t.sinks) r.sink_logits.push_back(0.5f - 0.75f * float(h));  // exact in float
  }
  return r;
}


struct FdResult {
  int bad = 0, checked = 0;
  double worst = 0;
};

// The gradients of `analytic` against finite differences of the loss under `truth`.
FdResult fd_check(const FeatCase& t, const ptxfmha::RefBwdShape& truth, const ptxfmha::RefBwdShape& analytic,
                  uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> q = normal_f64(std::size_t(t.b) * t.sq * t.hq * t.d, rng);
  std::vector<double> k = normal_f64(std::size_t(t.b) * t.sk * t.hkv * t.d, rng);
  std::vector<double> v = normal_f64(k.size(), rng);
  std::vector<double> dout = normal_f64(q.size(), rng);
  std::vector<double> dq, dk, dv, dsink;
  ptxfmha::reference_bwd_f64(analytic, q.data(), k.data(), v.data(), dout.data(), dq, dk, dv, nullptr, &dsink);
  FdResult r;
  auto judge = [&](double fd, double an, double abs_tol, double rel_tol) {
    const double err = std::fabs(fd - an);
    r.worst = std::max(r.worst, err / (abs_tol + rel_tol * std::fabs(an)));
    ++r.checked;
    if (!(err <= abs_tol + rel_tol * std::fabs(an))) ++r.bad;
  };
  const double h = 1e-5;
  auto check = [&](std::vector<double>& x, const std::vector<double>& grad) {
    for (std::size_t i = 0; i < x.size(); ++i)
      judge(central_diff(x, i, h, [&] { return fd_loss(truth, q, k, v, dout); }), grad[i], 1e-7, 1e-6);
  };
  check(q, dq);
  check(k, dk);
  check(v, dv);
  if (!truth.sink_logits.empty()) {  // sink logits are float: steps of 2^-12 keep them exact
    const float hs = 1.0f / 4096;
    for (int hh = 0; hh < t.hq; ++hh) {
      ptxfmha::RefBwdShape p = truth, m = truth;
      p.sink_logits[std::size_t(hh)] += hs;
      m.sink_logits[std::size_t(hh)] -= hs;
      judge((fd_loss(p, q, k, v, dout) - fd_loss(m, q, k, v, dout)) / (2.0 * double(hs)), dsink[std::size_t(hh)], 1e-6, 1e-5);
    }
  }
  return r;
}

const FeatCase kCases[] = {
    {"window (2, 1)", 1, 6, 7, 2, 1, 4, false, 2, 1, 0, false, false},
    {"window left 1 + causal", 2, 5, 5, 2, 2, 4, true, 1, -1, 0, false, false},
    {"window left only, Sq > Sk", 1, 7, 4, 2, 1, 4, false, 0, -1, 0, false, false},
    {"window right 0 (causal) Sq > Sk: rows without keys", 1, 6, 3, 1, 1, 4, false, -1, 0, 0, false, false},
    {"softcap 1.5", 1, 4, 5, 2, 1, 8, false, -1, -1, 1.5, false, false},
    {"softcap 0.7 + causal", 1, 5, 5, 1, 1, 4, true, -1, -1, 0.7, false, false},
    {"ALiBi", 1, 5, 6, 2, 2, 4, false, -1, -1, 0, true, false},
    {"ALiBi + causal, GQA 2", 1, 6, 4, 4, 2, 4, true, -1, -1, 0, true, false},
    {"sinks (d_sink)", 2, 4, 5, 2, 1, 4, false, -1, -1, 0, false, true},
    {"sinks + causal, rows without keys", 1, 6, 3, 2, 2, 4, true, -1, -1, 0, false, true},
    {"everything: window, causal, softcap, ALiBi, sinks, GQA 2", 2, 7, 6, 2, 1, 4, true, 2, -1, 1.25, true, true},
};

}  // namespace

TEST_CASE("bwd reference features: finite differences match dQ, dK, dV and d_sink per feature and combined") {
  uint64_t seed = 71;
  for (const FeatCase& t : kCases) {
    CAPTURE(std::string(t.what));
    const ptxfmha::RefBwdShape rs = feat_shape(t);
    const FdResult r = fd_check(t, rs, rs, seed++);
    CHECK_MESSAGE(r.bad == 0, std::string(t.what) << ": " << r.bad << " of " << r.checked
                                     << " gradient elements differ from finite differences (worst ratio " << r.worst << ")");
    MESSAGE("FD " << std::string(t.what) << ": " << r.checked << " elements, worst |fd-an| / tol = " << r.worst);
  }
}

TEST_CASE("bwd reference features: mutations (softcap derivative, window off by one, ALiBi sign, d_sink sign) are caught") {
  struct Mut {
    const char* what;
    FeatCase t;
    void (*mutate)(ptxfmha::RefBwdShape&);
  };
  const Mut muts[] = {
      {"softcap derivative dropped (gradients of the uncapped scores)", kCases[4],
       [](ptxfmha::RefBwdShape& r) { r.softcap = 0; }},
      {"window left one key wider", kCases[0], [](ptxfmha::RefBwdShape& r) { r.window_left += 1; }},
      {"window right one key narrower", kCases[0], [](ptxfmha::RefBwdShape& r) { r.window_right -= 1; }},
      {"ALiBi slopes of the opposite sign", kCases[6],
       [](ptxfmha::RefBwdShape& r) { for (float& x : r.alibi_slopes) x = -x; }},
      {"sink logits shifted (d_sink and the softmax of another sink)", kCases[8],
       [](ptxfmha::RefBwdShape& r) { for (float& x : r.sink_logits) x += 1.0f; }},
  };
  uint64_t seed = 171;
  for (const Mut& m : muts) {
    const ptxfmha::RefBwdShape truth = feat_shape(m.t);
    ptxfmha::RefBwdShape wrong = truth;
    m.mutate(wrong);
    const FdResult r = fd_check(m.t, truth, wrong, seed++);
    CHECK_MESSAGE(r.bad > 0, "mutation not caught: " << std::string(m.what));
  }
}

TEST_CASE("bwd reference features: d_sink equals -sum exp(t - LSE) D and its sign flip is caught") {
  const FeatCase t = kCases[8];
  const ptxfmha::RefBwdShape rs = feat_shape(t);
  std::mt19937_64 rng(5);
  std::vector<double> q = normal_f64(std::size_t(t.b) * t.sq * t.hq * t.d, rng);
  std::vector<double> k = normal_f64(std::size_t(t.b) * t.sk * t.hkv * t.d, rng);
  std::vector<double> v = normal_f64(k.size(), rng), dout = normal_f64(q.size(), rng);
  std::vector<double> dq, dk, dv, dsum, dsink, o, lse;
  ptxfmha::reference_bwd_f64(rs, q.data(), k.data(), v.data(), dout.data(), dq, dk, dv, &dsum, &dsink);
  ptxfmha::reference_fwd_f64(rs, q.data(), k.data(), v.data(), o, lse);
  for (int h = 0; h < t.hq; ++h) {
    double want = 0;
    for (int b = 0; b < t.b; ++b)
      for (int i = 0; i < t.sq; ++i) {
        const std::size_t ri = (std::size_t(b) * t.hq + h) * t.sq + i;
        double d = 0;  // D from the forward's O
        for (int x = 0; x < t.d; ++x) d += dout[((std::size_t(b) * t.sq + i) * t.hq + h) * t.d + x] * o[((std::size_t(b) * t.sq + i) * t.hq + h) * t.d + x];
        want -= std::exp(double(rs.sink_logits[std::size_t(h)]) - lse[ri]) * d;
      }
    CHECK(std::fabs(dsink[std::size_t(h)] - want) <= 1e-12 * (1 + std::fabs(want)));
    CHECK(std::fabs(-dsink[std::size_t(h)] - want) > 1e-6);  // the sign matters (want != 0)
  }
}

TEST_CASE("bwd reference features: the forward part equals reference_attn (LSE, O) on bf16 inputs") {
  uint64_t seed = 901;
  for (const FeatCase& t : kCases) {
    CAPTURE(std::string(t.what));
    const ptxfmha::RefBwdShape rs = feat_shape(t);
    std::mt19937_64 rng(seed++);
    std::vector<double> qd = normal_f64(std::size_t(t.b) * t.sq * t.hq * t.d, rng);
    std::vector<double> kd = normal_f64(std::size_t(t.b) * t.sk * t.hkv * t.d, rng);
    std::vector<double> vd = normal_f64(kd.size(), rng);
    std::vector<uint16_t> q(qd.size()), k(kd.size()), v(vd.size());
    for (std::size_t i = 0; i < qd.size(); ++i) { q[i] = ptxfmha::float_to_bf16(float(qd[i])); qd[i] = ptxfmha::bf16_to_float(q[i]); }
    for (std::size_t i = 0; i < kd.size(); ++i) {
      k[i] = ptxfmha::float_to_bf16(float(kd[i])); kd[i] = ptxfmha::bf16_to_float(k[i]);
      v[i] = ptxfmha::float_to_bf16(float(vd[i])); vd[i] = ptxfmha::bf16_to_float(v[i]);
    }
    std::vector<double> o, lse;
    ptxfmha::reference_fwd_f64(rs, qd.data(), kd.data(), vd.data(), o, lse);
    ptxfmha::RefAttnProblem ap;
    ap.batch = t.b; ap.heads_q = t.hq; ap.heads_kv = t.hkv; ap.head_dim = t.d; ap.softmax_scale = rs.s.softmax_scale;
    ap.causal = t.causal; ap.window_left = t.wl; ap.window_right = t.wr; ap.softcap = t.softcap;
    ap.sink_logits = rs.sink_logits; ap.alibi_slopes = rs.alibi_slopes;
    ap.seqlen_q = t.sq; ap.seqlen_k = t.sk;
    for (int i = 0; i < 3; ++i) {
      ap.q_stride[i] = rs.s.q_stride[i]; ap.k_stride[i] = rs.s.k_stride[i]; ap.v_stride[i] = rs.s.v_stride[i];
    }
    ptxfmha::RefAttnResult ar;
    ptxfmha::reference_attn(ap, q.data(), k.data(), v.data(), &ar);
    double worst_lse = 0, worst_o = 0;
    for (int b = 0; b < t.b; ++b)
      for (int h = 0; h < t.hq; ++h)
        for (int i = 0; i < t.sq; ++i) {
          const double a = lse[(std::size_t(b) * t.hq + h) * t.sq + i], r = ar.lse[(std::size_t(b) * t.hq + h) * t.sq + i];
          if (std::isinf(a) || std::isinf(r)) {
            CHECK(a == r);
            continue;
          }
          worst_lse = std::max(worst_lse, std::fabs(a - r));
          for (int x = 0; x < t.d; ++x) {
            const std::size_t at = ((std::size_t(b) * t.sq + i) * t.hq + h) * t.d + x;
            worst_o = std::max(worst_o, std::fabs(o[at] - ar.o[at]));
          }
        }
    CHECK(worst_lse <= 1e-12);
    CHECK(worst_o <= 1e-12);
  }
}

TEST_CASE("bwd reference features: an unbounded window and softcap 0 are the plain gradients") {
  FeatCase t{"plain", 1, 5, 6, 2, 1, 4, true, -1, -1, 0, false, false};
  ptxfmha::RefBwdShape plain = feat_shape(t), wide = plain;
  wide.window_left = 100;  // wider than the sequence
  std::mt19937_64 rng(3);
  std::vector<double> q = normal_f64(std::size_t(t.sq) * t.hq * t.d, rng), k = normal_f64(std::size_t(t.sk) * t.hkv * t.d, rng);
  std::vector<double> v = normal_f64(k.size(), rng), dout = normal_f64(q.size(), rng);
  std::vector<double> a[3], b[3];
  ptxfmha::reference_bwd_f64(plain, q.data(), k.data(), v.data(), dout.data(), a[0], a[1], a[2]);
  ptxfmha::reference_bwd_f64(wide, q.data(), k.data(), v.data(), dout.data(), b[0], b[1], b[2]);
  for (int i = 0; i < 3; ++i) CHECK(a[i] == b[i]);
}
