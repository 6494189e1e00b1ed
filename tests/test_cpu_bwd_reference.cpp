// CPU tests of the float64 backward reference (host/src/reference_bwd.cpp), the yardstick of
// the GPU backward tests:
//   - finite differences: central differences of L = sum(dO * O(Q, K, V)) (float64 forward)
//     match reference_bwd_f64's dQ, dK, dV on tiny problems (causal / not, seqlen_q > seqlen_k
//     so that rows see no key, GQA 2, a non-default scale); a mutated gradient (the causal
//     flag flipped) is caught by the same check;
//   - an independent computation from the bf16 inputs: P from the forward reference's LSE,
//     dP = dO V^T, D = rowsum(P * dP) (not dO * O), dS = P (dP - D), dQ = scale dS K,
//     dK = scale dS^T Q, dV = P^T dO, summed over each GQA group by hand;
//   - GQA: a ratio-4 problem equals its MHA expansion (K, V replicated per query head) with
//     dK, dV summed over the group;
//   - strided inputs (BHSD, padding) give the same result as dense ones;
//   - rows without a visible key have dQ = 0 and D = 0.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "gpu_util.h"
#include "bwd_ref_util.h"
#include "ptxfmha/reference.h"

using namespace ptxfmha_test;

namespace {

struct Tiny {
  int b, sq, sk, hq, hkv, d;
  bool causal;
  double scale;
};

// Dense BSHD RefBwdShape.
ptxfmha::RefBwdShape dense_shape(const Tiny& t) {
  ptxfmha::RefBwdShape r{};
  ptxfmha::RefShape& s = r.s;
  s.batch = t.b; s.seqlen_q = t.sq; s.seqlen_k = t.sk; s.heads_q = t.hq; s.heads_kv = t.hkv;
  s.head_dim = t.d; s.causal = t.causal; s.softmax_scale = t.scale;
  s.q_stride[2] = t.d; s.q_stride[1] = int64_t(t.hq) * t.d; s.q_stride[0] = int64_t(t.sq) * t.hq * t.d;
  s.k_stride[2] = t.d; s.k_stride[1] = int64_t(t.hkv) * t.d; s.k_stride[0] = int64_t(t.sk) * t.hkv * t.d;
  for (int i = 0; i < 3; ++i) { s.v_stride[i] = s.k_stride[i]; r.do_stride[i] = s.q_stride[i]; }
  return r;
}


// max over elements of |fd - an| / (1e-7 + |an|) style check; returns the number of
// elements off by more than abs_tol + rel_tol * |an|.
int fd_mismatches(const Tiny& t, const ptxfmha::RefBwdShape& analytic_shape, uint64_t seed, double* worst) {
  std::mt19937_64 rng(seed);
  const ptxfmha::RefBwdShape rs = dense_shape(t);
  std::vector<double> q = normal_f64(std::size_t(t.b) * t.sq * t.hq * t.d, rng);
  std::vector<double> k = normal_f64(std::size_t(t.b) * t.sk * t.hkv * t.d, rng);
  std::vector<double> v = normal_f64(k.size(), rng);
  std::vector<double> dout = normal_f64(q.size(), rng);
  std::vector<double> dq, dk, dv;
  ptxfmha::reference_bwd_f64(analytic_shape, q.data(), k.data(), v.data(), dout.data(), dq, dk, dv);
  const double h = 1e-5, abs_tol = 1e-7, rel_tol = 1e-6;
  int bad = 0;
  *worst = 0;
  auto check = [&](std::vector<double>& x, const std::vector<double>& grad) {
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double fd = central_diff(x, i, h, [&] { return fd_loss(rs, q, k, v, dout); });
      const double err = std::fabs(fd - grad[i]);
      *worst = std::max(*worst, err / (abs_tol + rel_tol * std::fabs(grad[i])));
      if (!(err <= abs_tol + rel_tol * std::fabs(grad[i]))) ++bad;
    }
  };
  check(q, dq);
  check(k, dk);
  check(v, dv);
  return bad;
}

}  // namespace

TEST_CASE("bwd reference: finite differences of sum(dO * O) match dQ, dK, dV (float64)") {
  const Tiny cases[] = {
      {1, 3, 4, 1, 1, 4, false, 0.5},
      {1, 4, 4, 2, 2, 4, true, 0.5},
      {2, 5, 3, 2, 1, 8, true, 0.35},   // seqlen_q > seqlen_k: rows 0, 1 see no key; GQA 2
      {1, 3, 6, 4, 2, 4, true, 1.0},    // seqlen_k > seqlen_q, GQA 2
      {1, 6, 5, 3, 3, 8, false, 0.125},
  };
  uint64_t seed = 11;
  for (const Tiny& t : cases) {
    CAPTURE(t.sq); CAPTURE(t.sk); CAPTURE(t.hq); CAPTURE(t.hkv); CAPTURE(t.causal);
    double worst = 0;
    const int bad = fd_mismatches(t, dense_shape(t), seed++, &worst);
    CHECK_MESSAGE(bad == 0, bad << " gradient elements differ from finite differences (worst ratio " << worst << ")");
    MESSAGE("FD check sq=" << t.sq << " sk=" << t.sk << " hq=" << t.hq << " hkv=" << t.hkv << " causal=" << t.causal
                           << ": worst |fd-an| / (1e-7 + 1e-6|an|) = " << worst);
  }
  // Mutation: the gradient of the non-causal function is wrong for the causal one.
  const Tiny t{1, 4, 4, 2, 1, 4, true, 0.5};
  ptxfmha::RefBwdShape wrong = dense_shape(t);
  wrong.s.causal = false;
  double worst = 0;
  CHECK(fd_mismatches(t, wrong, 99, &worst) > 0);
}

namespace {

struct BwdCase {
  Tiny t;
  Layout q, k, v, dout;
};

// Independent dense-matrix computation from the bf16 inputs (see the file comment).
void independent_grads(const BwdCase& c, const std::vector<uint16_t>& q, const std::vector<uint16_t>& k,
                       const std::vector<uint16_t>& v, const std::vector<uint16_t>& dout,
                       std::vector<double>& dq, std::vector<double>& dk, std::vector<double>& dv) {
  const Tiny& t = c.t;
  ptxfmha::RefShape s{};
  s.batch = t.b; s.seqlen_q = t.sq; s.seqlen_k = t.sk; s.heads_q = t.hq; s.heads_kv = t.hkv; s.head_dim = t.d;
  s.causal = t.causal; s.softmax_scale = t.scale;
  for (int i = 0; i < 3; ++i) { s.q_stride[i] = c.q.stride[i]; s.k_stride[i] = c.k.stride[i]; s.v_stride[i] = c.v.stride[i]; }
  std::vector<double> o, lse;
  ptxfmha::reference_fwd(s, q.data(), k.data(), v.data(), o, lse);
  auto f = [](uint16_t x) { return double(ptxfmha::bf16_to_float(x)); };
  const int D = t.d, ratio = t.hq / t.hkv;
  dq.assign(std::size_t(t.b) * t.sq * t.hq * D, 0.0);
  dk.assign(std::size_t(t.b) * t.sk * t.hkv * D, 0.0);
  dv.assign(dk.size(), 0.0);
  std::vector<double> P(std::size_t(t.sq) * t.sk), dP(P.size()), dS(P.size());
  for (int b = 0; b < t.b; ++b)
    for (int h = 0; h < t.hq; ++h) {
      const int g = h / ratio;
      for (int i = 0; i < t.sq; ++i)
        for (int j = 0; j < t.sk; ++j) {
          const bool visible = !t.causal || j <= i + t.sk - t.sq;
          const double l = lse[(std::size_t(b) * t.hq + h) * t.sq + i];
          double s_ij = 0, dp_ij = 0;
          for (int d = 0; d < D; ++d) {
            s_ij += f(q[elem_index(c.q, b, i, h, d)]) * f(k[elem_index(c.k, b, j, g, d)]);
            dp_ij += f(dout[elem_index(c.dout, b, i, h, d)]) * f(v[elem_index(c.v, b, j, g, d)]);
          }
          P[std::size_t(i) * t.sk + j] = (visible && std::isfinite(l)) ? std::exp(t.scale * s_ij - l) : 0.0;
          dP[std::size_t(i) * t.sk + j] = dp_ij;
        }
      for (int i = 0; i < t.sq; ++i) {
        double Di = 0;
        for (int j = 0; j < t.sk; ++j) Di += P[std::size_t(i) * t.sk + j] * dP[std::size_t(i) * t.sk + j];
        for (int j = 0; j < t.sk; ++j)
          dS[std::size_t(i) * t.sk + j] = P[std::size_t(i) * t.sk + j] * (dP[std::size_t(i) * t.sk + j] - Di);
      }
      for (int i = 0; i < t.sq; ++i)
        for (int d = 0; d < D; ++d) {
          double acc = 0;
          for (int j = 0; j < t.sk; ++j) acc += dS[std::size_t(i) * t.sk + j] * f(k[elem_index(c.k, b, j, g, d)]);
          dq[((std::size_t(b) * t.sq + i) * t.hq + h) * D + d] = t.scale * acc;
        }
      for (int j = 0; j < t.sk; ++j)
        for (int d = 0; d < D; ++d) {
          double ak = 0, av = 0;
          for (int i = 0; i < t.sq; ++i) {
            ak += dS[std::size_t(i) * t.sk + j] * f(q[elem_index(c.q, b, i, h, d)]);
            av += P[std::size_t(i) * t.sk + j] * f(dout[elem_index(c.dout, b, i, h, d)]);
          }
          dk[((std::size_t(b) * t.sk + j) * t.hkv + g) * D + d] += t.scale * ak;
          dv[((std::size_t(b) * t.sk + j) * t.hkv + g) * D + d] += av;
        }
    }
}

void run_reference(const BwdCase& c, const std::vector<uint16_t>& q, const std::vector<uint16_t>& k,
                   const std::vector<uint16_t>& v, const std::vector<uint16_t>& dout, std::vector<double>& dq,
                   std::vector<double>& dk, std::vector<double>& dv, std::vector<double>* dsum = nullptr) {
  ptxfmha::RefBwdShape rs{};
  ptxfmha::RefShape& s = rs.s;
  s.batch = c.t.b; s.seqlen_q = c.t.sq; s.seqlen_k = c.t.sk; s.heads_q = c.t.hq; s.heads_kv = c.t.hkv;
  s.head_dim = c.t.d; s.causal = c.t.causal; s.softmax_scale = c.t.scale;
  for (int i = 0; i < 3; ++i) {
    s.q_stride[i] = c.q.stride[i]; s.k_stride[i] = c.k.stride[i]; s.v_stride[i] = c.v.stride[i];
    rs.do_stride[i] = c.dout.stride[i];
  }
  ptxfmha::reference_bwd(rs, q.data(), k.data(), v.data(), dout.data(), dq, dk, dv, dsum);
}

BwdCase make_case(const Tiny& t, bool strided) {
  BwdCase c{t, {}, {}, {}, {}};
  if (!strided) {
    c.q = make_layout(t.b, t.sq, t.hq, t.d);
    c.k = make_layout(t.b, t.sk, t.hkv, t.d);
    c.v = make_layout(t.b, t.sk, t.hkv, t.d);
    c.dout = make_layout(t.b, t.sq, t.hq, t.d);
  } else {
    c.q = make_layout(t.b, t.sq, t.hq, t.d, Order::BHSD, 8, 16, 8);
    c.k = make_layout(t.b, t.sk, t.hkv, t.d, Order::BSHD, 16, 8, 0);
    c.v = make_layout(t.b, t.sk, t.hkv, t.d, Order::BHSD, 0, 8, 24);
    c.dout = make_layout(t.b, t.sq, t.hq, t.d, Order::BSHD, 8, 0, 8);
  }
  return c;
}

double max_rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0, scale = 0;
  for (double x : b) scale = std::max(scale, std::fabs(x));
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return scale > 0 ? worst / scale : worst;
}

}  // namespace

TEST_CASE("bwd reference: equals an independent dense-matrix computation (GQA, causal, strided)") {
  const Tiny cases[] = {
      {2, 37, 53, 4, 1, 16, true, 0.25},
      {1, 64, 29, 4, 2, 32, true, 0.18},   // rows without keys
      {2, 31, 31, 2, 2, 64, false, 0.125},
      {1, 20, 70, 8, 1, 16, false, 0.3},   // GQA 8
  };
  uint64_t seed = 5;
  for (const Tiny& t : cases)
    for (bool strided : {false, true}) {
      CAPTURE(t.sq); CAPTURE(t.sk); CAPTURE(t.hq); CAPTURE(t.hkv); CAPTURE(t.causal); CAPTURE(strided);
      const BwdCase c = make_case(t, strided);
      std::mt19937_64 rng(seed++);
      const auto q = random_tensor(c.q, t.b, t.sq, t.hq, t.d, rng, 1.0);
      const auto k = random_tensor(c.k, t.b, t.sk, t.hkv, t.d, rng, 1.0);
      const auto v = random_tensor(c.v, t.b, t.sk, t.hkv, t.d, rng, 1.0);
      const auto dout = random_tensor(c.dout, t.b, t.sq, t.hq, t.d, rng, 1.0);
      std::vector<double> dq, dk, dv, iq, ik, iv;
      run_reference(c, q, k, v, dout, dq, dk, dv);
      independent_grads(c, q, k, v, dout, iq, ik, iv);
      CHECK(max_rel_diff(dq, iq) < 1e-10);
      CHECK(max_rel_diff(dk, ik) < 1e-10);
      CHECK(max_rel_diff(dv, iv) < 1e-10);
      // Strided and dense layouts of the same values agree exactly.
      if (strided) {
        const BwdCase d = make_case(t, false);
        auto repack = [&](const std::vector<uint16_t>& x, const Layout& from, const Layout& to, int seq, int heads) {
          std::vector<uint16_t> y(static_cast<std::size_t>(to.elems));
          for (int bb = 0; bb < t.b; ++bb)
            for (int ss = 0; ss < seq; ++ss)
              for (int hh = 0; hh < heads; ++hh)
                for (int dd = 0; dd < t.d; ++dd)
                  y[std::size_t(elem_index(to, bb, ss, hh, dd))] = x[std::size_t(elem_index(from, bb, ss, hh, dd))];
          return y;
        };
        std::vector<double> eq, ek, ev;
        run_reference(d, repack(q, c.q, d.q, t.sq, t.hq), repack(k, c.k, d.k, t.sk, t.hkv),
                      repack(v, c.v, d.v, t.sk, t.hkv), repack(dout, c.dout, d.dout, t.sq, t.hq), eq, ek, ev);
        CHECK(eq == dq);
        CHECK(ek == dk);
        CHECK(ev == dv);
      }
    }
}

TEST_CASE("bwd reference: GQA equals the MHA expansion summed over each group; empty rows are zero") {
  const Tiny g{2, 45, 33, 8, 2, 32, true, 0.2};  // seqlen_q > seqlen_k: rows 0..11 see no key
  const Tiny m{2, 45, 33, 8, 8, 32, true, 0.2};
  const BwdCase cg = make_case(g, false), cm = make_case(m, false);
  std::mt19937_64 rng(77);
  const auto q = random_tensor(cg.q, g.b, g.sq, g.hq, g.d, rng, 1.0);
  const auto k = random_tensor(cg.k, g.b, g.sk, g.hkv, g.d, rng, 1.0);
  const auto v = random_tensor(cg.v, g.b, g.sk, g.hkv, g.d, rng, 1.0);
  const auto dout = random_tensor(cg.dout, g.b, g.sq, g.hq, g.d, rng, 1.0);
  std::vector<uint16_t> km(static_cast<std::size_t>(cm.k.elems)), vm(km.size());
  for (int b = 0; b < g.b; ++b)
    for (int s = 0; s < g.sk; ++s)
      for (int h = 0; h < g.hq; ++h)
        for (int d = 0; d < g.d; ++d) {
          km[std::size_t(elem_index(cm.k, b, s, h, d))] = k[std::size_t(elem_index(cg.k, b, s, h / 4, d))];
          vm[std::size_t(elem_index(cm.v, b, s, h, d))] = v[std::size_t(elem_index(cg.v, b, s, h / 4, d))];
        }
  std::vector<double> dq, dk, dv, mq, mk, mv, dsum;
  run_reference(cg, q, k, v, dout, dq, dk, dv, &dsum);
  run_reference(cm, q, km, vm, dout, mq, mk, mv);
  CHECK(max_rel_diff(dq, mq) < 1e-12);
  std::vector<double> sk(dk.size(), 0.0), sv(dv.size(), 0.0);
  for (int b = 0; b < g.b; ++b)
    for (int s = 0; s < g.sk; ++s)
      for (int h = 0; h < g.hq; ++h)
        for (int d = 0; d < g.d; ++d) {
          sk[((std::size_t(b) * g.sk + s) * g.hkv + h / 4) * g.d + d] += mk[((std::size_t(b) * g.sk + s) * g.hq + h) * g.d + d];
          sv[((std::size_t(b) * g.sk + s) * g.hkv + h / 4) * g.d + d] += mv[((std::size_t(b) * g.sk + s) * g.hq + h) * g.d + d];
        }
  CHECK(max_rel_diff(dk, sk) < 1e-12);
  CHECK(max_rel_diff(dv, sv) < 1e-12);
  // Rows 0 .. sq - sk - 1 see no key: dQ and D exactly 0; row sq - sk + 1 (two keys) is not.
  for (int b = 0; b < g.b; ++b)
    for (int h = 0; h < g.hq; ++h)
      for (int i = 0; i <= g.sq - g.sk + 1; ++i) {
        if (i == g.sq - g.sk) continue;  // one visible key: P = 1, dS = 0, dQ = 0 exactly
        double n = 0;
        for (int d = 0; d < g.d; ++d) n += std::fabs(dq[((std::size_t(b) * g.sq + i) * g.hq + h) * g.d + d]);
        const double D = dsum[(std::size_t(b) * g.hq + h) * g.sq + i];
        if (i < g.sq - g.sk) {
          CHECK(n == 0.0);
          CHECK(D == 0.0);
        } else {
          CHECK(n > 0.0);
        }
      }
}
