// CPU test of the benchmark's correctness gate (bench_util.h), runnable without a GPU.
// The gate must accept what two correct bf16 kernels produce and refuse what a wrong kernel
// produces, including exactly what PTXFMHA_BENCH_PERTURB_SCALE does on the GPU (a changed
// softmax scale), computed here with the shared float64 reference.
// Part of the doctest binary (tests/tests.mk links the bench helpers in).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "bench_util.h"
#include "ptxfmha/reference.h"

namespace pb = ptxfmha_bench;

namespace {
void expect(bool cond, const std::string& what, const std::string& detail = "") {
  CHECK_MESSAGE(cond, what << (detail.empty() ? "" : ": ") << detail);
}

struct Problem {
  int b = 2, s = 96, h = 4, hkv = 2, d = 64;
  bool causal = true;
};

// float64 attention of a random problem, rounded to bf16 like a kernel's output.
void attention_bf16(const Problem& p, const std::vector<uint16_t>& q, const std::vector<uint16_t>& k,
                    const std::vector<uint16_t>& v, double scale, std::vector<uint16_t>* o,
                    std::vector<float>* lse) {
  ptxfmha::RefShape s{};
  s.batch = p.b; s.seqlen_q = p.s; s.seqlen_k = p.s; s.heads_q = p.h; s.heads_kv = p.hkv;
  s.head_dim = p.d; s.causal = p.causal; s.softmax_scale = scale;
  s.q_stride[0] = int64_t(p.s) * p.h * p.d; s.q_stride[1] = int64_t(p.h) * p.d; s.q_stride[2] = p.d;
  s.k_stride[0] = int64_t(p.s) * p.hkv * p.d; s.k_stride[1] = int64_t(p.hkv) * p.d; s.k_stride[2] = p.d;
  s.v_stride[0] = s.k_stride[0]; s.v_stride[1] = s.k_stride[1]; s.v_stride[2] = s.k_stride[2];
  std::vector<double> out, l;
  ptxfmha::reference_fwd(s, q.data(), k.data(), v.data(), out, l);
  o->resize(out.size());
  for (size_t i = 0; i < out.size(); ++i) (*o)[i] = pb::bf16_from_float(float(out[i]));
  lse->resize(l.size());
  for (size_t i = 0; i < l.size(); ++i) (*lse)[i] = float(l[i]);
}

// Adds relative noise of size `rel` (deterministic) to a bf16 tensor.
std::vector<uint16_t> with_noise(const std::vector<uint16_t>& x, double rel, uint64_t seed) {
  std::vector<uint16_t> noise(x.size()), out(x.size());
  pb::fill_normal_bf16(noise.data(), noise.size(), seed);
  for (size_t i = 0; i < x.size(); ++i) {
    float a = pb::float_from_bf16(x[i]);
    out[i] = pb::bf16_from_float(a * float(1.0 + rel * pb::float_from_bf16(noise[i])));
  }
  return out;
}
}  // namespace

TEST_CASE("bench correctness gate: accepts correct bf16 outputs, refuses wrong ones (CPU)") {
  Problem p;
  std::vector<uint16_t> q(size_t(p.b) * p.s * p.h * p.d), k(size_t(p.b) * p.s * p.hkv * p.d), v(k.size());
  pb::fill_normal_bf16(q.data(), q.size(), 11);
  pb::fill_normal_bf16(k.data(), k.size(), 12);
  pb::fill_normal_bf16(v.data(), v.size(), 13);
  const double scale = 1.0 / std::sqrt(double(p.d));

  std::vector<uint16_t> o_ref;
  std::vector<float> lse_ref;
  attention_bf16(p, q, k, v, scale, &o_ref, &lse_ref);

  // Random data really is random (a uniform tensor would hide layout bugs).
  {
    double sum = 0, sq = 0;
    for (uint16_t x : q) { double f = pb::float_from_bf16(x); sum += f; sq += f * f; }
    double mean = sum / q.size(), var = sq / q.size() - mean * mean;
    expect(std::fabs(mean) < 0.05 && std::fabs(var - 1) < 0.1, "fill_normal_bf16 is standard normal",
           "mean " + std::to_string(mean) + " var " + std::to_string(var));
  }

  // Accepts: identical, and bf16-rounding-sized differences.
  {
    pb::Agreement a = pb::compare_bf16(o_ref.data(), o_ref.data(), o_ref.size());
    pb::compare_lse(lse_ref.data(), lse_ref.data(), lse_ref.size(), &a);
    expect(a.ok(), "identical outputs pass", a.summary());
  }
  {
    auto noisy = with_noise(o_ref, 4e-3, 99);
    pb::Agreement a = pb::compare_bf16(noisy.data(), o_ref.data(), o_ref.size());
    expect(a.ok(), "rounding-sized noise (0.4%) passes", a.summary());
  }

  // Refuses: the perturbation hook's effect (softmax scale x1.25 and x1.05).
  for (double f : {1.25, 1.05}) {
    std::vector<uint16_t> o_bad;
    std::vector<float> lse_bad;
    attention_bf16(p, q, k, v, scale * f, &o_bad, &lse_bad);
    pb::Agreement a = pb::compare_bf16(o_bad.data(), o_ref.data(), o_ref.size());
    pb::compare_lse(lse_bad.data(), lse_ref.data(), lse_ref.size(), &a);
    expect(!a.ok(), "softmax scale x" + std::to_string(f) + " is refused",
           a.summary() + " -> " + a.failure());
  }
  // Refuses: non-causal result where causal was asked (mask bug).
  {
    Problem pn = p;
    pn.causal = false;
    std::vector<uint16_t> o_bad;
    std::vector<float> lse_bad;
    attention_bf16(pn, q, k, v, scale, &o_bad, &lse_bad);
    pb::Agreement a = pb::compare_bf16(o_bad.data(), o_ref.data(), o_ref.size());
    expect(!a.ok(), "missing causal mask is refused", a.summary() + " -> " + a.failure());
  }
  // Refuses: two heads swapped (layout bug).
  {
    auto bad = o_ref;
    for (int b = 0; b < p.b; ++b)
      for (int s = 0; s < p.s; ++s)
        for (int e = 0; e < p.d; ++e) {
          size_t i0 = ((size_t(b) * p.s + s) * p.h + 0) * p.d + e, i1 = i0 + p.d;
          std::swap(bad[i0], bad[i1]);
        }
    pb::Agreement a = pb::compare_bf16(bad.data(), o_ref.data(), o_ref.size());
    expect(!a.ok(), "swapped heads are refused", a.summary() + " -> " + a.failure());
  }
  // Refuses: one element left unwritten (NaN poison) and an all-zero output.
  {
    auto bad = o_ref;
    bad[bad.size() / 3] = 0xFFFF;
    pb::Agreement a = pb::compare_bf16(bad.data(), o_ref.data(), o_ref.size());
    expect(!a.ok() && a.nonfinite == 1, "one unwritten (NaN) element is refused", a.failure());
    std::vector<uint16_t> zeros(o_ref.size(), 0);
    a = pb::compare_bf16(zeros.data(), o_ref.data(), o_ref.size());
    expect(!a.ok(), "all-zero output is refused", a.failure());
  }
  // LSE rules.
  {
    auto lse_bad = lse_ref;
    lse_bad[5] += 0.1f;
    pb::Agreement a = pb::compare_bf16(o_ref.data(), o_ref.data(), o_ref.size());
    pb::compare_lse(lse_bad.data(), lse_ref.data(), lse_ref.size(), &a);
    expect(!a.ok(), "LSE off by 0.1 is refused", a.failure());
    auto lse_inf = lse_ref;
    lse_inf[7] = -INFINITY;
    a = pb::compare_bf16(o_ref.data(), o_ref.data(), o_ref.size());
    pb::compare_lse(lse_inf.data(), lse_ref.data(), lse_ref.size(), &a);
    expect(!a.ok(), "LSE -inf where the reference is finite is refused", a.failure());
    std::vector<float> both = {-INFINITY, 1.0f};
    std::vector<double> both_ref = {-INFINITY, 1.0};
    a = pb::compare_double(std::vector<double>{0.0, 1.0}.data(), std::vector<double>{0.0, 1.0}.data(), 2);
    pb::compare_lse(both.data(), both_ref.data(), 2, &a);
    expect(a.ok(), "LSE -inf on both sides (a row that sees no key) passes", a.failure());
  }
  // median
  expect(pb::median({3, 1, 2}) == 2 && pb::median({4, 1, 3, 2}) == 2.5, "median of odd and even counts");
  // bf16 conversion round trip and rounding to nearest even
  expect(pb::bf16_from_float(1.0f) == 0x3f80 && pb::float_from_bf16(0x3f80) == 1.0f &&
             pb::bf16_from_float(1.00390625f) == 0x3f80 /* tie -> even */ &&
             pb::bf16_from_float(1.01171875f) == 0x3f82 /* tie -> even (up) */,
         "bf16 conversion rounds to nearest even");

}
