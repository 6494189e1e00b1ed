// CPU tests of the float64 reference (host/src/reference.cpp): bf16 conversion, reference_fwd
// against an independent naive implementation, and compare().
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <ios>
#include <limits>
#include <random>
#include <vector>

#include "ptxfmha/reference.h"

using ptxfmha::bf16_to_float;
using ptxfmha::compare;
using ptxfmha::float_to_bf16;
using ptxfmha::RefShape;

namespace {

float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// Layout of one strided [batch, seq, heads, head_dim] test tensor.
enum class Order { BSHD, BHSD };
struct Layout {
  int64_t stride[3];  // batch, seq, head
  int64_t elems;      // buffer size
};
Layout make_layout(Order order, int batch, int seq, int heads, int head_dim, int pad_row,
                   int pad_mid, int pad_batch) {
  Layout l{};
  const int64_t row = head_dim + pad_row;
  if (order == Order::BSHD) {
    l.stride[2] = row;
    l.stride[1] = heads * row + pad_mid;
    l.stride[0] = seq * l.stride[1] + pad_batch;
  } else {
    l.stride[1] = row;
    l.stride[2] = seq * row + pad_mid;
    l.stride[0] = heads * l.stride[2] + pad_batch;
  }
  l.elems = batch * l.stride[0];
  return l;
}

std::vector<uint16_t> random_bf16(std::mt19937& rng, int64_t n, float scale) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<uint16_t> v(static_cast<size_t>(n));
  for (auto& x : v) x = float_to_bf16(dist(rng));
  return v;
}

// Independent naive attention: full score matrix row with explicit -inf masking, two-pass
// softmax in long double, mask from the definition (key j visible iff j - i <= Sk - Sq).
void naive_attention(const RefShape& s, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                     std::vector<double>& out, std::vector<double>& lse) {
  out.assign(size_t(s.batch) * s.seqlen_q * s.heads_q * s.head_dim, 12345.0);
  lse.assign(size_t(s.batch) * s.heads_q * s.seqlen_q, 12345.0);
  const int group = s.heads_q / s.heads_kv;
  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < s.heads_q; ++h)
      for (int i = 0; i < s.seqlen_q; ++i) {
        std::vector<long double> p(s.seqlen_k);
        long double mx = -INFINITY;
        for (int j = 0; j < s.seqlen_k; ++j) {
          bool visible = !s.causal || (j - i <= s.seqlen_k - s.seqlen_q);
          if (!visible) {
            p[j] = -INFINITY;
            continue;
          }
          long double dot = 0;
          for (int d = 0; d < s.head_dim; ++d) {
            long double qa = bf16_to_float(q[b * s.q_stride[0] + i * s.q_stride[1] + h * s.q_stride[2] + d]);
            long double ka = bf16_to_float(
                k[b * s.k_stride[0] + j * s.k_stride[1] + (h / group) * s.k_stride[2] + d]);
            dot += qa * ka;
          }
          p[j] = dot * s.softmax_scale;
          if (p[j] > mx) mx = p[j];
        }
        double* o = &out[((size_t(b) * s.seqlen_q + i) * s.heads_q + h) * s.head_dim];
        double& l = lse[(size_t(b) * s.heads_q + h) * s.seqlen_q + i];
        if (std::isinf(mx)) {
          for (int d = 0; d < s.head_dim; ++d) o[d] = 0;
          l = -INFINITY;
          continue;
        }
        long double sum = 0;
        for (int j = 0; j < s.seqlen_k; ++j) sum += std::isinf(p[j]) ? 0.0L : std::exp(p[j] - mx);
        for (int d = 0; d < s.head_dim; ++d) {
          long double acc = 0;
          for (int j = 0; j < s.seqlen_k; ++j) {
            if (std::isinf(p[j])) continue;
            acc += std::exp(p[j] - mx) / sum *
                   bf16_to_float(v[b * s.v_stride[0] + j * s.v_stride[1] + (h / group) * s.v_stride[2] + d]);
          }
          o[d] = static_cast<double>(acc);
        }
        l = static_cast<double>(mx + std::log(sum));
      }
}

struct Case {
  int batch, sq, sk, hq, hkv, d;
  bool causal;
  Order order;
  int pad_row, pad_mid, pad_batch;
};

void run_case(const Case& c, uint32_t seed) {
  CAPTURE(c.batch);
  CAPTURE(c.sq);
  CAPTURE(c.sk);
  CAPTURE(c.hq);
  CAPTURE(c.hkv);
  CAPTURE(c.d);
  CAPTURE(c.causal);
  std::mt19937 rng(seed);
  Layout lq = make_layout(c.order, c.batch, c.sq, c.hq, c.d, c.pad_row, c.pad_mid, c.pad_batch);
  Layout lk = make_layout(c.order, c.batch, c.sk, c.hkv, c.d, c.pad_row, c.pad_mid, c.pad_batch);
  Layout lv = make_layout(Order::BSHD, c.batch, c.sk, c.hkv, c.d, 0, 0, 0);  // V dense
  auto q = random_bf16(rng, lq.elems, 1.0f);
  auto k = random_bf16(rng, lk.elems, 1.0f);
  auto v = random_bf16(rng, lv.elems, 1.0f);
  RefShape s{};
  s.batch = c.batch;
  s.seqlen_q = c.sq;
  s.seqlen_k = c.sk;
  s.heads_q = c.hq;
  s.heads_kv = c.hkv;
  s.head_dim = c.d;
  s.causal = c.causal;
  s.softmax_scale = 1.0 / std::sqrt(double(c.d));
  for (int i = 0; i < 3; ++i) {
    s.q_stride[i] = lq.stride[i];
    s.k_stride[i] = lk.stride[i];
    s.v_stride[i] = lv.stride[i];
  }
  std::vector<double> out, lse, nout, nlse;
  ptxfmha::reference_fwd(s, q.data(), k.data(), v.data(), out, lse);
  naive_attention(s, q.data(), k.data(), v.data(), nout, nlse);
  REQUIRE(out.size() == nout.size());
  REQUIRE(lse.size() == nlse.size());
  double max_out = 0, max_lse = 0;
  for (size_t i = 0; i < out.size(); ++i) max_out = std::max(max_out, std::fabs(out[i] - nout[i]));
  for (size_t i = 0; i < lse.size(); ++i) {
    if (std::isinf(nlse[i])) {
      CHECK(lse[i] == nlse[i]);  // -inf for rows without keys
    } else {
      max_lse = std::max(max_lse, std::fabs(lse[i] - nlse[i]));
    }
  }
  CHECK(max_out < 1e-12);
  CHECK(max_lse < 1e-12);
}

}  // namespace

TEST_CASE("bf16: every bit pattern survives bf16 -> float -> bf16") {
  for (uint32_t b = 0; b < 65536; ++b) {
    const uint16_t h = static_cast<uint16_t>(b);
    const float f = bf16_to_float(h);
    CHECK(float_bits(f) == (uint32_t(h) << 16));  // exact widening
    const uint16_t back = float_to_bf16(f);
    if (std::isnan(f)) {
      REQUIRE(std::isnan(bf16_to_float(back)));
      CHECK((back & 0x8000) == (h & 0x8000));  // sign kept
    } else if (back != h) {
      FAIL_CHECK("bf16 round trip changed 0x" << std::hex << b << " into 0x" << back);
    }
  }
}

TEST_CASE("bf16: float_to_bf16 rounds to nearest even") {
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to the even mantissa (1.0).
  CHECK(float_to_bf16(1.0f + 0x1p-8f) == 0x3f80);
  // 1 + 3*2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even): rounds up.
  CHECK(float_to_bf16(1.0f + 3 * 0x1p-8f) == 0x3f82);
  // just above a tie rounds up, just below rounds down
  CHECK(float_to_bf16(1.0f + 0x1p-8f + 0x1p-20f) == 0x3f81);
  CHECK(float_to_bf16(1.0f + 0x1p-8f - 0x1p-20f) == 0x3f80);
  CHECK(float_to_bf16(-1.0f - 3 * 0x1p-8f) == 0xbf82);
  CHECK(float_to_bf16(-0.0f) == 0x8000);
  CHECK(float_to_bf16(std::numeric_limits<float>::infinity()) == 0x7f80);
  CHECK(float_to_bf16(-std::numeric_limits<float>::infinity()) == 0xff80);
  // the largest float rounds up to infinity; the largest bf16 stays
  CHECK(float_to_bf16(std::numeric_limits<float>::max()) == 0x7f80);
  CHECK(float_to_bf16(bf16_to_float(0x7f7f)) == 0x7f7f);
  // subnormals round like any other value
  CHECK(float_to_bf16(bits_to_float(0x00008000u)) == 0x0000);  // tie, even -> 0
  CHECK(float_to_bf16(bits_to_float(0x00018000u)) == 0x0002);  // tie, odd -> up
  // NaN stays NaN even when only low payload bits are set (would truncate to inf)
  CHECK(std::isnan(bf16_to_float(float_to_bf16(bits_to_float(0x7f800001u)))));
  CHECK(std::isnan(bf16_to_float(float_to_bf16(bits_to_float(0xff800001u)))));
  CHECK(bf16_to_float(0x3fc0) == 1.5f);
}

TEST_CASE("reference_fwd matches a naive float64 attention") {
  const Case cases[] = {
      // batch sq  sk  hq hkv  d  causal order       pads
      {1, 1, 1, 1, 1, 8, false, Order::BSHD, 0, 0, 0},
      {1, 1, 1, 1, 1, 8, true, Order::BSHD, 0, 0, 0},
      {2, 17, 33, 4, 2, 16, false, Order::BSHD, 8, 16, 24},  // GQA 2, padded strides
      {2, 17, 33, 4, 2, 16, true, Order::BSHD, 8, 16, 24},   // causal, sq < sk
      {1, 33, 17, 3, 1, 24, true, Order::BSHD, 0, 8, 0},     // sq > sk: first rows see no key
      {2, 20, 20, 2, 2, 8, true, Order::BHSD, 8, 0, 8},      // heads slower than seq
      {1, 5, 64, 6, 3, 32, true, Order::BHSD, 0, 16, 0},
      {3, 9, 1, 2, 1, 8, true, Order::BSHD, 0, 0, 0},        // one key: rows 0..7 see none
      {1, 40, 40, 8, 1, 16, false, Order::BSHD, 16, 0, 0},   // MQA
  };
  uint32_t seed = 1;
  for (const Case& c : cases) run_case(c, seed++);
}

TEST_CASE("reference_fwd: threaded path (big problem) matches the naive attention") {
  // 2*4*200*180*64 = 18M multiply-adds, above the single-thread threshold.
  run_case({2, 200, 180, 4, 2, 64, true, Order::BSHD, 8, 0, 0}, 99);
}

TEST_CASE("reference_fwd: rows without keys give O = 0 and LSE = -inf") {
  RefShape s{};
  s.batch = 1;
  s.seqlen_q = 4;
  s.seqlen_k = 2;
  s.heads_q = 1;
  s.heads_kv = 1;
  s.head_dim = 8;
  s.causal = true;
  s.softmax_scale = 0.5;
  s.q_stride[0] = s.k_stride[0] = s.v_stride[0] = 64;
  s.q_stride[1] = s.k_stride[1] = s.v_stride[1] = 8;
  s.q_stride[2] = s.k_stride[2] = s.v_stride[2] = 8;
  std::vector<uint16_t> q(64, float_to_bf16(1.0f)), k(64, float_to_bf16(1.0f)), v(64);
  for (int i = 0; i < 64; ++i) v[i] = float_to_bf16(float(i));
  std::vector<double> out, lse;
  ptxfmha::reference_fwd(s, q.data(), k.data(), v.data(), out, lse);
  // bottom-right: row i sees keys j <= i - 2: rows 0,1 none; row 2 key 0; row 3 keys 0,1
  for (int d = 0; d < 8; ++d) {
    CHECK(out[0 * 8 + d] == 0.0);
    CHECK(out[1 * 8 + d] == 0.0);
    CHECK(out[2 * 8 + d] == doctest::Approx(double(d)));          // only V row 0
    CHECK(out[3 * 8 + d] == doctest::Approx((d + (8 + d)) / 2.0));  // equal scores: mean
  }
  CHECK(std::isinf(lse[0]));
  CHECK(lse[0] < 0);
  CHECK(std::isinf(lse[1]));
  CHECK(lse[2] == doctest::Approx(0.5 * 8));                 // one score of 4
  CHECK(lse[3] == doctest::Approx(4.0 + std::log(2.0)));   // two scores of 4
}

TEST_CASE("compare: figures, tolerances, NaN and infinities") {
  SUBCASE("identical") {
    std::vector<double> a = {1, -2, 3, 0};
    auto e = compare(a.data(), a.data(), a.size());
    CHECK(e.max_abs == 0);
    CHECK(e.rel_l2 == 0);
    CHECK(e.cosine == doctest::Approx(1.0));
    CHECK(e.nan_count == 0);
    CHECK(e.first_bad == -1);
  }
  SUBCASE("known error") {
    std::vector<double> ref = {3, 4, 0, 0};
    std::vector<double> got = {3, 4, 0.5, 0};
    auto e = compare(got.data(), ref.data(), ref.size(), 0.1, 0.0);
    CHECK(e.max_abs == doctest::Approx(0.5));
    CHECK(e.rel_l2 == doctest::Approx(0.5 / 5.0));
    CHECK(e.cosine == doctest::Approx(25.0 / (5.0 * std::sqrt(25.25))));
    CHECK(e.first_bad == 2);
  }
  SUBCASE("relative tolerance scales with |ref|") {
    std::vector<double> ref = {100, 1};
    std::vector<double> got = {101, 1.5};
    auto e = compare(got.data(), ref.data(), 2, 0.0, 0.02);  // 1 <= 2 passes, 0.5 > 0.02 fails
    CHECK(e.first_bad == 1);
    e = compare(got.data(), ref.data(), 2, 0.5, 0.02);
    CHECK(e.first_bad == -1);
  }
  SUBCASE("NaN poisons every figure") {
    std::vector<double> ref = {1, 2, 3};
    std::vector<double> got = {1, std::nan(""), 3};
    auto e = compare(got.data(), ref.data(), 3);
    CHECK(e.nan_count == 1);
    CHECK(e.first_bad == 1);
    CHECK(std::isnan(e.max_abs));
    CHECK(std::isnan(e.rel_l2));
    CHECK(std::isnan(e.cosine));
    CHECK_FALSE(e.rel_l2 < 1e-2);
  }
  SUBCASE("equal -inf (LSE of rows without keys) is exact") {
    const double ninf = -std::numeric_limits<double>::infinity();
    std::vector<double> ref = {ninf, 2.0};
    std::vector<double> got = {ninf, 2.0};
    auto e = compare(got.data(), ref.data(), 2);
    CHECK(e.max_abs == 0);
    CHECK(e.rel_l2 == 0);
    CHECK(e.first_bad == -1);
    got[0] = 0.0;  // a finite value where -inf was expected
    e = compare(got.data(), ref.data(), 2);
    CHECK(e.first_bad == 0);
    CHECK(std::isinf(e.max_abs));
    CHECK(std::isinf(e.rel_l2));
    CHECK(e.cosine == 0);
  }
  SUBCASE("all-zero vectors") {
    std::vector<double> z = {0, 0};
    std::vector<double> one = {0, 1};
    CHECK(compare(z.data(), z.data(), 2).cosine == 1);
    CHECK(compare(one.data(), z.data(), 2, 2, 0).rel_l2 == std::numeric_limits<double>::infinity());
    CHECK(compare(one.data(), z.data(), 2, 2, 0).cosine == 0);
  }
  SUBCASE("a permutation is caught (cosine well below 1)") {
    std::mt19937 rng(7);
    std::normal_distribution<double> dist;
    std::vector<double> ref(256), got(256);
    for (auto& x : ref) x = dist(rng);
    for (size_t i = 0; i < ref.size(); ++i) got[i] = ref[(i + 1) % ref.size()];
    auto e = compare(got.data(), ref.data(), ref.size());
    CHECK(e.cosine < 0.5);
    CHECK(e.rel_l2 > 0.5);
    CHECK(e.first_bad >= 0);
  }
}
