// CPU tests of the feature-aware float64 reference (host/src/reference_attn.cpp,
// ptxfmha::reference_attn), the single source the GPU suites compare against:
//   - hand-computed tiny cases, one per feature (window, causal via window_right, softcap,
//     sink, ALiBi and its place after the softcap, varlen, paged);
//   - identities on random inputs (window wider than the sequence, window_right 0 == causal,
//     a huge softcap, a -inf sink, the sink's LSE shift, identity / permuted block tables,
//     one varlen sequence == fixed, several == per-sequence calls, ALiBi slope 0, seqused_k
//     == a shorter fixed K, decode-shaped problems == reference_decode);
//   - rows that see no key: O = 0 and LSE = -inf (or the sink), never NaN;
//   - garbage metadata is clamped as the kernels do (ptxfmha.h), never read out of bounds;
//   - the threaded path equals the single-threaded one bitwise;
//   - the LSE-only pass (reference_attn_lse, the e4m3 logit_mag) equals the full pass's LSE.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <algorithm>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

#include "decode.h"
#include "ptxfmha/reference.h"
#include "reference_attn.h"  // reference_attn_impl, RefAttnLimits

using ptxfmha::float_to_bf16;
using ptxfmha::RefAttnProblem;
using ptxfmha::RefAttnResult;

namespace {

const double kInf = std::numeric_limits<double>::infinity();

std::vector<uint16_t> bf16(std::initializer_list<float> v) {
  std::vector<uint16_t> out;
  for (float x : v) out.push_back(float_to_bf16(x));
  return out;
}

std::vector<uint16_t> random_bf16(std::mt19937& rng, std::size_t n) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<uint16_t> v(n);
  for (auto& x : v) x = float_to_bf16(nd(rng));
  return v;
}

// Dense [batch, seq, heads, D] strides (packed tensors use seq/head only).
void dense(int64_t* s, int seq, int heads, int d) {
  s[2] = d;
  s[1] = int64_t(heads) * d;
  s[0] = int64_t(seq) * heads * d;
}

// Fixed problem, dense BSHD layouts.
RefAttnProblem fixed(int b, int sq, int sk, int hq, int hkv, int d, double scale) {
  RefAttnProblem p;
  p.batch = b; p.seqlen_q = sq; p.seqlen_k = sk; p.heads_q = hq; p.heads_kv = hkv; p.head_dim = d;
  p.softmax_scale = scale;
  dense(p.q_stride, sq, hq, d);
  dense(p.k_stride, sk, hkv, d);
  dense(p.v_stride, sk, hkv, d);
  return p;
}

RefAttnResult run(const RefAttnProblem& p, const std::vector<uint16_t>& q, const std::vector<uint16_t>& k,
                  const std::vector<uint16_t>& v) {
  RefAttnResult r;
  ptxfmha::reference_attn(p, q.data(), k.data(), v.data(), &r);
  return r;
}

// The reference on a fixed problem whose Q / K / V start q_row0 / k_row0 dense rows into the
// buffers (a sequence of a packed batch run on its own).
RefAttnResult run_at(const RefAttnProblem& p, const std::vector<uint16_t>& q, const std::vector<uint16_t>& k,
                     const std::vector<uint16_t>& v, int q_row0, int k_row0, int hq, int hkv, int d) {
  RefAttnResult r;
  ptxfmha::reference_attn(p, q.data() + std::size_t(q_row0) * hq * d, k.data() + std::size_t(k_row0) * hkv * d,
                          v.data() + std::size_t(k_row0) * hkv * d, &r);
  return r;
}

bool bitwise_equal(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] == b[i]) continue;  // equal infinities
    m = std::max(m, std::fabs(a[i] - b[i]));
  }
  return m;
}

bool any_nan(const RefAttnResult& r) {
  for (double x : r.o) if (std::isnan(x)) return true;
  for (double x : r.lse) if (std::isnan(x)) return true;
  return false;
}

// ---- the hand case: one head, D = 2, keys j = 0, 1, 2: k_j = (j, 1), v_j = (j + 1, -j),
// q = (1, 0), scale 0.5 -> raw scores s_j = 0.5 j. Query rows given per test.
struct Hand {
  std::vector<uint16_t> q, k = bf16({0, 1, 1, 1, 2, 1}), v = bf16({1, 0, 2, -1, 3, -2});
  double vx(int j) const { return j + 1; }
  double vy(int j) const { return -j; }
};

// Softmax of explicit scores over keys `js` with an optional sink: (o_x, o_y, lse).
struct Expect {
  double ox, oy, lse;
};
Expect softmax(const Hand& h, const std::vector<int>& js, const std::vector<double>& s, double sink = -kInf) {
  double den = std::exp(sink), nx = 0, ny = 0;
  for (std::size_t i = 0; i < js.size(); ++i) {
    const double w = std::exp(s[i]);
    den += w;
    nx += w * h.vx(js[i]);
    ny += w * h.vy(js[i]);
  }
  return {nx / den, ny / den, std::log(den)};
}

void check_row(const RefAttnResult& r, std::size_t row, const Expect& e) {
  CHECK(r.o[row * 2 + 0] == doctest::Approx(e.ox).epsilon(1e-12));
  CHECK(r.o[row * 2 + 1] == doctest::Approx(e.oy).epsilon(1e-12));
  CHECK(r.lse[row] == doctest::Approx(e.lse).epsilon(1e-12));
}

}  // namespace

TEST_CASE("reference_attn: hand-computed cases, one feature each") {
  Hand h;
  h.q = bf16({1, 0});
  RefAttnProblem p = fixed(1, 1, 3, 1, 1, 2, 0.5);  // row 0, diagonal d = 2
  SUBCASE("no feature") {
    check_row(run(p, h.q, h.k, h.v), 0, softmax(h, {0, 1, 2}, {0, 0.5, 1.0}));
  }
  SUBCASE("window_left 1: keys >= d - 1 = 1") {
    p.window_left = 1;
    check_row(run(p, h.q, h.k, h.v), 0, softmax(h, {1, 2}, {0.5, 1.0}));
  }
  SUBCASE("window_left 0: the diagonal key only") {
    p.window_left = 0;
    check_row(run(p, h.q, h.k, h.v), 0, softmax(h, {2}, {1.0}));
  }
  SUBCASE("window_right 0 with two query rows: row 0 (d = 1) sees keys 0, 1; row 1 all") {
    p.seqlen_q = 2;
    p.window_right = 0;
    h.q = bf16({1, 0, 1, 0});
    dense(p.q_stride, 2, 1, 2);
    const RefAttnResult r = run(p, h.q, h.k, h.v);
    check_row(r, 0, softmax(h, {0, 1}, {0, 0.5}));
    check_row(r, 1, softmax(h, {0, 1, 2}, {0, 0.5, 1.0}));
  }
  SUBCASE("window_right 0, window_left 0, more queries than keys: rows left of the keys see none") {
    p.seqlen_q = 4;  // d = i - 1: row 0 sees nothing, rows 1..3 their diagonal key
    p.window_left = 0;
    p.window_right = 0;
    h.q = bf16({1, 0, 1, 0, 1, 0, 1, 0});
    dense(p.q_stride, 4, 1, 2);
    const RefAttnResult r = run(p, h.q, h.k, h.v);
    CHECK(r.o[0] == 0.0);
    CHECK(r.o[1] == 0.0);
    CHECK(r.lse[0] == -kInf);
    for (int i = 1; i < 4; ++i) check_row(r, std::size_t(i), softmax(h, {i - 1}, {0.5 * (i - 1)}));
  }
  SUBCASE("softcap 0.6: scores -> 0.6 tanh(s / 0.6)") {
    p.softcap = 0.6;
    std::vector<double> s;
    for (double x : {0.0, 0.5, 1.0}) s.push_back(0.6 * std::tanh(x / 0.6));
    check_row(run(p, h.q, h.k, h.v), 0, softmax(h, {0, 1, 2}, s));
  }
  SUBCASE("sink 0.3 joins the denominator; LSE includes it") {
    p.sink_logits = {0.3f};
    check_row(run(p, h.q, h.k, h.v), 0, softmax(h, {0, 1, 2}, {0, 0.5, 1.0}, double(0.3f)));
  }
  SUBCASE("ALiBi slope 0.25: s_j - 0.25 |d - j|") {
    p.alibi_slopes = {0.25f};
    check_row(run(p, h.q, h.k, h.v), 0, softmax(h, {0, 1, 2}, {0 - 0.5, 0.5 - 0.25, 1.0}));
  }
  SUBCASE("ALiBi after the softcap, not capped: cap tanh(s / cap) - slope |d - j|") {
    p.softcap = 0.6;
    p.alibi_slopes = {0.25f};
    std::vector<double> s;
    const double raw[3] = {0.0, 0.5, 1.0};
    for (int j = 0; j < 3; ++j) s.push_back(0.6 * std::tanh(raw[j] / 0.6) - 0.25 * (2 - j));
    check_row(run(p, h.q, h.k, h.v), 0, softmax(h, {0, 1, 2}, s));
  }
  SUBCASE("varlen: two packed sequences with their own bottom-right diagonals") {
    // Q rows 0 (seq 0) and 1, 2 (seq 1); keys: seq 0 = packed rows 0, 1 (j = 0, 1 of the
    // hand keys), seq 1 = packed row 2 (hand key 2). Causal: seq 0 row 0 (d = 1) sees both;
    // seq 1 row 0 (d = 1 - 2 = -1) sees nothing, row 1 (d = 0) sees its key.
    RefAttnProblem v;
    v.batch = 2; v.heads_q = v.heads_kv = 1; v.head_dim = 2; v.softmax_scale = 0.5; v.causal = true;
    v.cu_seqlens_q = {0, 1, 3}; v.total_q = 3; v.max_seqlen_q = 2;
    v.cu_seqlens_k = {0, 2, 3}; v.total_k = 3; v.max_seqlen_k = 2;
    dense(v.q_stride, 3, 1, 2);
    dense(v.k_stride, 3, 1, 2);
    dense(v.v_stride, 3, 1, 2);
    h.q = bf16({1, 0, 1, 0, 1, 0});
    const RefAttnResult r = run(v, h.q, h.k, h.v);
    check_row(r, 0, softmax(h, {0, 1}, {0, 0.5}));
    CHECK(r.o[2] == 0.0);
    CHECK(r.lse[1] == -kInf);  // LSE [heads, total_q]
    check_row(r, 2, softmax(h, {2}, {1.0}));
    CHECK(r.writers == std::vector<uint8_t>{1, 1, 1});
  }
  SUBCASE("paged: keys found through the block table (page 2 rows, pages in reverse order)") {
    // Pool of 3 pages x 2 rows: page 2 holds hand keys 0, 1; page 0 holds key 2 (and junk);
    // page 1 is junk. Table row [2, 0].
    RefAttnProblem g = p;
    g.page_size = 2; g.max_blocks_per_seq = 2; g.num_pages = 3;
    g.block_table = {2, 0};
    dense(g.k_stride, 2, 1, 2);  // page stride 4 elements
    dense(g.v_stride, 2, 1, 2);
    const std::vector<uint16_t> kp = bf16({2, 1, 9, 9, 7, 7, 7, 7, 0, 1, 1, 1});
    const std::vector<uint16_t> vp = bf16({3, -2, 9, 9, 7, 7, 7, 7, 1, 0, 2, -1});
    check_row(run(g, h.q, kp, vp), 0, softmax(h, {0, 1, 2}, {0, 0.5, 1.0}));
    g.block_table = {2, 3};  // page 3 is outside the pool: key 2 reads as zeros (score 0, V 0)
    const RefAttnResult r = run(g, h.q, kp, vp);
    const double den = 1 + std::exp(0.5) + 1;
    CHECK(r.o[0] == doctest::Approx((1 * 1 + std::exp(0.5) * 2) / den).epsilon(1e-12));
    CHECK(r.lse[0] == doctest::Approx(std::log(den)).epsilon(1e-12));
  }
}

TEST_CASE("reference_attn: identities on random inputs") {
  std::mt19937 rng(20261201);
  const int B = 2, SQ = 37, SK = 53, HQ = 4, HKV = 2, D = 32;
  RefAttnProblem p = fixed(B, SQ, SK, HQ, HKV, D, 0.19);
  const auto q = random_bf16(rng, std::size_t(B) * SQ * HQ * D);
  const auto k = random_bf16(rng, std::size_t(B) * SK * HKV * D);
  const auto v = random_bf16(rng, std::size_t(B) * SK * HKV * D);
  const RefAttnResult base = run(p, q, k, v);
  REQUIRE(!any_nan(base));
  RefAttnProblem causal = p;
  causal.causal = true;
  const RefAttnResult base_causal = run(causal, q, k, v);

  SUBCASE("a window wider than the sequence is no window") {
    RefAttnProblem w = p;
    w.window_left = SK - 1;  // the largest diagonal is SK - 1: every key
    w.window_right = SQ - 1;
    RefAttnResult r = run(w, q, k, v);
    CHECK(bitwise_equal(r.o, base.o));
    CHECK(bitwise_equal(r.lse, base.lse));
    w.window_left = 1 << 20;
    w.window_right = 1 << 20;
    r = run(w, q, k, v);
    CHECK(bitwise_equal(r.o, base.o));
    // one key narrower on the left changes the first rows
    w.window_left = SK - 2;
    r = run(w, q, k, v);
    CHECK(!bitwise_equal(r.o, base.o));
  }
  SUBCASE("window_right 0 is causal; a causal window with window_left wider than the keys too") {
    RefAttnProblem w = p;
    w.window_right = 0;
    RefAttnResult r = run(w, q, k, v);
    CHECK(bitwise_equal(r.o, base_causal.o));
    CHECK(bitwise_equal(r.lse, base_causal.lse));
    w.causal = true;
    w.window_left = SK + 5;
    r = run(w, q, k, v);
    CHECK(bitwise_equal(r.o, base_causal.o));
  }
  SUBCASE("a softcap far above every score is no softcap") {
    RefAttnProblem s = p;
    s.softcap = 1e7;
    const RefAttnResult r = run(s, q, k, v);
    CHECK(max_abs_diff(r.o, base.o) < 1e-9);
    CHECK(max_abs_diff(r.lse, base.lse) < 1e-9);
    s.softcap = 2.0;  // a real cap changes the result
    CHECK(max_abs_diff(run(s, q, k, v).o, base.o) > 1e-3);
  }
  SUBCASE("sink -inf is no sink") {
    RefAttnProblem s = p;
    s.sink_logits.assign(HQ, -std::numeric_limits<float>::infinity());
    const RefAttnResult r = run(s, q, k, v);
    CHECK(bitwise_equal(r.o, base.o));
    CHECK(bitwise_equal(r.lse, base.lse));
  }
  SUBCASE("a sink t moves LSE to LSE + log(1 + e^(t - LSE)) and scales O by e^(LSE - LSE')") {
    for (float t : {-10.0f, 0.0f, 10.0f}) {
      CAPTURE(t);
      RefAttnProblem s = causal;
      s.sink_logits = {t, t + 1, t - 2, 0.5f * t};
      const RefAttnResult r = run(s, q, k, v);
      for (std::size_t row = 0; row < r.lse.size(); ++row) {
        const int h = int((row / SQ) % HQ);
        const double sink = s.sink_logits[std::size_t(h)];
        const double l0 = base_causal.lse[row];
        const double want = l0 + std::log1p(std::exp(sink - l0));
        REQUIRE(r.lse[row] == doctest::Approx(want).epsilon(1e-12));
      }
      double worst = 0;
      for (int b = 0; b < B; ++b)
        for (int i = 0; i < SQ; ++i)
          for (int h = 0; h < HQ; ++h) {
            const std::size_t l = (std::size_t(b) * HQ + h) * SQ + i;
            const double f = std::exp(base_causal.lse[l] - r.lse[l]);
            for (int d = 0; d < D; ++d) {
              const std::size_t o = ((std::size_t(b) * SQ + i) * HQ + h) * D + d;
              worst = std::max(worst, std::fabs(r.o[o] - base_causal.o[o] * f));
            }
          }
      CHECK(worst < 1e-12);
    }
  }
  SUBCASE("ALiBi slope 0 is no ALiBi") {
    RefAttnProblem a = causal;
    a.alibi_slopes.assign(HQ, 0.0f);
    const RefAttnResult r = run(a, q, k, v);
    CHECK(bitwise_equal(r.o, base_causal.o));
    CHECK(bitwise_equal(r.lse, base_causal.lse));
    a.alibi_slopes = {0.0f, 0.0f, 0.5f, 0.0f};  // head 2 changes, only head 2
    const RefAttnResult r2 = run(a, q, k, v);
    CHECK(!bitwise_equal(r2.o, base_causal.o));
  }
  SUBCASE("seqused_k == a fixed K of that many keys") {
    RefAttnProblem u = causal;
    u.seqused_k = {SK - 10, SK - 10};
    RefAttnProblem shorter = fixed(B, SQ, SK - 10, HQ, HKV, D, 0.19);
    shorter.causal = true;
    shorter.k_stride[0] = p.k_stride[0];  // same buffer, same batch stride
    shorter.v_stride[0] = p.v_stride[0];
    const RefAttnResult r = run(u, q, k, v), s = run(shorter, q, k, v);
    CHECK(bitwise_equal(r.o, s.o));
    CHECK(bitwise_equal(r.lse, s.lse));
    u.seqused_k = {SK + 100, -4};  // clamped to [0, seqlen_k]
    const RefAttnResult c = run(u, q, k, v);
    CHECK(!any_nan(c));
    CHECK(c.lse[std::size_t(HQ) * SQ] == -kInf);  // sequence 1 has no key
  }
  SUBCASE("paged with an identity and with a permuted block table == contiguous") {
    const int PS = 16, PPS = (SK + PS - 1) / PS;  // pages per sequence (last one partial)
    const int64_t page_elems = int64_t(PS) * HKV * D;
    for (bool permute : {false, true}) {
      CAPTURE(permute);
      std::vector<int32_t> perm(std::size_t(B) * PPS + 3);  // 3 spare pages
      std::iota(perm.begin(), perm.end(), 0);
      if (permute) std::shuffle(perm.begin(), perm.end(), rng);
      std::vector<uint16_t> kp(perm.size() * std::size_t(page_elems), float_to_bf16(NAN));
      std::vector<uint16_t> vp(kp.size(), float_to_bf16(NAN));
      RefAttnProblem g = causal;
      g.page_size = PS; g.max_blocks_per_seq = PPS; g.num_pages = int(perm.size());
      dense(g.k_stride, PS, HKV, D);
      dense(g.v_stride, PS, HKV, D);
      for (int b = 0; b < B; ++b)
        for (int i = 0; i < PPS; ++i) {
          const int32_t page = perm[std::size_t(b) * PPS + i];
          g.block_table.push_back(page);
          for (int r = 0; r < PS && i * PS + r < SK; ++r)
            for (int e = 0; e < HKV * D; ++e) {
              const std::size_t src = (std::size_t(b) * SK + i * PS + r) * HKV * D + e;
              const std::size_t dst = std::size_t(page) * page_elems + std::size_t(r) * HKV * D + e;
              kp[dst] = k[src];
              vp[dst] = v[src];
            }
        }
      const RefAttnResult r = run(g, q, kp, vp);
      CHECK(bitwise_equal(r.o, base_causal.o));
      CHECK(bitwise_equal(r.lse, base_causal.lse));
    }
  }
  SUBCASE("varlen with one sequence == fixed; BHSD-like packed strides") {
    RefAttnProblem one = fixed(1, SQ, SK, HQ, HKV, D, 0.19);
    one.causal = true;
    const RefAttnResult f = run(one, q, k, v);  // batch 0 of the inputs
    RefAttnProblem vl = one;
    vl.seqlen_q = vl.seqlen_k = 0;
    vl.cu_seqlens_q = {0, SQ}; vl.total_q = SQ; vl.max_seqlen_q = SQ;
    vl.cu_seqlens_k = {0, SK}; vl.total_k = SK; vl.max_seqlen_k = SK;
    vl.q_stride[0] = vl.k_stride[0] = vl.v_stride[0] = 12345;  // unused when packed
    const RefAttnResult r = run(vl, q, k, v);
    CHECK(bitwise_equal(r.o, f.o));
    CHECK(bitwise_equal(r.lse, f.lse));  // [heads, total_q] == [1, heads, seqlen_q]
  }
  SUBCASE("varlen of several sequences (one empty, one without keys) == per-sequence fixed calls") {
    const std::vector<int> lq = {5, 0, 17, 3, 1}, lk = {9, 4, 17, 0, 30};
    RefAttnProblem vl;
    vl.batch = int(lq.size()); vl.heads_q = HQ; vl.heads_kv = HKV; vl.head_dim = D;
    vl.softmax_scale = 0.19; vl.causal = true; vl.window_left = 6;
    vl.softcap = 3.0; vl.sink_logits = {0.5f, -1.0f, 2.0f, 0.0f}; vl.alibi_slopes = {0.1f, 0.0f, 0.3f, 0.05f};
    vl.cu_seqlens_q = {0}; vl.cu_seqlens_k = {0};
    for (std::size_t b = 0; b < lq.size(); ++b) {
      vl.cu_seqlens_q.push_back(vl.cu_seqlens_q.back() + lq[b]);
      vl.cu_seqlens_k.push_back(vl.cu_seqlens_k.back() + lk[b]);
      vl.max_seqlen_q = std::max(vl.max_seqlen_q, lq[b]);
      vl.max_seqlen_k = std::max(vl.max_seqlen_k, lk[b]);
    }
    vl.total_q = vl.cu_seqlens_q.back();
    vl.total_k = vl.cu_seqlens_k.back();
    dense(vl.q_stride, vl.total_q, HQ, D);
    dense(vl.k_stride, vl.total_k, HKV, D);
    dense(vl.v_stride, vl.total_k, HKV, D);
    const auto pq = random_bf16(rng, std::size_t(vl.total_q) * HQ * D);
    const auto pk = random_bf16(rng, std::size_t(vl.total_k) * HKV * D);
    const auto pv = random_bf16(rng, std::size_t(vl.total_k) * HKV * D);
    const RefAttnResult r = run(vl, pq, pk, pv);
    CHECK(!any_nan(r));
    for (std::size_t b = 0; b < lq.size(); ++b) {
      CAPTURE(b);
      if (lq[b] == 0) continue;
      RefAttnProblem one = fixed(1, lq[b], lk[b], HQ, HKV, D, 0.19);
      one.causal = true; one.window_left = 6; one.softcap = 3.0;
      one.sink_logits = vl.sink_logits; one.alibi_slopes = vl.alibi_slopes;
      const int q0 = vl.cu_seqlens_q[b], k0 = vl.cu_seqlens_k[b];
      const RefAttnResult f = run_at(one, pq, pk, pv, q0, k0, HQ, HKV, D);
      for (int i = 0; i < lq[b]; ++i)
        for (int h = 0; h < HQ; ++h) {
          for (int d = 0; d < D; ++d)
            REQUIRE(r.o[((std::size_t(q0) + i) * HQ + h) * D + d] == f.o[(std::size_t(i) * HQ + h) * D + d]);
          REQUIRE(r.lse[std::size_t(h) * vl.total_q + q0 + i] == f.lse[std::size_t(h) * lq[b] + i]);
        }
      if (lk[b] == 0)  // no key, a sink: LSE = sink, O = 0
        CHECK(r.lse[std::size_t(2) * vl.total_q + q0] == double(vl.sink_logits[2]));
    }
  }
  SUBCASE("decode-shaped problems == reference_decode (paged, ragged seqlens_k)") {
    ptxfmha::RefDecodeShape s;
    s.batch = 3; s.seqlen_q = 2; s.max_seqlen_k = 70; s.heads_q = 8; s.heads_kv = 2; s.head_dim = 16;
    s.causal = true; s.softmax_scale = 0.25;
    dense(s.q_stride, 2, 8, 16);
    s.page_size = 16; s.max_blocks_per_seq = 5; s.num_pages = 12;
    dense(s.k_stride, 16, 2, 16);
    dense(s.v_stride, 16, 2, 16);
    const std::vector<int32_t> seqlens = {70, 1, 33}, table = {3, 1, 4, 0, 5, 9, 2, 6, 5, 3, 7, 8, 10, 11, 99};
    const auto dq = random_bf16(rng, std::size_t(3) * 2 * 8 * 16);
    const auto dk = random_bf16(rng, std::size_t(12) * 16 * 2 * 16);
    const auto dv = random_bf16(rng, dk.size());
    std::vector<double> o, l;
    ptxfmha::reference_decode(s, dq.data(), dk.data(), dv.data(), seqlens, table, o, l);
    RefAttnProblem a;
    a.batch = 3; a.seqlen_q = 2; a.seqlen_k = 70; a.heads_q = 8; a.heads_kv = 2; a.head_dim = 16;
    a.causal = true; a.softmax_scale = 0.25; a.seqused_k = seqlens;
    a.page_size = 16; a.max_blocks_per_seq = 5; a.num_pages = 12; a.block_table = table;
    for (int i = 0; i < 3; ++i) { a.q_stride[i] = s.q_stride[i]; a.k_stride[i] = s.k_stride[i]; a.v_stride[i] = s.v_stride[i]; }
    const RefAttnResult r = run(a, dq, dk, dv);
    CHECK(bitwise_equal(r.o, o));
    CHECK(bitwise_equal(r.lse, l));
  }
}

TEST_CASE("reference_attn: rows that see no key give O = 0 and LSE = -inf (or the sink), never NaN") {
  std::mt19937 rng(7);
  const int SQ = 40, SK = 12, H = 2, D = 8;
  const auto q = random_bf16(rng, std::size_t(SQ) * H * D);
  const auto k = random_bf16(rng, std::size_t(SK) * H * D);
  const auto v = random_bf16(rng, std::size_t(SK) * H * D);
  struct W { int left, right; bool causal; };
  for (const W w : {W{-1, -1, true}, W{0, 0, false}, W{3, 0, false}, W{2, -1, true}, W{2, 1, false}, W{-1, 0, true}}) {
    for (bool sink : {false, true}) {
      CAPTURE(w.left);
      CAPTURE(w.right);
      CAPTURE(sink);
      RefAttnProblem p = fixed(1, SQ, SK, H, H, D, 0.3);
      p.window_left = w.left; p.window_right = w.right; p.causal = w.causal;
      p.alibi_slopes = {0.2f, 0.7f};
      p.softcap = 4.0;
      if (sink) p.sink_logits = {1.5f, -3.0f};
      const RefAttnResult r = run(p, q, k, v);
      CHECK(!any_nan(r));
      int empty = 0;
      for (int h = 0; h < H; ++h)
        for (int i = 0; i < SQ; ++i) {
          const int64_t d = int64_t(i) + SK - SQ;
          const int64_t lo = w.left >= 0 ? std::max<int64_t>(0, d - w.left) : 0;
          const int64_t right = w.causal ? 0 : w.right;
          const int64_t hi = right >= 0 ? std::min<int64_t>(SK, d + right + 1) : SK;
          if (lo < hi) continue;
          ++empty;
          const double l = r.lse[std::size_t(h) * SQ + i];
          CHECK(l == (sink ? double(p.sink_logits[std::size_t(h)]) : -kInf));
          for (int e = 0; e < D; ++e) CHECK(r.o[(std::size_t(i) * H + h) * D + e] == 0.0);
        }
      CHECK(empty > 0);  // every window here leaves the first rows (d < 0) without keys
    }
  }
}

TEST_CASE("reference_attn: garbage metadata is clamped as the kernels clamp it") {
  std::mt19937 rng(11);
  const int H = 1, D = 4, TQ = 10, TK = 12;
  RefAttnProblem p;
  p.batch = 4; p.heads_q = p.heads_kv = H; p.head_dim = D; p.softmax_scale = 0.5;
  p.total_q = TQ; p.max_seqlen_q = 4; p.total_k = TK; p.max_seqlen_k = 5;
  // seq 0: rows [-3 -> 0, 2) ; seq 1: [2, 9) cut to 4 rows by max_seqlen_q ; seq 2: [9, 1 -> 9)
  // empty ; seq 3: [1, 500 -> 10) cut to 4 rows: rows 1..4 overlap seq 1's 2..5.
  p.cu_seqlens_q = {-3, 2, 9, 1, 500};
  p.cu_seqlens_k = {0, 40, -7, 3, 12};
  p.seqused_k = {100, -1, 2, 3};
  dense(p.q_stride, TQ, H, D);
  dense(p.k_stride, TK, H, D);
  dense(p.v_stride, TK, H, D);
  const auto q = random_bf16(rng, std::size_t(TQ) * H * D);
  const auto k = random_bf16(rng, std::size_t(TK) * H * D);
  const auto v = random_bf16(rng, std::size_t(TK) * H * D);
  const RefAttnResult r = run(p, q, k, v);
  const std::vector<uint8_t> writers = {1, 2, 2, 2, 2, 1, 0, 0, 0, 0};
  CHECK(r.writers == writers);
  for (int row = 6; row < TQ; ++row) CHECK(std::isnan(r.lse[std::size_t(row)]));  // no sequence
  for (int row = 0; row < 6; ++row) CHECK(!std::isnan(r.lse[std::size_t(row)]));
  // sequence 1 has no key after clamping (seqused -1 -> 0): its own row 5 (not overwritten)
  CHECK(r.lse[5] == -kInf);
}

TEST_CASE("reference_attn: the threaded path equals the single-threaded one bitwise") {
  std::mt19937 rng(3);
  // Large enough for threads (> 4e6 multiply-adds), one head: rows are split into blocks.
  RefAttnProblem p = fixed(1, 700, 900, 1, 1, 64, 0.125);
  p.window_left = 300;
  p.causal = true;
  p.sink_logits = {0.25f};
  const auto q = random_bf16(rng, 700 * 64), k = random_bf16(rng, 900 * 64), v = random_bf16(rng, 900 * 64);
  const RefAttnResult big = run(p, q, k, v);
  // The same rows one query at a time (single-threaded calls; causal offsets line up).
  for (int i : {0, 1, 299, 300, 511, 699}) {
    CAPTURE(i);
    RefAttnProblem one = fixed(1, 1, 900 - (699 - i), 1, 1, 64, 0.125);
    one.window_left = 300; one.causal = true; one.sink_logits = {0.25f};
    const RefAttnResult r = run(one, std::vector<uint16_t>(q.begin() + i * 64, q.begin() + (i + 1) * 64), k, v);
    for (int d = 0; d < 64; ++d) REQUIRE(r.o[std::size_t(d)] == big.o[std::size_t(i) * 64 + d]);
    REQUIRE(r.lse[0] == big.lse[std::size_t(i)]);
  }
}

TEST_CASE("reference_attn: shapes ptxfmha_attn rejects throw") {
  const std::vector<uint16_t> z(64, 0);
  auto throws = [&](const RefAttnProblem& p) {
    RefAttnResult r;
    CHECK_THROWS_AS(ptxfmha::reference_attn(p, z.data(), z.data(), z.data(), &r), std::invalid_argument);
  };
  RefAttnProblem p = fixed(1, 2, 2, 2, 1, 4, 1.0);
  RefAttnResult ok;
  CHECK_NOTHROW(ptxfmha::reference_attn(p, z.data(), z.data(), z.data(), &ok));
  RefAttnProblem b = p; b.heads_kv = 3; throws(b);
  b = p; b.window_left = -2; throws(b);
  b = p; b.causal = true; b.window_right = 1; throws(b);
  b = p; b.softcap = -1; throws(b);
  b = p; b.sink_logits = {1.0f}; throws(b);  // heads_q = 2 entries needed
  b = p; b.alibi_slopes = {1.0f, 2.0f, 3.0f}; throws(b);
  b = p; b.cu_seqlens_q = {0, 1, 2}; b.total_q = 2; throws(b);  // batch + 1 = 2 entries
  b = p; b.seqused_k = {1, 1}; throws(b);
  b = p; b.page_size = 4; b.max_blocks_per_seq = 1; b.num_pages = 1; b.block_table = {0}; b.seqlen_k = 5; throws(b);
}

TEST_CASE("reference_attn: a few query rows (heads of a KV head per task) equal many (a head per task), bitwise") {
  // Sequences of <= 16 query rows (decode) put several heads of a KV head in one task; longer
  // ones a head and a block of rows. Both must give the same bits: 20 rows against the same
  // rows run 4 at a time, paged, one page id outside the pool.
  const int B = 2, SQ = 20, SK = 300, HQ = 8, HKV = 2, D = 64, PS = 16, PPS = (SK + PS - 1) / PS;
  std::mt19937 rng(2026);
  const std::vector<uint16_t> q = random_bf16(rng, std::size_t(B) * SQ * HQ * D);
  const int pages = B * PPS;
  const std::vector<uint16_t> kp = random_bf16(rng, std::size_t(pages) * PS * HKV * D);
  const std::vector<uint16_t> vp = random_bf16(rng, kp.size());
  RefAttnProblem all = fixed(B, SQ, SK, HQ, HKV, D, 0.13);
  all.page_size = PS; all.max_blocks_per_seq = PPS; all.num_pages = pages;
  dense(all.k_stride, PS, HKV, D);
  dense(all.v_stride, PS, HKV, D);
  for (int i = 0; i < pages; ++i) all.block_table.push_back((i * 7) % pages);
  all.block_table[3] = pages + 5;  // outside the pool: its keys read as zeros
  const RefAttnResult ref = run(all, q, kp, vp);
  REQUIRE_FALSE(any_nan(ref));
  for (int r0 = 0; r0 < SQ; r0 += 4) {
    CAPTURE(r0);
    RefAttnProblem few = all;
    few.seqlen_q = 4;  // the full problem's strides: rows r0..r0+3 of each sequence
    RefAttnResult r;
    ptxfmha::reference_attn(few, q.data() + std::size_t(r0) * HQ * D, kp.data(), vp.data(), &r);
    bool same = true;
    for (int b = 0; b < B; ++b)
      for (int i = 0; i < 4; ++i)
        for (int h = 0; h < HQ; ++h) {
          const std::size_t o_few = ((std::size_t(b) * 4 + i) * HQ + h) * D;
          const std::size_t o_all = ((std::size_t(b) * SQ + r0 + i) * HQ + h) * D;
          same = same && std::memcmp(&r.o[o_few], &ref.o[o_all], D * sizeof(double)) == 0;
          same = same && r.lse[(std::size_t(b) * HQ + h) * 4 + i] == ref.lse[(std::size_t(b) * HQ + h) * SQ + r0 + i];
        }
    CHECK(same);
  }
}

TEST_CASE("reference_attn: a decode task's rows cut into score blocks equal rows run one by one, bitwise") {
  // 16 heads of one KV head x 4 query rows over 3000 keys, with 1, 2 and 16 threads (a task
  // then holds 16, 8 or 1 heads) and a score budget of 10^5 (rows x keys of a block: 33 rows) or
  // the default: the tasks run as one to several blocks of rows, each streaming the keys in
  // widened chunks. Every row must equal the same row computed alone (one head, one row).
  const int SQ = 4, SK = 3000, HQ = 16, D = 64;
  std::mt19937 rng(17);
  const std::vector<uint16_t> q = random_bf16(rng, std::size_t(SQ) * HQ * D);
  const std::vector<uint16_t> k = random_bf16(rng, std::size_t(SK) * D), v = random_bf16(rng, k.size());
  RefAttnProblem all = fixed(1, SQ, SK, HQ, 1, D, 0.11);
  all.sink_logits.assign(HQ, 0.5f);
  all.sink_logits[15] = 9.0f;
  for (const int threads : {1, 2, 16})
    for (const int64_t budget : {int64_t(100000), ptxfmha::RefAttnLimits{}.score_budget}) {
      CAPTURE(threads);
      CAPTURE(budget);
      RefAttnResult big;
      ptxfmha::reference_attn_impl(all, q.data(), k.data(), v.data(), &big, true, "test", {threads, budget});
      REQUIRE_FALSE(any_nan(big));
      for (const auto& hi : std::vector<std::pair<int, int>>{{0, 0}, {7, 2}, {8, 1}, {15, 3}}) {
        const int h = hi.first, i = hi.second;
        CAPTURE(h);
        CAPTURE(i);
        RefAttnProblem one = fixed(1, 1, SK, 1, 1, D, 0.11);
        one.sink_logits = {all.sink_logits[std::size_t(h)]};
        const std::size_t qo = (std::size_t(i) * HQ + h) * D;
        const RefAttnResult r = run(one, std::vector<uint16_t>(q.begin() + long(qo), q.begin() + long(qo + D)), k, v);
        CHECK(std::memcmp(r.o.data(), &big.o[qo], D * sizeof(double)) == 0);
        CHECK(r.lse[0] == big.lse[std::size_t(h) * SQ + i]);
      }
    }
}

TEST_CASE("reference_attn_lse: the full pass's LSE, writers and visible bitwise, no O, every masking") {
  // One piece of masking for both passes: causal, windows, seqused_k, sinks / ALiBi / softcap,
  // sampled rows, packed Q and K with overlapping or empty sequences, paged with a page outside
  // the pool; 1 and 2 threads, a small score budget (several blocks of rows).
  const int B = 3, SQ = 40, SK = 90, HQ = 4, HKV = 2, D = 32, PS = 16, PPS = (SK + PS - 1) / PS;
  std::mt19937 rng(91);
  const std::vector<uint16_t> q = random_bf16(rng, std::size_t(B) * SQ * HQ * D);
  const std::vector<uint16_t> k = random_bf16(rng, std::size_t(B) * PPS * PS * HKV * D);
  std::vector<RefAttnProblem> ps;
  RefAttnProblem p = fixed(B, SQ, SK, HQ, HKV, D, 0.2);
  p.causal = true;
  p.window_left = 7;
  p.seqused_k = {SK, 30, 0};
  ps.push_back(p);
  p.causal = false;
  p.window_right = 5;
  p.softcap = 3;
  p.sink_logits = {0.5f, -1, 2, 0};
  p.alibi_slopes = {0.5f, 0.25f, 0.125f, 0.0625f};
  p.row_mask.assign(std::size_t(B) * SQ, 1);
  for (std::size_t i = 0; i < p.row_mask.size(); i += 3) p.row_mask[i] = 0;
  ps.push_back(p);
  RefAttnProblem v = fixed(B, 0, 0, HQ, HKV, D, 0.2);
  v.causal = true;
  v.cu_seqlens_q = {0, 30, 20, 70}; v.total_q = 80; v.max_seqlen_q = 45;  // overlap, rows past 65
  v.cu_seqlens_k = {0, 90, 90, 200}; v.total_k = 200; v.max_seqlen_k = 90;  // an empty sequence
  ps.push_back(v);
  RefAttnProblem g = fixed(B, SQ, SK, HQ, HKV, D, 0.2);
  g.window_left = 20;
  g.page_size = PS; g.max_blocks_per_seq = PPS; g.num_pages = B * PPS;
  dense(g.k_stride, PS, HKV, D);
  for (int i = 0; i < B * PPS; ++i) g.block_table.push_back((i * 5) % (B * PPS));
  g.block_table[4] = -1;  // outside the pool
  ps.push_back(g);
  for (std::size_t c = 0; c < ps.size(); ++c)
    for (const int threads : {1, 2}) {
      CAPTURE(c);
      CAPTURE(threads);
      RefAttnProblem pc = ps[c];
      pc.v_stride[0] = pc.k_stride[0]; pc.v_stride[1] = pc.k_stride[1]; pc.v_stride[2] = pc.k_stride[2];
      const ptxfmha::RefAttnLimits lim{threads, 200};
      RefAttnResult full, lse;
      ptxfmha::reference_attn_impl(pc, q.data(), k.data(), k.data(), &full, true, "test", lim);
      ptxfmha::reference_attn_lse(pc, q.data(), k.data(), &lse, "test", lim);
      CHECK(lse.o.empty());
      CHECK(bitwise_equal(lse.lse, full.lse));
      CHECK(lse.writers == full.writers);
      CHECK(lse.visible == full.visible);
      CHECK(std::count_if(full.lse.begin(), full.lse.end(), [](double x) { return std::isfinite(x); }) > 0);
    }
}
