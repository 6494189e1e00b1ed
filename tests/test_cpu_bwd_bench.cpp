// CPU tests of the backward benchmark's pure parts (no GPU):
//   - bench/bench_bwd_ref.h (the gate's sampled float64 gradients from Q, K, V, O, dO and the
//     forward's LSE) equals ptxfmha::reference_bwd with the given O on the same rows, causal and
//     not, GQA, a block at the start and at the end; a wrong LSE moves it past the gate's
//     rel. L2 limit (bench_util.h), so the gate depends on the LSE it is given;
//   - the backward cells (bench_case.h: backward_grid): names, family, FLOPs 2.5 x forward,
//     fast and deterministic per prefill cell, memory planning with the gradients' buffers.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "bench_bwd_ref.h"
#include "bench_case.h"
#include "bench_util.h"
#include "ptxfmha/reference.h"

namespace pb = ptxfmha_bench;

namespace {

struct Dense {
  int sq, sk, hq, hkv, d;
  bool causal;
};

std::vector<uint16_t> normal_bf16(std::size_t n, uint64_t seed) {
  std::vector<uint16_t> x(n);
  pb::fill_normal_bf16(x.data(), n, seed);
  return x;
}

double max_rel(const std::vector<double>& a, const std::vector<double>& b) {
  double m = 0, s = 0;
  for (double x : b) s = std::max(s, std::fabs(x));
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return s > 0 ? m / s : m;
}

}  // namespace

TEST_CASE("bwd bench reference: sampled rows equal reference_bwd with the given O and LSE") {
  const Dense cases[] = {{70, 90, 4, 2, 32, true}, {90, 70, 4, 4, 64, true}, {64, 64, 2, 1, 32, false}};
  uint64_t seed = 1;
  for (const Dense& t : cases) {
    CAPTURE(t.sq); CAPTURE(t.sk); CAPTURE(t.causal);
    const std::size_t nq = std::size_t(t.sq) * t.hq * t.d, nk = std::size_t(t.sk) * t.hkv * t.d;
    const auto q = normal_bf16(nq, seed++), k = normal_bf16(nk, seed++), v = normal_bf16(nk, seed++);
    const auto dout = normal_bf16(nq, seed++);
    const double scale = 1.0 / std::sqrt(double(t.d));
    ptxfmha::RefShape s{};
    s.batch = 1; s.seqlen_q = t.sq; s.seqlen_k = t.sk; s.heads_q = t.hq; s.heads_kv = t.hkv; s.head_dim = t.d;
    s.causal = t.causal; s.softmax_scale = scale;
    s.q_stride[0] = int64_t(nq); s.q_stride[1] = int64_t(t.hq) * t.d; s.q_stride[2] = t.d;
    s.k_stride[0] = int64_t(nk); s.k_stride[1] = int64_t(t.hkv) * t.d; s.k_stride[2] = t.d;
    for (int i = 0; i < 3; ++i) s.v_stride[i] = s.k_stride[i];
    std::vector<double> o64, lse64;
    ptxfmha::reference_fwd(s, q.data(), k.data(), v.data(), o64, lse64);
    std::vector<uint16_t> o(nq);
    for (std::size_t i = 0; i < nq; ++i) o[i] = pb::bf16_from_float(float(o64[i]));
    std::vector<float> lse(lse64.size());
    for (std::size_t i = 0; i < lse.size(); ++i) lse[i] = float(lse64[i]);
    // Full reference with the given O.
    ptxfmha::RefBwdShape rs{};
    rs.s = s;
    for (int i = 0; i < 3; ++i) { rs.do_stride[i] = s.q_stride[i]; rs.o_stride[i] = s.q_stride[i]; }
    rs.o = o.data();
    std::vector<double> dq, dk, dv;
    ptxfmha::reference_bwd(rs, q.data(), k.data(), v.data(), dout.data(), dq, dk, dv);
    pb::BwdRefShape bs;
    bs.seqlen_q = t.sq; bs.seqlen_k = t.sk; bs.heads_q = t.hq; bs.heads_kv = t.hkv; bs.head_dim = t.d;
    bs.causal = t.causal; bs.softmax_scale = scale;
    const pb::BwdRefRows blocks[] = {{0, 8, 0, 8}, {t.sq - 8, 8, t.sk - 8, 8}};
    for (const pb::BwdRefRows& r : blocks) {
      pb::BwdRefOut out;
      pb::bwd_reference_rows(bs, q.data(), k.data(), v.data(), o.data(), dout.data(), lse.data(), r, &out);
      const std::size_t rq = std::size_t(t.hq) * t.d, rk = std::size_t(t.hkv) * t.d;
      const std::vector<double> wq(dq.begin() + r.q0 * rq, dq.begin() + (r.q0 + r.nq) * rq);
      const std::vector<double> wk(dk.begin() + r.k0 * rk, dk.begin() + (r.k0 + r.nk) * rk);
      const std::vector<double> wv(dv.begin() + r.k0 * rk, dv.begin() + (r.k0 + r.nk) * rk);
      // The fp32 LSE moves P by ~1e-7 relative; nothing else differs.
      CHECK(max_rel(out.dq, wq) < 1e-5);
      CHECK(max_rel(out.dk, wk) < 1e-5);
      CHECK(max_rel(out.dv, wv) < 1e-5);
      // A wrong LSE (every row + 0.05) is caught by the gate's rule.
      std::vector<float> bad = lse;
      for (float& x : bad) x += 0.05f;
      pb::BwdRefOut off;
      pb::bwd_reference_rows(bs, q.data(), k.data(), v.data(), o.data(), dout.data(), bad.data(), r, &off);
      const pb::Agreement ag = pb::compare_double(off.dv.data(), wv.data(), wv.size());
      CHECK_MESSAGE(!ag.ok(), "a wrong LSE passes the gate: " << ag.summary());
    }
  }
}

TEST_CASE("bwd bench cells: names, FLOPs 2.5 x forward, fast and deterministic, memory with gradients") {
  const auto cells = pb::backward_grid({64, 128}, {1024, 4096});
  REQUIRE(cells.size() == 2 * 2 * 2 * 2);
  for (const pb::Case& c : cells) {
    CAPTURE(c.name);
    CHECK(c.family == "bwd");
    CHECK(c.grads);
    const pb::Case f = pb::prefill_case(int(c.head_dim), c.causal, int(c.seqlen_q));
    CHECK(c.flops() == doctest::Approx(2.5 * f.flops()));
    CHECK(c.name == "bwd" + f.name.substr(3) + (c.deterministic ? "/det" : ""));
    CHECK(c.batch == f.batch);
    CHECK(c.heads_q == f.heads_q);
    CHECK(pb::case_bytes(c, 1) > pb::case_bytes(f, 1));
    CHECK(c.set_bytes() > f.set_bytes());
  }
  const pb::MemoryPlan plan = pb::plan_memory(cells, 60u << 20, 100e9);
  const pb::ArenaSize* a = plan.arena("bwd");
  REQUIRE(a != nullptr);
  CHECK(a->grad_q_elems >= cells.front().q_elems());
  CHECK(a->grad_kv_elems >= cells.front().kv_elems());
  // A forward-only plan has no gradient buffers.
  const pb::MemoryPlan fplan = pb::plan_memory(pb::prefill_grid({64}, {1024}), 60u << 20, 100e9);
  CHECK(fplan.arena("fwd")->grad_q_elems == 0);
}
