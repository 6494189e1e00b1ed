// CPU tests of the decode host side added with the e4m3 cache, the serving features and the
// A/B levers (no device needed):
//   - the e4m3 conversions: every code's value, and float_to_e4m3 against a brute-force
//     nearest-value search (ties to even, saturation, NaN);
//   - reference_attn_e4m3 against reference_attn on the dequantised cache where that cache is
//     exactly bf16 (power-of-two scales), per KV head and per tensor, with every feature; its
//     logit_mag (the e4m3 LSE bound's scale) against a brute-force sum of |q k|;
//   - the version-2 fields of ptxfmha_decode_attn_params: each bad value has its row (status
//     and a message naming the field), through the validator and the public entry points;
//     the cache's element size in the stride and aliasing rules; an older caller's block;
//   - the plan: the window band's tiles, the "more, shorter CTAs" split policy.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "attn.h"
#include "decode.h"
#include "ptxfmha/ptxfmha.h"
#include "ptxfmha/reference.h"
#include "validate_attn.h"
#include "validate_fixtures.h"

namespace {

// ---- e4m3 ------------------------------------------------------------------------------------
// Brute force: the finite code nearest to |f| (ties: the even code), saturating at 448.
uint8_t e4m3_brute(float f) {
  if (std::isnan(f)) return 0x7F;
  const uint8_t sign = std::signbit(f) ? 0x80 : 0x00;
  const double a = std::fabs(double(f));
  int best = 0;
  double best_err = a;
  for (int code = 1; code <= 0x7E; ++code) {
    const double err = std::fabs(double(ptxfmha::e4m3_to_float(uint8_t(code))) - a);
    if (err < best_err || (err == best_err && (code & 1) == 0)) {
      best = code;
      best_err = err;
    }
  }
  return uint8_t(sign | best);
}

}  // namespace

TEST_CASE("decode e4m3: code values (OCP E4M3: bias 7, subnormals, NaN 0x7F / 0xFF, max 448)") {
  using ptxfmha::e4m3_to_float;
  CHECK(e4m3_to_float(0x00) == 0.0f);
  CHECK(std::signbit(e4m3_to_float(0x80)));
  CHECK(e4m3_to_float(0x01) == std::ldexp(1.0f, -9));   // smallest subnormal
  CHECK(e4m3_to_float(0x07) == 7 * std::ldexp(1.0f, -9));
  CHECK(e4m3_to_float(0x08) == std::ldexp(1.0f, -6));   // smallest normal
  CHECK(e4m3_to_float(0x38) == 1.0f);
  CHECK(e4m3_to_float(0x3C) == 1.5f);
  CHECK(e4m3_to_float(0x7E) == 448.0f);
  CHECK(e4m3_to_float(0xFE) == -448.0f);
  CHECK(e4m3_to_float(0x77) == 240.0f);                 // exponent 15 is finite except m = 7
  CHECK(std::isnan(e4m3_to_float(0x7F)));
  CHECK(std::isnan(e4m3_to_float(0xFF)));
  // Monotone over the positive codes, and every value is exactly a bf16 value.
  for (int c = 1; c <= 0x7E; ++c) {
    CAPTURE(c);
    CHECK(e4m3_to_float(uint8_t(c)) > e4m3_to_float(uint8_t(c - 1)));
    const float v = e4m3_to_float(uint8_t(c));
    CHECK(ptxfmha::bf16_to_float(ptxfmha::float_to_bf16(v)) == v);
  }
}

TEST_CASE("decode e4m3: float_to_e4m3 is the nearest code (ties to even), saturating, NaN -> 0x7F") {
  using ptxfmha::float_to_e4m3;
  for (int c = 0; c < 256; ++c) {  // every finite code round-trips
    if ((c & 0x7F) == 0x7F) continue;
    CAPTURE(c);
    const float v = ptxfmha::e4m3_to_float(uint8_t(c));
    CHECK(float_to_e4m3(v) == (c == 0x80 ? 0x80 : c));
  }
  CHECK(float_to_e4m3(1000.0f) == 0x7E);
  CHECK(float_to_e4m3(-1e30f) == 0xFE);
  CHECK(float_to_e4m3(std::numeric_limits<float>::infinity()) == 0x7E);
  CHECK(float_to_e4m3(std::numeric_limits<float>::quiet_NaN()) == 0x7F);
  CHECK(float_to_e4m3(1.0625f) == 0x38);  // halfway 1 .. 1.125: to the even code (1.0)
  CHECK(float_to_e4m3(1.1875f) == 0x3A);  // halfway 1.125 .. 1.25: to 1.25 (even)
  CHECK(float_to_e4m3(std::ldexp(1.0f, -10)) == 0x00);  // half the smallest subnormal: to 0
  std::mt19937_64 rng(17);
  std::uniform_real_distribution<double> expo(-12.0, 9.5);
  int checked = 0;
  for (int i = 0; i < 20000; ++i) {
    const float f = float((i % 2 ? -1.0 : 1.0) * std::pow(2.0, expo(rng)));
    CAPTURE(f);
    CHECK(float_to_e4m3(f) == e4m3_brute(f));
    ++checked;
  }
  // exact midpoints between neighbouring codes
  for (int c = 0; c < 0x7E; ++c) {
    const float mid = 0.5f * (ptxfmha::e4m3_to_float(uint8_t(c)) + ptxfmha::e4m3_to_float(uint8_t(c + 1)));
    CAPTURE(c);
    CHECK(float_to_e4m3(mid) == e4m3_brute(mid));
  }
  CHECK(checked == 20000);
}

// ---- the e4m3 reference --------------------------------------------------------------------------
namespace {

struct E4m3Problem {
  ptxfmha::RefAttnProblem p;
  std::vector<uint16_t> q;
  std::vector<uint8_t> k, v;
};

// Fixed Q [B, Sq, Hq, D], contiguous K/V [B, Sk, Hkv, D] of random e4m3 codes.
E4m3Problem e4m3_problem(int B, int Sq, int Sk, int Hq, int Hkv, int D, uint64_t seed) {
  E4m3Problem e;
  ptxfmha::RefAttnProblem& p = e.p;
  p.batch = B; p.heads_q = Hq; p.heads_kv = Hkv; p.head_dim = D;
  p.softmax_scale = 1.0 / std::sqrt(double(D));
  p.seqlen_q = Sq; p.seqlen_k = Sk;
  p.q_stride[2] = D; p.q_stride[1] = int64_t(Hq) * D; p.q_stride[0] = int64_t(Sq) * Hq * D;
  p.k_stride[2] = D; p.k_stride[1] = int64_t(Hkv) * D; p.k_stride[0] = int64_t(Sk) * Hkv * D;
  for (int i = 0; i < 3; ++i) p.v_stride[i] = p.k_stride[i];
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd(0.0, 1.0);
  e.q.resize(std::size_t(B) * Sq * Hq * D);
  for (auto& x : e.q) x = ptxfmha::float_to_bf16(float(nd(rng)));
  e.k.resize(std::size_t(B) * Sk * Hkv * D);
  e.v.resize(e.k.size());
  for (auto& x : e.k) x = ptxfmha::float_to_e4m3(float(nd(rng) * 8.0));
  for (auto& x : e.v) x = ptxfmha::float_to_e4m3(float(nd(rng) * 8.0));
  return e;
}

// The dequantised cache as bf16 when every scale is a power of two (then exact).
std::vector<uint16_t> dequant_bf16(const std::vector<uint8_t>& c, const std::vector<float>& scale, int Hkv, int D) {
  std::vector<uint16_t> out(c.size());
  for (std::size_t i = 0; i < c.size(); ++i) {
    const int h = int((i / std::size_t(D)) % std::size_t(Hkv));
    const float s = scale.size() == 1 ? scale[0] : scale[std::size_t(h)];
    out[i] = ptxfmha::float_to_bf16(ptxfmha::e4m3_to_float(c[i]) * s);
  }
  return out;
}

void expect_same(const ptxfmha::RefAttnResult& a, const ptxfmha::RefAttnResult& b) {
  REQUIRE(a.o.size() == b.o.size());
  REQUIRE(a.lse.size() == b.lse.size());
  double worst = 0;
  for (std::size_t i = 0; i < a.o.size(); ++i) worst = std::max(worst, std::fabs(a.o[i] - b.o[i]));
  for (std::size_t i = 0; i < a.lse.size(); ++i) {
    if (std::isinf(a.lse[i]) || std::isinf(b.lse[i])) CHECK(a.lse[i] == b.lse[i]);
    else worst = std::max(worst, std::fabs(a.lse[i] - b.lse[i]));
  }
  CHECK(worst < 1e-9);
  CHECK(a.writers == b.writers);
  CHECK(a.visible == b.visible);
}

}  // namespace

TEST_CASE("decode e4m3 reference: equals reference_attn on the dequantised cache (per head, per tensor, features)") {
  for (int variant = 0; variant < 3; ++variant) {
    CAPTURE(variant);
    E4m3Problem e = e4m3_problem(2, 3, 70, 8, 2, 64, 900 + variant);
    std::vector<float> ks, vs;
    if (variant == 0) { ks = {0.125f}; vs = {4.0f}; }                     // per tensor
    else { ks = {0.0625f, 2.0f}; vs = {0.5f, 0.015625f}; }                // per KV head
    if (variant == 2) {                                                    // every feature
      e.p.causal = true;
      e.p.window_left = 20;
      e.p.softcap = 7;
      e.p.sink_logits = {0.5f, -1, 2, 0, 1, 1, -3, 4};
      e.p.alibi_slopes = {0.5f, 0.25f, 0.125f, 0.0625f, 0.03f, 0.02f, 0.01f, 0.005f};
      e.p.seqused_k = {70, 9};
    }
    ptxfmha::RefAttnResult got, want;
    ptxfmha::reference_attn_e4m3(e.p, e.q.data(), e.k.data(), e.v.data(), ks, vs, false, &got);
    CHECK(got.logit_mag.empty());  // without with_logit_mag: no LSE-only pass
    const std::vector<uint16_t> k16 = dequant_bf16(e.k, ks, 2, 64), v16 = dequant_bf16(e.v, vs, 2, 64);
    ptxfmha::reference_attn(e.p, e.q.data(), k16.data(), v16.data(), &want);
    expect_same(got, want);
    // and it is not the same as ignoring a scale (the comparison can fail)
    std::vector<float> ks2 = ks;
    ks2[0] *= 2;
    ptxfmha::RefAttnResult other;
    ptxfmha::reference_attn_e4m3(e.p, e.q.data(), e.k.data(), e.v.data(), ks2, vs, false, &other);
    double diff = 0;
    for (std::size_t i = 0; i < other.o.size(); ++i) diff = std::max(diff, std::fabs(other.o[i] - want.o[i]));
    CHECK(diff > 1e-3);
  }
  E4m3Problem e = e4m3_problem(1, 1, 8, 4, 2, 64, 5);
  ptxfmha::RefAttnResult r;
  CHECK_THROWS_AS(
      ptxfmha::reference_attn_e4m3(e.p, e.q.data(), e.k.data(), e.v.data(), {1, 1, 1}, {1, 1, 1}, false, &r),
      std::invalid_argument);
}

TEST_CASE("decode e4m3 reference: logit_mag is the LSE of |q| |k| scale over the keys a row sees, features ignored") {
  E4m3Problem e = e4m3_problem(2, 3, 70, 8, 2, 64, 77);
  e.p.seqused_k = {70, 9};
  const std::vector<float> ks = {0.0625f, 2.0f}, vs = {0.5f, 0.25f};
  ptxfmha::RefAttnResult r;
  ptxfmha::reference_attn_e4m3(e.p, e.q.data(), e.k.data(), e.v.data(), ks, vs, true, &r);
  REQUIRE(r.logit_mag.size() == r.lse.size());
  // with_logit_mag changes nothing else: O, LSE, writers and visible as without it
  ptxfmha::RefAttnResult plain;
  ptxfmha::reference_attn_e4m3(e.p, e.q.data(), e.k.data(), e.v.data(), ks, vs, false, &plain);
  CHECK(plain.logit_mag.empty());
  CHECK(plain.o == r.o);
  CHECK(plain.lse == r.lse);
  CHECK(plain.writers == r.writers);
  CHECK(plain.visible == r.visible);
  const int B = 2, Sq = 3, Hq = 8, Hkv = 2, D = 64, gqa = Hq / Hkv;
  double worst = 0, largest_gap = 0;
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < Hq; ++h)
      for (int i = 0; i < Sq; ++i) {
        const int kh = h / gqa, used = e.p.seqused_k[std::size_t(b)];
        std::vector<double> m;  // sum |q_d k_d| scale per key, by brute force
        for (int j = 0; j < used; ++j) {
          double acc = 0;
          for (int d = 0; d < D; ++d) {
            const double q = ptxfmha::bf16_to_float(e.q[((std::size_t(b) * Sq + i) * Hq + h) * D + d]);
            const double k = ptxfmha::e4m3_to_float(e.k[((std::size_t(b) * 70 + j) * Hkv + kh) * D + d]) * ks[std::size_t(kh)];
            acc += std::fabs(q * k);
          }
          m.push_back(acc * e.p.softmax_scale);
        }
        const double mx = *std::max_element(m.begin(), m.end());
        double sum = 0;
        for (double x : m) sum += std::exp(x - mx);
        const double got = r.logit_mag[(std::size_t(b) * Hq + h) * Sq + i];
        worst = std::max(worst, std::fabs(got - (mx + std::log(sum))));
        CHECK(got >= mx);
        CHECK(got <= mx + std::log(double(used)) + 1e-9);
        largest_gap = std::max(largest_gap, got - mx);
      }
  CHECK(worst < 1e-9);
  CHECK(largest_gap > 0);
  // Softcap, ALiBi and sinks change the LSE, not logit_mag (the error scale of the products).
  E4m3Problem f = e;
  f.p.softcap = 7;
  f.p.sink_logits = {0.5f, -1, 2, 0, 1, 1, -3, 4};
  f.p.alibi_slopes = {0.5f, 0.25f, 0.125f, 0.0625f, 0.03f, 0.02f, 0.01f, 0.005f};
  ptxfmha::RefAttnResult rf;
  ptxfmha::reference_attn_e4m3(f.p, f.q.data(), f.k.data(), f.v.data(), ks, vs, true, &rf);
  CHECK(rf.logit_mag == r.logit_mag);
  CHECK(rf.lse != r.lse);
}

// ---- version-2 validation --------------------------------------------------------------------------
namespace {

using ptxfmha_test::fake;  // validate_fixtures.h

// A valid e4m3 decode block: B=4, Sq=2, Hq=32, Hkv=8, D=128, paged 64, 1000 keys max, per-head scales.
ptxfmha_decode_attn_params valid_e4m3() {
  ptxfmha_decode_attn_params p;
  REQUIRE(ptxfmha_decode_attn_params_init(&p) == PTXFMHA_OK);
  ptxfmha_test::fill_valid_paged_decode(&p);
  p.kv_dtype = PTXFMHA_KV_E4M3;
  p.kv_scale_count = 8;
  p.k_scale = static_cast<const float*>(fake(8));
  p.v_scale = static_cast<const float*>(fake(9));
  return p;
}

// The validator's and both public entry points' answers (no device is touched first).
void expect_error(const ptxfmha_decode_attn_params& p, ptxfmha_status status, const char* needle) {
  ptxfmha_status st = ptxfmha::validate_decode_attn_shape(p);
  if (st == PTXFMHA_OK) st = ptxfmha::validate_decode_attn_kv(p);
  CHECK(st == status);
  const std::string m1 = ptxfmha_last_error();
  CHECK_MESSAGE(m1.find(needle) != std::string::npos, "message '" << m1 << "' does not name " << std::string(needle));
  CHECK(ptxfmha_decode_attn(&p) == status);
  const std::string m2 = ptxfmha_last_error();
  CHECK_MESSAGE(m2.find(needle) != std::string::npos, "message '" << m2 << "' does not name " << std::string(needle));
  uint64_t ws = 12345;
  CHECK(ptxfmha_decode_attn_workspace_size(&p, &ws) == status);
  CHECK(ws == 12345);
}

bool valid(const ptxfmha_decode_attn_params& p) {
  return ptxfmha::validate_decode_attn_shape(p) == PTXFMHA_OK && ptxfmha::validate_decode_attn_kv(p) == PTXFMHA_OK;
}

}  // namespace

TEST_CASE("decode e4m3 validation: each version-2 field has its row") {
  using P = ptxfmha_decode_attn_params;
  const P good = valid_e4m3();
  CHECK(valid(good));
  P p = good;
  p.kv_scale_count = 1;  // per tensor
  CHECK(valid(p));
  p = good;
  p.kv_dtype = 2;
  expect_error(p, PTXFMHA_ERR_INVALID_ARGUMENT, "kv_dtype");
  p.kv_dtype = -1;
  expect_error(p, PTXFMHA_ERR_INVALID_ARGUMENT, "kv_dtype");
  // bf16 cache: no scales
  p = good;
  p.kv_dtype = PTXFMHA_KV_BF16;
  expect_error(p, PTXFMHA_ERR_INVALID_ARGUMENT, "k_scale");
  p.k_scale = nullptr;
  expect_error(p, PTXFMHA_ERR_INVALID_ARGUMENT, "v_scale");
  p.v_scale = nullptr;
  expect_error(p, PTXFMHA_ERR_INVALID_ARGUMENT, "kv_scale_count");
  p.kv_scale_count = 0;
  CHECK(valid(p));
  // e4m3: both scale arrays, a count of 1 or heads_kv
  p = good;
  p.k_scale = nullptr;
  expect_error(p, PTXFMHA_ERR_NULL_POINTER, "k_scale");
  p = good;
  p.v_scale = nullptr;
  expect_error(p, PTXFMHA_ERR_NULL_POINTER, "v_scale");
  for (int bad : {0, 2, 7, 9, 32, -1}) {
    CAPTURE(bad);
    p = good;
    p.kv_scale_count = bad;
    expect_error(p, PTXFMHA_ERR_INVALID_ARGUMENT, "kv_scale_count");
  }
  p = good;
  p.k_scale = reinterpret_cast<const float*>(static_cast<const char*>(fake(8)) + 2);
  expect_error(p, PTXFMHA_ERR_MISALIGNED_POINTER, "k_scale");
  p = good;
  p.v_scale = reinterpret_cast<const float*>(static_cast<const char*>(fake(9)) + 1);
  expect_error(p, PTXFMHA_ERR_MISALIGNED_POINTER, "v_scale");
  p = good;
  p.k_scale = reinterpret_cast<const float*>(uint64_t(0) - 16);
  expect_error(p, PTXFMHA_ERR_SIZE_OVERFLOW, "k_scale");
  // outputs must not overlap the scales
  p = good;
  p.k_scale = static_cast<const float*>(p.o) + 64;
  expect_error(p, PTXFMHA_ERR_ALIASING, "k_scale");
  p = good;
  p.v_scale = p.lse + 4;
  expect_error(p, PTXFMHA_ERR_ALIASING, "v_scale");
  // inputs may share (the same array for K and V)
  p = good;
  p.v_scale = p.k_scale;
  CHECK(valid(p));
  // the window band's 32-bit key range
  p = good;
  p.window_left = 100;
  p.block_table = nullptr; p.page_size = 0; p.max_blocks_per_seq = 0; p.num_pages = 0;
  p.batch = 1;
  p.max_seqlen_k = INT32_MAX - 100;
  p.k_batch_stride = p.v_batch_stride = 0;
  p.o = fake(100);  // beyond the 2 TB cache
  p.lse = static_cast<float*>(fake(101));
  expect_error(p, PTXFMHA_ERR_SIZE_OVERFLOW, "max_seqlen_k");
}

TEST_CASE("decode e4m3 validation: the cache's strides and extents are in bytes") {
  ptxfmha_decode_attn_params p = valid_e4m3();
  // 8-element head stride: 16 bytes of bf16 but 8 bytes of e4m3 (TMA needs 16-byte strides).
  p.head_dim = 64; p.q_head_stride = 64; p.o_head_stride = 64;
  p.q_seq_stride = p.o_seq_stride = 32 * 64; p.q_batch_stride = p.o_batch_stride = 2 * 32 * 64;
  p.k_head_stride = 64; p.k_seq_stride = 8 * 64 + 8; p.k_batch_stride = 64 * (8 * 64 + 8);
  p.v_head_stride = 64; p.v_seq_stride = 8 * 64; p.v_batch_stride = 64 * 8 * 64;
  expect_error(p, PTXFMHA_ERR_INVALID_STRIDE, "k_seq_stride");
  p.kv_dtype = PTXFMHA_KV_BF16; p.k_scale = p.v_scale = nullptr; p.kv_scale_count = 0;
  CHECK(valid(p));  // the same strides hold bf16 (16 bytes)
  // o right after the e4m3 K cache: no overlap at 1 byte per element, overlap at 2
  p = valid_e4m3();
  const uint64_t k_bytes = uint64_t(100) * 64 * 8 * 128;  // num_pages x page x heads x D
  p.o = static_cast<char*>(const_cast<void*>(p.k_cache)) + k_bytes;
  CHECK(valid(p));
  p.kv_dtype = PTXFMHA_KV_BF16; p.k_scale = p.v_scale = nullptr; p.kv_scale_count = 0;
  CHECK(ptxfmha::validate_decode_attn_shape(p) == PTXFMHA_ERR_ALIASING);
}

TEST_CASE("decode e4m3 validation: an older caller's block (version 1) is a bf16 call") {
  ptxfmha_decode_attn_params p = valid_e4m3();
  ptxfmha_decode_attn_params loaded;
  p.struct_size = PTXFMHA_DECODE_ATTN_PARAMS_SIZE_V1;  // the fields after `reserved` are not read
  REQUIRE(ptxfmha::load_decode_attn_params(&p, &loaded) == PTXFMHA_OK);
  CHECK(loaded.kv_dtype == PTXFMHA_KV_BF16);
  CHECK(loaded.k_scale == nullptr);
  CHECK(loaded.kv_scale_count == 0);
  CHECK(ptxfmha::decode_attn_kv_bytes(loaded) == 2);
  p.struct_size = sizeof p;
  REQUIRE(ptxfmha::load_decode_attn_params(&p, &loaded) == PTXFMHA_OK);
  CHECK(ptxfmha::decode_attn_kv_bytes(loaded) == 1);
  CHECK(sizeof(ptxfmha_decode_attn_params) == PTXFMHA_DECODE_ATTN_PARAMS_SIZE_V2);
}

TEST_CASE("decode attn: the four decode features are implemented on sm90a and sm100a") {
  CHECK(ptxfmha::decode_attn_supported_features(90) == ptxfmha::kDecodeAttnFeatures);
  CHECK(ptxfmha::decode_attn_supported_features(100) == ptxfmha::kDecodeAttnFeatures);
  CHECK(ptxfmha::decode_attn_supported_features(80) == 0u);
}

// ---- the plan ----------------------------------------------------------------------------------
namespace {
ptxfmha_decode_params plan_params(int b, int sq, int hq, int hkv, int max_k) {
  ptxfmha_decode_params p;
  std::memset(&p, 0, sizeof p);
  p.batch = b; p.seqlen_q = sq; p.heads_q = hq; p.heads_kv = hkv; p.head_dim = 128; p.max_seqlen_k = max_k;
  return p;
}
const ptxfmha::KernelInfo kSplit = {"t_split", "sm90a", 90, ptxfmha::KernelKind::Decode, 128, 64, 64, 160, 99456, 512,
                                    ptxfmha::KernelInfo::Grid::GridMHB};
const ptxfmha::KernelInfo kCombine = {"t_combine", "sm90a", 90, ptxfmha::KernelKind::DecodeCombine, 128, 1, 0, 32, 0,
                                      512, ptxfmha::KernelInfo::Grid::GridMHB};
}  // namespace

TEST_CASE("decode plan: a sliding window's splits cover its band, not the cache") {
  const ptxfmha_decode_params p = plan_params(1, 1, 32, 8, 131072);  // 2048 tiles
  ptxfmha::DecodePlanOptions o;
  CHECK(ptxfmha::decode_kv_tiles(p, o) == 2048);
  o.band_keys = 4096 + 1 + 63;  // window_left 4096, one token, the tile rounding
  CHECK(ptxfmha::decode_kv_tiles(p, o) == 65);
  ptxfmha::DecodePlan with, without;
  ptxfmha::plan_decode(p, kSplit, kCombine, 264, &with, o);
  ptxfmha::plan_decode(p, kSplit, kCombine, 264, &without);
  CHECK(int64_t(with.num_splits) * with.split_keys >= 4096 + 1 + 63);  // the band fits
  CHECK(int64_t(with.num_splits) * with.split_keys < int64_t(without.num_splits) * without.split_keys);
  CHECK(int64_t(with.num_splits - 1) * with.split_keys < 65 * 64);  // no empty trailing split
  // a window wider than the cache changes nothing
  o.band_keys = 1 << 30;
  ptxfmha::plan_decode(p, kSplit, kCombine, 264, &with, o);
  CHECK(with.num_splits == without.num_splits);
  CHECK(with.split_keys == without.split_keys);
}

TEST_CASE("decode plan: the min-waves split policy (more, shorter CTAs)") {
  using ptxfmha::choose_num_splits;
  using ptxfmha::choose_num_splits_min_waves;
  // B 64, Hkv 8 (512 CTAs per split), 32k keys (512 tiles), 264 slots: the cost model keeps
  // one split (two waves); at least 8 waves wants 5 splits (2560 CTAs >= 8 x 264 = 2112; 4
  // give 2048).
  CHECK(choose_num_splits(512, 512, 264) == 1);
  CHECK(choose_num_splits_min_waves(512, 512, 264, 8) == 5);
  CHECK(choose_num_splits_min_waves(512, 512, 264, 1) == 1);  // never fewer than the cost model
  // B 1 (8 CTAs), 8k keys: the cost model already picks 32; 4 waves would need 132.
  const int base = choose_num_splits(8, 128, 264);
  CHECK(choose_num_splits_min_waves(8, 128, 264, 4) >= base);
  for (int64_t units : {1, 8, 64, 256, 512, 4096})
    for (int64_t tiles : {1, 2, 7, 64, 128, 512, 2048})
      for (int w : {1, 2, 4, 8, 16}) {
        CAPTURE(units); CAPTURE(tiles); CAPTURE(w);
        const int s = choose_num_splits_min_waves(units, tiles, 264, w);
        CHECK(s >= 1);
        CHECK(s <= std::min<int64_t>(tiles, ptxfmha::kDecodeMaxSplits));
        CHECK(s >= choose_num_splits(units, tiles, 264));
        const int64_t tps = (tiles + s - 1) / s;
        CHECK((tiles + tps - 1) / tps == s);  // no empty trailing split
        if (s > choose_num_splits(units, tiles, 264) && s < std::min<int64_t>(tiles, ptxfmha::kDecodeMaxSplits))
          CHECK(units * s >= int64_t(w) * 264);  // it stopped because the waves are filled
      }
  // through the plan
  const ptxfmha_decode_params p = plan_params(64, 1, 32, 8, 32768);
  ptxfmha::DecodePlanOptions o;
  o.min_waves = 8;
  ptxfmha::DecodePlan plan;
  ptxfmha::plan_decode(p, kSplit, kCombine, 264, &plan, o);
  CHECK(plan.num_splits == 5);
  CHECK(plan.workspace_bytes > 0);
}

TEST_CASE("decode plan: two KV heads per CTA halve the split grid's x and the CTAs per split") {
  const ptxfmha_decode_params p = plan_params(8, 1, 32, 8, 8192);
  ptxfmha::DecodePlanOptions o;
  ptxfmha::DecodePlan one, two;
  ptxfmha::plan_decode(p, kSplit, kCombine, 264, &one, o);
  o.heads_per_cta = 2;
  ptxfmha::plan_decode(p, kSplit, kCombine, 264, &two, o);
  CHECK(one.split_grid[0] == 8u);
  CHECK(two.split_grid[0] == 4u);
  CHECK(two.heads_per_cta == 2);
  CHECK(one.heads_per_cta == 1);
  // 32 CTAs per split instead of 64: the cost model may pick more splits, never fewer
  CHECK(two.num_splits >= one.num_splits);
  CHECK(two.num_splits == ptxfmha::choose_num_splits(32, 128, 264));
}

// ---- the bench's decode A/B variants (bench/bench_case.h) -----------------------------------------
#include "bench_case.h"

TEST_CASE("decode bench variants: items parse, cells per item, e4m3 cells in their own family") {
  namespace pb = ptxfmha_bench;
  pb::DecodeVariant v;
  std::string why;
  CHECK(pb::parse_decode_variant("default", &v, &why));
  CHECK(!v.e4m3);
  CHECK(v.kernel_stem.empty());
  CHECK(pb::parse_decode_variant("e4m3+k=d128_e4m3_ef+w8", &v, &why));
  CHECK(v.e4m3);
  CHECK(v.kernel_stem == "d128_e4m3_ef");
  CHECK(v.min_waves == 8);
  CHECK(v.num_splits == 0);
  CHECK(pb::parse_decode_variant("s16", &v, &why));
  CHECK(v.num_splits == 16);
  CHECK(v.min_waves == 0);
  CHECK(v.cluster == 0);
  CHECK(pb::parse_decode_variant("cl+s8", &v, &why));  // the cluster merge (Force), 8 splits
  CHECK(v.cluster == 2);
  CHECK(v.num_splits == 8);
  CHECK(pb::parse_decode_variant("nocl", &v, &why));   // the workspace path (Off)
  CHECK(v.cluster == 1);
  CHECK(pb::parse_decode_variant("k=d128_cl+s16", &v, &why));
  CHECK(v.kernel_stem == "d128_cl");
  CHECK(v.num_splits == 16);
  CHECK(v.cluster == 0);
  CHECK(v.page_size == 0);
  CHECK(pb::parse_decode_variant("e4m3+p32", &v, &why));  // the cache in pages of 32 keys
  CHECK(v.e4m3);
  CHECK(v.page_size == 32);
  CHECK(pb::parse_decode_variant("p256", &v, &why));
  CHECK(v.page_size == 256);
  CHECK(v.q_tokens == 0);
  CHECK(pb::parse_decode_variant("e4m3+k=d256_e4m3_wgc+s1+q8", &v, &why));  // 8 query tokens
  CHECK(v.q_tokens == 8);
  CHECK(v.num_splits == 1);
  CHECK(!v.tma);
  CHECK(pb::parse_decode_variant("tma+s2", &v, &why));  // the TMA producer (DecodeOverrides::tma), 2 splits
  CHECK(v.tma);
  CHECK(v.num_splits == 2);
  for (const char* bad : {"", "fp8", "k=", "w0", "w", "e4m3+", "w8x", "default+e4m3", "s0", "s", "s4x", "clx",
                          "nocl2", "cl+", "tma2", "tmax", "p0", "p8", "p48", "p512", "p", "p32x", "q0", "q9", "q", "q8x"}) {
    CAPTURE(std::string(bad));
    CHECK(!pb::parse_decode_variant(bad, &v, &why));
    CHECK(!why.empty());
  }
  std::vector<pb::Case> ab;
  REQUIRE(pb::decode_grid("ab", &ab, &why));
  CHECK(ab.size() == 12);
  for (const pb::Case& c : ab) {
    CHECK(c.head_dim == 128);
    CHECK(c.seqlen_q == 1);
    CHECK((c.heads_q == 32 || c.heads_q == 64));
    CHECK(c.heads_kv == 8);
    CHECK((c.batch == 8 || c.batch == 32 || c.batch == 64));
    CHECK((c.seqlen_k == 8192 || c.seqlen_k == 32768));
  }
  const std::vector<pb::Case> cells = pb::decode_variant_cells(ab, {"default", "k=d128_ef", "e4m3", "w8"});
  REQUIRE(cells.size() == 4 * ab.size());
  std::set<std::string> names;
  for (const pb::Case& c : cells) names.insert(c.name);
  CHECK(names.size() == cells.size());  // distinct benchmark names
  CHECK(cells[0].name == ab[0].name);   // "default" is the cell itself
  CHECK(cells[0].variant.empty());
  CHECK(cells[1].variant == "k=d128_ef");
  CHECK(cells[1].family == "decode");
  CHECK(cells[2].family == "decode_e4m3");
  CHECK(cells[2].kv_elem_bytes == 1);
  CHECK(cells[2].decode());
  CHECK(cells[2].kv_bytes() == cells[0].kv_bytes() / 2);  // GB/s count the bytes read
  // pN: the same cell in pages of N keys (a contiguous one too), the bytes unchanged
  const std::vector<pb::Case> paged = pb::decode_variant_cells({ab[0]}, {"default", "p32", "e4m3+p16"});
  REQUIRE(paged.size() == 3);
  CHECK(paged[0].page_size == 0);
  CHECK(paged[1].page_size == 32);
  CHECK(paged[1].family == "decode");
  CHECK(paged[1].num_pages() == ab[0].batch * ((ab[0].seqlen_k + 31) / 32));
  CHECK(paged[1].name == ab[0].name + "/v=p32");
  CHECK(paged[2].page_size == 16);
  CHECK(paged[2].kv_elem_bytes == 1);
  CHECK(paged[1].kv_bytes() == paged[0].kv_bytes());
  // qN: the cell with N query tokens, causal among themselves; the K / V bytes unchanged
  const std::vector<pb::Case> tokens = pb::decode_variant_cells({ab[0]}, {"q8", "e4m3+q1"});
  REQUIRE(tokens.size() == 2);
  CHECK(ab[0].seqlen_q == 1);
  CHECK(tokens[0].seqlen_q == 8);
  CHECK(tokens[0].causal);
  CHECK(tokens[0].q_elems() == 8 * ab[0].q_elems());
  CHECK(tokens[0].kv_bytes() == ab[0].kv_bytes());
  CHECK(tokens[0].name == ab[0].name + "/v=q8");
  CHECK(tokens[1].seqlen_q == 1);
  CHECK(!tokens[1].causal);
  CHECK(pb::decode_e4m3_scale(false, 0) == 0.0625f);
  CHECK(pb::decode_e4m3_scale(true, 0) == 0.03125f);
  CHECK(pb::decode_e4m3_scale(false, 1) == 0.03125f);
}

TEST_CASE("bench e4m3 gate: the table dequantisation equals the per-element conversion (CPU)") {
  namespace pb = ptxfmha_bench;
  // Every code (NaN codes included) at every position of 3 tokens x 5 KV heads x 64 dims.
  const int64_t tokens = 3, heads = 5, d = 64;
  std::vector<uint8_t> src(std::size_t(tokens * heads * d));
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = uint8_t((i * 37 + 11) % 256);
  for (bool v : {false, true}) {
    std::vector<uint16_t> got(src.size(), 0xFFFF);
    pb::dequantise_e4m3_rows(src.data(), tokens, heads, d, v, got.data());
    for (std::size_t i = 0; i < src.size(); ++i) {
      const int64_t h = int64_t(i / std::size_t(d)) % heads;
      CAPTURE(i);
      CHECK(got[i] == ptxfmha::float_to_bf16(ptxfmha::e4m3_to_float(src[i]) * pb::decode_e4m3_scale(v, h)));
    }
  }
}
