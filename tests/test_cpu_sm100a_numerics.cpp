// "sm100a numerics emulator": the arithmetic of the new sm100a forward design (lazy rescale,
// the exp2 split between MUFU and the FMA-pipe polynomial, bf16 P, fp32 accumulation per K-step,
// O / l, LSE) and of today's serial kernels, emulated on the CPU (tests/sm100_model/numerics.h)
// and compared with the float64 reference (host/include/ptxfmha/reference.h) over shapes of the
// GPU sweep (tests/test_gpu_fwd.cpp: query and key lengths from {1, 17, 64, 127, 128, 129, 193,
// 1000, 2048}, causal and not, GQA), fewer of them to keep the CPU time small, inside the
// documented error bounds (README "Accuracy": rel. L2 <= 2e-2, cosine >= 0.9999, every element
// within 2e-2 + 2e-2 |ref|, LSE within 1e-3 + 2e-5 |ref|). The polynomial's maximum relative
// error is measured, printed and bounded.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "ptxfmha/reference.h"
#include "sm100_model/design.h"
#include "sm100_model/numerics.h"

namespace {

namespace nu = sm100_numerics;

struct Problem {
  ptxfmha::RefShape s;
  std::vector<uint16_t> q, k, v;
};

Problem make_problem(int d, int sq, int sk, int hq, int hkv, bool causal, uint64_t seed, float q_scale = 1.0f) {
  Problem p;
  p.s.batch = 1;
  p.s.seqlen_q = sq;
  p.s.seqlen_k = sk;
  p.s.heads_q = hq;
  p.s.heads_kv = hkv;
  p.s.head_dim = d;
  p.s.causal = causal;
  p.s.softmax_scale = 1.0 / std::sqrt(static_cast<double>(d));
  // [batch, seq, heads, head_dim], dense
  const int64_t qs[3] = {int64_t(sq) * hq * d, int64_t(hq) * d, d};
  const int64_t ks[3] = {int64_t(sk) * hkv * d, int64_t(hkv) * d, d};
  for (int i = 0; i < 3; ++i) {
    p.s.q_stride[i] = qs[i];
    p.s.k_stride[i] = ks[i];
    p.s.v_stride[i] = ks[i];
  }
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> n01(0.0f, 1.0f);
  auto fill = [&](std::vector<uint16_t>& x, std::size_t n, float sc) {
    x.resize(n);
    for (auto& e : x) e = ptxfmha::float_to_bf16(n01(rng) * sc);
  };
  fill(p.q, static_cast<std::size_t>(sq) * hq * d, q_scale);
  fill(p.k, static_cast<std::size_t>(sk) * hkv * d, 1.0f);
  fill(p.v, static_cast<std::size_t>(sk) * hkv * d, 1.0f);
  return p;
}

struct Worst {
  double max_abs = 0, rel_l2 = 0, cos = 1, lse = 0;
  int cases = 0, failed = 0;
  std::string first_fail;
};

// Compares one emulation with the reference; returns whether the documented bounds hold.
bool check(const Problem& p, const std::vector<double>& ref_o, const std::vector<double>& ref_lse, const nu::Config& cfg,
           Worst& w, const std::string& label) {
  std::vector<double> o, lse;
  nu::emulate_fwd(p.s, p.q.data(), p.k.data(), p.v.data(), cfg, o, lse);
  const ptxfmha::ErrorStats e = ptxfmha::compare(o.data(), ref_o.data(), o.size(), 2e-2, 2e-2);
  const ptxfmha::ErrorStats el = ptxfmha::compare(lse.data(), ref_lse.data(), lse.size(), 1e-3, 2e-5);
  const bool ok = e.nan_count == 0 && e.first_bad < 0 && e.rel_l2 <= 2e-2 && e.cosine >= 0.9999 && el.nan_count == 0 && el.first_bad < 0;
  ++w.cases;
  w.max_abs = std::max(w.max_abs, e.max_abs);
  w.rel_l2 = std::max(w.rel_l2, e.rel_l2);
  w.cos = std::min(w.cos, e.cosine);
  w.lse = std::max(w.lse, el.max_abs);
  if (!ok) {
    ++w.failed;
    if (w.first_fail.empty()) {
      char b[256];
      std::snprintf(b, sizeof b, "%s: max_abs %.3g rel_l2 %.3g cos %.7f lse %.3g first bad O %lld LSE %lld", label.c_str(), e.max_abs,
                    e.rel_l2, e.cosine, el.max_abs, e.first_bad, el.first_bad);
      w.first_fail = b;
    }
  }
  return ok;
}

nu::Config new_design(const sm100_design::FwdDesign& d) {
  nu::Config c;
  c.lazy_rescale = true;
  c.threshold_log2 = sm100_design::kRescaleThresholdLog2;
  c.block_n = d.block_n;
  c.block_m = d.block_m;
  c.poly_cols_per_32 = d.ex2_poly_cols_per_32;
  return c;
}
nu::Config serial_kernel(int head_dim) {
  nu::Config c;
  c.lazy_rescale = false;
  c.block_n = head_dim == 256 ? 64 : 128;
  c.block_m = 128;
  c.poly_cols_per_32 = 0;
  return c;
}

}  // namespace

TEST_CASE("sm100a numerics emulator: the exp2 polynomial's maximum relative error, printed and bounded") {
  // 2^f on [0, 1): every 2^-20 step (the fp32 grid near 1 is 2^-24; 2^-20 spans the extrema).
  double worst_frac = 0, at = 0;
  for (int i = 0; i < (1 << 20); ++i) {
    const float f = static_cast<float>(i) / static_cast<float>(1 << 20);
    const double r = std::fabs(static_cast<double>(nu::poly_frac(f, nu::Poly())) / std::exp2(static_cast<double>(f)) - 1.0);
    if (r > worst_frac) { worst_frac = r; at = f; }
  }
  // The whole emulation (clamp, floor by add.rm, polynomial, exponent add) over the range the
  // softmax feeds it: x = s * scale_log2 - m in [-126, 8] (8: the lazy-rescale threshold).
  double worst_x = 0;
  int exact_pow2 = 0;
  for (int i = 0; i <= 134 * 4096; ++i) {
    const float x = -126.0f + static_cast<float>(i) / 4096.0f;
    const float y = nu::ex2_poly(x);
    const double r = std::fabs(static_cast<double>(y) / std::exp2(static_cast<double>(x)) - 1.0);
    worst_x = std::max(worst_x, r);
    if (x == std::floor(x)) exact_pow2 += y == std::ldexp(1.0f, static_cast<int>(x)) ? 1 : 0;
  }
  MESSAGE("ex2 polynomial (degree 3, minimax, p(0) = 1; c1 = " << nu::bits_f(nu::kPolyC1Bits) << ", c2 = " << nu::bits_f(nu::kPolyC2Bits)
                                                                 << ", c3 = " << nu::bits_f(nu::kPolyC3Bits) << "): max relative error "
                                                                 << worst_frac << " at f = " << at << " (2^" << std::log2(worst_frac)
                                                                 << "); over x in [-126, 8]: " << worst_x
                                                                 << "; bf16 rounding of P: 2^-9 = " << std::ldexp(1.0, -9));
  CHECK(worst_frac < 1.0e-4);  // Remez optimum of this form: 8.56e-5; fp32 Horner adds < 1e-7
  CHECK(worst_x < 1.0e-4);
  CHECK(exact_pow2 == 135);     // 2^k exact at every integer k in [-126, 8]
  // Below the clamp the result is tiny, never larger than 2^-126.
  CHECK(nu::ex2_poly(-200.0f) <= std::ldexp(1.0f, -126));
  // The bound can fail: a coefficient off in its third decimal breaks it.
  nu::Poly bad;
  bad.c2 += 1e-3f;
  double worst_bad = 0;
  for (int i = 0; i < 4096; ++i) {
    const float f = static_cast<float>(i) / 4096.0f;
    worst_bad = std::max(worst_bad, std::fabs(static_cast<double>(nu::poly_frac(f, bad)) / std::exp2(static_cast<double>(f)) - 1.0));
  }
  CHECK(worst_bad > 1.0e-4);
}

TEST_CASE("sm100a numerics emulator: new design and serial kernels vs the float64 reference over the GPU sweep's shapes") {
  // (sq, sk) pairs from the GPU sweep's lengths; each (causal, GQA) combination takes every
  // other pair so that all lengths appear while the CPU time stays small.
  const int pairs[][2] = {{1, 1},     {17, 129}, {64, 2048}, {127, 193}, {128, 128}, {129, 64},
                          {193, 1000}, {1000, 17}, {2048, 1},  {128, 1000}, {257, 257}, {17, 17}};
  std::map<std::string, Worst> worst;
  int combo = 0;
  for (const sm100_design::FwdDesign* d : sm100_design::kDesigns) {
    for (int causal = 0; causal <= 1; ++causal)
      for (int gqa : {1, 2}) {
        ++combo;
        for (std::size_t pi = 0; pi < sizeof(pairs) / sizeof(pairs[0]); ++pi) {
          if ((pi + static_cast<std::size_t>(combo)) % 2 != 0) continue;
          const int sq = pairs[pi][0], sk = pairs[pi][1];
          const uint64_t seed = 0xA11CE5ull ^ (uint64_t(d->head_dim) << 40) ^ (uint64_t(causal) << 36) ^ (uint64_t(gqa) << 32) ^
                                (uint64_t(sq) << 16) ^ uint64_t(sk);
          const Problem p = make_problem(d->head_dim, sq, sk, 2, 2 / gqa, causal != 0, seed);
          std::vector<double> ro, rl;
          ptxfmha::reference_fwd(p.s, p.q.data(), p.k.data(), p.v.data(), ro, rl);
          const std::string shape = "hd" + std::to_string(d->head_dim) + (causal ? " causal" : "") + " gqa" + std::to_string(gqa) +
                                    " sq" + std::to_string(sq) + " sk" + std::to_string(sk);
          const bool a = check(p, ro, rl, new_design(*d), worst["new hd" + std::to_string(d->head_dim)], "new " + shape);
          const bool b = check(p, ro, rl, serial_kernel(d->head_dim), worst["serial hd" + std::to_string(d->head_dim)], "serial " + shape);
          CHECK_MESSAGE(a, "new design " << shape);
          CHECK_MESSAGE(b, "serial " << shape);
        }
      }
    // Every column on the polynomial (the worst split), and large scores (|s| up to ~1e3, the
    // rescale path and the 2^8 threshold every tile).
    {
      const Problem p = make_problem(d->head_dim, 200, 700, 2, 1, false, 0xB16ull + d->head_dim);
      std::vector<double> ro, rl;
      ptxfmha::reference_fwd(p.s, p.q.data(), p.k.data(), p.v.data(), ro, rl);
      nu::Config all = new_design(*d);
      all.poly_cols_per_32 = 32;
      CHECK(check(p, ro, rl, all, worst["new hd" + std::to_string(d->head_dim) + ", all ex2 on FMA"], "all-poly"));
    }
    {
      const Problem p = make_problem(d->head_dim, 300, 600, 2, 2, true, 0xB17ull + d->head_dim, 12.0f);
      std::vector<double> ro, rl;
      ptxfmha::reference_fwd(p.s, p.q.data(), p.k.data(), p.v.data(), ro, rl);
      CHECK(check(p, ro, rl, new_design(*d), worst["new hd" + std::to_string(d->head_dim) + ", large scores"], "large scores new"));
      CHECK(check(p, ro, rl, serial_kernel(d->head_dim), worst["serial hd" + std::to_string(d->head_dim) + ", large scores"], "large scores serial"));
    }
  }
  std::string table = "\n  emulation | cases | max abs (O) | rel. L2 (O) | min cosine | max abs (LSE) | failed";
  for (const auto& kv : worst) {
    char b[256];
    std::snprintf(b, sizeof b, "\n  %s | %d | %.3g | %.3g | %.7f | %.3g | %d%s%s", kv.first.c_str(), kv.second.cases, kv.second.max_abs,
                  kv.second.rel_l2, kv.second.cos, kv.second.lse, kv.second.failed, kv.second.first_fail.empty() ? "" : ": ",
                  kv.second.first_fail.c_str());
    table += b;
  }
  MESSAGE("sm100a numerics emulator vs float64 reference (bounds: rel L2 2e-2, cosine 0.9999, 2e-2 + 2e-2|ref|, LSE 1e-3 + 2e-5|ref|):" << table);
}

TEST_CASE("sm100a numerics emulator: a broken rescale or exponent is caught by the same comparison") {
  // Large scores make the row max move by more than 2^8 inside a row: skipping the O rescale
  // (the correction warpgroup's job) must fail the bounds; so must a wrong polynomial.
  const Problem p = make_problem(128, 256, 1024, 1, 1, false, 0xBADull, 12.0f);
  std::vector<double> ro, rl;
  ptxfmha::reference_fwd(p.s, p.q.data(), p.k.data(), p.v.data(), ro, rl);
  Worst w;
  nu::Config ok = new_design(sm100_design::kD128);
  CHECK(check(p, ro, rl, ok, w, "clean"));
  nu::Config bug = ok;
  bug.bug_no_o_rescale = true;
  CHECK_FALSE(check(p, ro, rl, bug, w, "no O rescale"));
  nu::Config badpoly = ok;
  badpoly.poly_cols_per_32 = 32;
  badpoly.poly.c1 *= 1.05f;
  CHECK_FALSE(check(p, ro, rl, badpoly, w, "wrong c1"));
}
