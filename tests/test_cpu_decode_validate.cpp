// CPU tests of the decode host side that need no device:
//   - validate_decode_shape / ptxfmha_decode: every bad argument gets its status and a message
//     naming the argument (pointers are fake: validation never dereferences them, and it runs
//     before any device is touched);
//   - the split heuristic and the split plan (workspace layout);
//   - the paged float64 reference: paged == contiguous on the same data, page order, ragged
//     lengths, out-of-range page ids read as zeros, and an independent naive computation.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "decode.h"
#include "ptxfmha/ptxfmha.h"
#include "ptxfmha/reference.h"
#include "shapes.h"
#include "validate_fixtures.h"

namespace {

// Distinct, 16-byte aligned, far-apart fake device addresses.
using ptxfmha_test::fake;  // validate_fixtures.h

// A valid paged problem: B=4, Sq=2, Hq=32, Hkv=8, D=128, page 64, 1000 keys max.
ptxfmha_decode_params valid_paged() {
  ptxfmha_decode_params p;
  std::memset(&p, 0, sizeof p);
  ptxfmha_test::fill_valid_paged_decode(&p);
  return p;
}

ptxfmha_decode_params valid_contiguous() {
  ptxfmha_decode_params p = valid_paged();
  p.block_table = nullptr;
  p.page_size = 0; p.max_blocks_per_seq = 0; p.num_pages = 0;  // ignored without a table
  p.k_batch_stride = p.v_batch_stride = int64_t(1000) * 8 * 128;
  return p;
}

// Expects `status` from both the validator and the public entry point, with `needle` in the
// message.
void expect_error(const ptxfmha_decode_params& p, ptxfmha_status status, const char* needle) {
  CHECK(ptxfmha::validate_decode_shape(&p) == status);
  const std::string m1 = ptxfmha_last_error();
  CHECK_MESSAGE(m1.find(needle) != std::string::npos, "message '" << m1 << "' does not name " << needle);
  CHECK(ptxfmha_decode(&p) == status);
  const std::string m2 = ptxfmha_last_error();
  CHECK_MESSAGE(m2.find(needle) != std::string::npos, "message '" << m2 << "' does not name " << needle);
  uint64_t ws = 12345;
  CHECK(ptxfmha_decode_workspace_size(&p, &ws) == status);
  CHECK(ws == 12345);  // untouched on failure
}

}  // namespace

TEST_CASE("decode validation: valid shapes pass the device-free checks") {
  ptxfmha_decode_params p = valid_paged();
  CHECK(ptxfmha::validate_decode_shape(&p) == PTXFMHA_OK);
  p = valid_contiguous();
  CHECK(ptxfmha::validate_decode_shape(&p) == PTXFMHA_OK);
  p.lse = nullptr; p.seqlens_k = nullptr;
  CHECK(ptxfmha::validate_decode_shape(&p) == PTXFMHA_OK);
}

TEST_CASE("decode validation: null pointers") {
  CHECK(ptxfmha::validate_decode_shape(nullptr) == PTXFMHA_ERR_NULL_POINTER);
  CHECK(std::string(ptxfmha_last_error()).find("params") != std::string::npos);
  CHECK(ptxfmha_decode(nullptr) == PTXFMHA_ERR_NULL_POINTER);
  uint64_t ws = 7;
  CHECK(ptxfmha_decode_workspace_size(nullptr, &ws) == PTXFMHA_ERR_NULL_POINTER);
  ptxfmha_decode_params ok = valid_paged();
  CHECK(ptxfmha_decode_workspace_size(&ok, nullptr) == PTXFMHA_ERR_NULL_POINTER);
  CHECK(std::string(ptxfmha_last_error()).find("bytes") != std::string::npos);
  ptxfmha_decode_params p = valid_paged(); p.q = nullptr; expect_error(p, PTXFMHA_ERR_NULL_POINTER, "q is NULL");
  p = valid_paged(); p.k_cache = nullptr; expect_error(p, PTXFMHA_ERR_NULL_POINTER, "k_cache");
  p = valid_paged(); p.v_cache = nullptr; expect_error(p, PTXFMHA_ERR_NULL_POINTER, "v_cache");
  p = valid_paged(); p.o = nullptr; expect_error(p, PTXFMHA_ERR_NULL_POINTER, "o is NULL");
}

TEST_CASE("decode validation: sizes, query length, GQA") {
  ptxfmha_decode_params p = valid_paged(); p.batch = 0; expect_error(p, PTXFMHA_ERR_INVALID_SIZE, "batch");
  p = valid_paged(); p.seqlen_q = 0; expect_error(p, PTXFMHA_ERR_INVALID_SIZE, "seqlen_q");
  p = valid_paged(); p.max_seqlen_k = -5; expect_error(p, PTXFMHA_ERR_INVALID_SIZE, "max_seqlen_k");
  p = valid_paged(); p.heads_q = -1; expect_error(p, PTXFMHA_ERR_INVALID_SIZE, "heads_q");
  p = valid_paged(); p.heads_kv = 0; expect_error(p, PTXFMHA_ERR_INVALID_SIZE, "heads_kv");
  p = valid_paged(); p.head_dim = 0; expect_error(p, PTXFMHA_ERR_INVALID_SIZE, "head_dim");
  p = valid_paged(); p.seqlen_q = 9; expect_error(p, PTXFMHA_ERR_INVALID_ARGUMENT, "seqlen_q = 9");
  p = valid_paged(); p.heads_q = 12; expect_error(p, PTXFMHA_ERR_GQA_RATIO, "heads_kv = 8");
}

TEST_CASE("decode validation: alignment, scale, flags, num_splits") {
  auto shift = [](const void* ptr, int bytes) {
    return reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(ptr) + bytes);
  };
  ptxfmha_decode_params p = valid_paged(); p.q = shift(p.q, 8); expect_error(p, PTXFMHA_ERR_MISALIGNED_POINTER, "q =");
  p = valid_paged(); p.k_cache = shift(p.k_cache, 2); expect_error(p, PTXFMHA_ERR_MISALIGNED_POINTER, "k_cache");
  p = valid_paged(); p.v_cache = shift(p.v_cache, 4); expect_error(p, PTXFMHA_ERR_MISALIGNED_POINTER, "v_cache");
  p = valid_paged(); p.o = shift(p.o, 2); expect_error(p, PTXFMHA_ERR_MISALIGNED_POINTER, "o =");
  p = valid_paged(); p.lse = static_cast<float*>(shift(p.lse, 2)); expect_error(p, PTXFMHA_ERR_MISALIGNED_POINTER, "lse");
  p = valid_paged(); p.seqlens_k = static_cast<const int32_t*>(shift(p.seqlens_k, 1));
  expect_error(p, PTXFMHA_ERR_MISALIGNED_POINTER, "seqlens_k");
  p = valid_paged(); p.block_table = static_cast<const int32_t*>(shift(p.block_table, 2));
  expect_error(p, PTXFMHA_ERR_MISALIGNED_POINTER, "block_table");
  p = valid_paged(); p.workspace = shift(fake(9), 8); expect_error(p, PTXFMHA_ERR_MISALIGNED_POINTER, "workspace");
  // 4-byte aligned lse / seqlens / table are fine (scalar accesses)
  p = valid_paged(); p.lse = static_cast<float*>(shift(p.lse, 4));
  p.seqlens_k = static_cast<const int32_t*>(shift(p.seqlens_k, 4));
  p.block_table = static_cast<const int32_t*>(shift(p.block_table, 12));
  CHECK(ptxfmha::validate_decode_shape(&p) == PTXFMHA_OK);

  for (float s : {0.0f, -1.0f, std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    p = valid_paged(); p.softmax_scale = s; expect_error(p, PTXFMHA_ERR_INVALID_SCALE, "softmax_scale");
  }
  p = valid_paged(); p.causal = 2; expect_error(p, PTXFMHA_ERR_INVALID_ARGUMENT, "causal");
  p = valid_paged(); p.num_splits = -1; expect_error(p, PTXFMHA_ERR_INVALID_ARGUMENT, "num_splits");
  p = valid_paged(); p.num_splits = ptxfmha::kDecodeMaxSplits + 1; expect_error(p, PTXFMHA_ERR_INVALID_ARGUMENT, "num_splits");
}

TEST_CASE("decode validation: page table parameters the host can check") {
  for (int ps : {0, 8, 24, 48, 100, 512, -64}) {
    CAPTURE(ps);
    ptxfmha_decode_params p = valid_paged(); p.page_size = ps;
    p.max_blocks_per_seq = 1000;  // keep the coverage check out of the way
    expect_error(p, PTXFMHA_ERR_INVALID_PAGE_TABLE, "page_size");
  }
  for (int ps : ptxfmha_test::kPageSizes) {
    CAPTURE(ps);
    ptxfmha_decode_params p = valid_paged(); p.page_size = ps;
    p.max_blocks_per_seq = (1000 + ps - 1) / ps;
    p.k_batch_stride = p.v_batch_stride = int64_t(ps) * 8 * 128;
    CHECK(ptxfmha::validate_decode_shape(&p) == PTXFMHA_OK);
  }
  ptxfmha_decode_params p = valid_paged(); p.max_blocks_per_seq = 0;
  expect_error(p, PTXFMHA_ERR_INVALID_PAGE_TABLE, "max_blocks_per_seq = 0");
  p = valid_paged(); p.num_pages = 0; expect_error(p, PTXFMHA_ERR_INVALID_PAGE_TABLE, "num_pages");
  p = valid_paged(); p.max_blocks_per_seq = 15;  // 15 * 64 = 960 < 1000 keys
  expect_error(p, PTXFMHA_ERR_INVALID_PAGE_TABLE, "max_seqlen_k = 1000");
  // Without a table the page fields are ignored.
  p = valid_contiguous(); p.page_size = 3; p.max_blocks_per_seq = -1; p.num_pages = -7;
  CHECK(ptxfmha::validate_decode_shape(&p) == PTXFMHA_OK);
}

TEST_CASE("decode validation: size limits") {
  ptxfmha_decode_params p = valid_contiguous(); p.batch = 65536;
  p.k_batch_stride = p.v_batch_stride = int64_t(1000) * 8 * 128;
  expect_error(p, PTXFMHA_ERR_SIZE_OVERFLOW, "batch = 65536");
  p = valid_contiguous(); p.max_seqlen_k = std::numeric_limits<int32_t>::max();
  expect_error(p, PTXFMHA_ERR_SIZE_OVERFLOW, "max_seqlen_k");
  p = valid_paged(); p.max_blocks_per_seq = 1 << 30; p.batch = 4;
  expect_error(p, PTXFMHA_ERR_SIZE_OVERFLOW, "max_blocks_per_seq");
}

TEST_CASE("decode validation: strides and aliasing") {
  ptxfmha_decode_params p = valid_paged(); p.k_seq_stride = 8 * 128 + 4;
  expect_error(p, PTXFMHA_ERR_INVALID_STRIDE, "k_seq_stride");
  p = valid_paged(); p.v_head_stride = 64;  // rows of 128 elements overlap
  expect_error(p, PTXFMHA_ERR_INVALID_STRIDE, "v_head_stride");
  p = valid_paged(); p.q_batch_stride = -8;
  expect_error(p, PTXFMHA_ERR_INVALID_STRIDE, "q_batch_stride");
  p = valid_paged(); p.k_batch_stride = int64_t(1) << 40;  // page stride >= 2^40 bytes
  expect_error(p, PTXFMHA_ERR_SIZE_OVERFLOW, "k_batch_stride");
  p = valid_paged(); p.o = const_cast<void*>(p.q); expect_error(p, PTXFMHA_ERR_ALIASING, "overlaps q");
  p = valid_paged(); p.o = const_cast<void*>(p.v_cache); expect_error(p, PTXFMHA_ERR_ALIASING, "overlaps v_cache");
  p = valid_paged(); p.o = const_cast<int32_t*>(p.block_table); expect_error(p, PTXFMHA_ERR_ALIASING, "block_table");
  p = valid_paged(); p.lse = static_cast<float*>(p.o); expect_error(p, PTXFMHA_ERR_ALIASING, "lse");
  p = valid_paged(); p.lse = const_cast<float*>(reinterpret_cast<const float*>(p.seqlens_k));
  expect_error(p, PTXFMHA_ERR_ALIASING, "seqlens_k");
}

TEST_CASE("decode split heuristic") {
  using ptxfmha::choose_num_splits;
  // H100: 132 SMs x 2 CTAs of the D=128 split kernel.
  const int64_t slots = 264;
  CHECK(choose_num_splits(8, 128, slots) == 32);    // B=1, Hkv=8, 8k keys: 256 CTAs of 4 tiles
  CHECK(choose_num_splits(64, 128, slots) == 4);    // B=8: 256 CTAs of 32 tiles
  CHECK(choose_num_splits(256, 128, slots) == 1);   // B=32: one wave without splitting
  CHECK(choose_num_splits(512, 128, slots) == 1);   // B=64
  CHECK(choose_num_splits(8, 1, slots) == 1);       // one tile cannot be split
  CHECK(choose_num_splits(1, 0, slots) == 1);
  for (int64_t units : {1, 3, 8, 40, 64, 100, 1000})
    for (int64_t tiles : {1, 2, 5, 17, 64, 129, 1000, 5000}) {
      const int s = choose_num_splits(units, tiles, slots);
      CAPTURE(units); CAPTURE(tiles);
      CHECK(s >= 1);
      CHECK(s <= tiles);
      CHECK(s <= ptxfmha::kDecodeMaxSplits);
      const int64_t tps = (tiles + s - 1) / s;
      CHECK((tiles + tps - 1) / tps == s);  // no empty trailing split
    }
}

TEST_CASE("decode split plan: sizes and workspace layout") {
  ptxfmha_decode_params p = valid_contiguous();  // B=4 Sq=2 Hq=32 Hkv=8 D=128, 1000 keys (16 tiles)
  ptxfmha::DecodePlan plan;
  ptxfmha::plan_decode_splits(p, 1, &plan);
  CHECK(plan.num_splits == 1);
  CHECK(plan.split_keys == 16 * 64);
  CHECK(plan.workspace_bytes == 0);
  CHECK(plan.m_groups == 1);  // 2 tokens x GQA 4 = 8 rows
  CHECK(plan.box_shift == 6);
  for (int req : {2, 3, 5, 7, 16, 17, 500}) {
    CAPTURE(req);
    p.num_splits = req;
    ptxfmha::plan_decode_splits(p, 1, &plan);
    CHECK(plan.num_splits >= 1);
    CHECK(plan.num_splits <= std::min(req, 16));
    CHECK(plan.split_keys % 64 == 0);
    CHECK(int64_t(plan.num_splits) * plan.split_keys >= p.max_seqlen_k);
    CHECK(int64_t(plan.num_splits - 1) * plan.split_keys < p.max_seqlen_k);
    if (plan.num_splits > 1) {
      const uint64_t partials = uint64_t(4) * 32 * 2 * plan.num_splits;
      CHECK(plan.ws_lse_offset == 0);
      CHECK(plan.ws_o_offset >= partials * 4);
      CHECK(plan.ws_o_offset % 256 == 0);
      CHECK(plan.workspace_bytes == plan.ws_o_offset + partials * 128 * 4);
    }
  }
  // automatic choice is used when num_splits == 0
  p.num_splits = 0;
  ptxfmha::plan_decode_splits(p, 4, &plan);
  CHECK(plan.num_splits == 4);
  // packed rows > 64 need several CTAs per KV head: 8 tokens x GQA 16 = 128 rows
  p.heads_q = 128; p.seqlen_q = 8;
  ptxfmha::plan_decode_splits(p, 1, &plan);
  CHECK(plan.m_groups == 2);
  // paged: the TMA box is min(page, 64) keys
  ptxfmha_decode_params q = valid_paged();
  for (int ps : ptxfmha_test::kPageSizes) {
    q.page_size = ps;
    ptxfmha::plan_decode_splits(q, 1, &plan);
    CHECK((1 << plan.box_shift) == std::min(ps, 64));
  }
}

// ---- the float64 reference --------------------------------------------------------------
namespace {

std::vector<uint16_t> random_bf16(std::size_t n, std::mt19937_64& rng) {
  std::normal_distribution<double> nd(0.0, 1.0);
  std::vector<uint16_t> v(n);
  for (auto& x : v) x = ptxfmha::float_to_bf16(static_cast<float>(nd(rng)));
  return v;
}

// Naive decode for one (b, i, hq) row with an explicit list of key rows (nullptr = zeros).
void naive_row(int D, double scale, const uint16_t* q, const std::vector<const uint16_t*>& ks,
               const std::vector<const uint16_t*>& vs, int visible, std::vector<double>& o, double& lse) {
  o.assign(static_cast<std::size_t>(D), 0.0);
  if (visible <= 0) { lse = -std::numeric_limits<double>::infinity(); return; }
  std::vector<double> s(static_cast<std::size_t>(visible));
  double m = -std::numeric_limits<double>::infinity();
  for (int j = 0; j < visible; ++j) {
    double dot = 0;
    for (int d = 0; d < D; ++d)
      dot += double(ptxfmha::bf16_to_float(q[d])) * (ks[j] ? double(ptxfmha::bf16_to_float(ks[j][d])) : 0.0);
    s[j] = dot * scale;
    m = std::max(m, s[j]);
  }
  double sum = 0;
  for (int j = 0; j < visible; ++j) {
    const double w = std::exp(s[j] - m);
    sum += w;
    for (int d = 0; d < D; ++d) o[d] += w * (vs[j] ? double(ptxfmha::bf16_to_float(vs[j][d])) : 0.0);
  }
  for (double& x : o) x /= sum;
  lse = m + std::log(sum);
}

}  // namespace

TEST_CASE("decode reference: paged == naive, ragged lengths, shuffled pages, bad page ids") {
  std::mt19937_64 rng(1234);
  const int B = 3, Sq = 3, Hq = 4, Hkv = 2, D = 16, P = 16, maxk = 70;
  const int mbps = (maxk + P - 1) / P;  // 5
  const int num_pages = B * mbps + 3;
  ptxfmha::RefDecodeShape s;
  s.batch = B; s.seqlen_q = Sq; s.max_seqlen_k = maxk; s.heads_q = Hq; s.heads_kv = Hkv; s.head_dim = D;
  s.causal = true; s.softmax_scale = 0.3;
  s.q_stride[2] = D; s.q_stride[1] = int64_t(Hq) * D; s.q_stride[0] = int64_t(Sq) * Hq * D;
  // head-major pages: [num_pages, Hkv, P, D]
  s.k_stride[1] = D; s.k_stride[2] = int64_t(P) * D; s.k_stride[0] = int64_t(Hkv) * P * D;
  for (int i = 0; i < 3; ++i) s.v_stride[i] = s.k_stride[i];
  s.page_size = P; s.max_blocks_per_seq = mbps; s.num_pages = num_pages;
  const auto q = random_bf16(std::size_t(B) * Sq * Hq * D, rng);
  const auto k = random_bf16(std::size_t(num_pages) * Hkv * P * D, rng);
  const auto v = random_bf16(std::size_t(num_pages) * Hkv * P * D, rng);
  std::vector<int32_t> perm(static_cast<std::size_t>(num_pages));
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  std::vector<int32_t> table(perm.begin(), perm.begin() + B * mbps);
  table[1] = -1;             // sequence 0, page 1: out of range -> zeros
  table[mbps + 2] = num_pages;  // sequence 1, page 2: out of range -> zeros
  const std::vector<int32_t> seqlens = {70, 33, 1};
  std::vector<double> out, lse;
  ptxfmha::reference_decode(s, q.data(), k.data(), v.data(), seqlens, table, out, lse);
  REQUIRE(out.size() == std::size_t(B) * Sq * Hq * D);
  double worst = 0;
  for (int b = 0; b < B; ++b) {
    const int len = seqlens[b];
    for (int i = 0; i < Sq; ++i)
      for (int h = 0; h < Hq; ++h) {
        const int kvh = h / (Hq / Hkv);
        std::vector<const uint16_t*> ks, vs;
        for (int j = 0; j < len; ++j) {
          const int32_t id = table[std::size_t(b) * mbps + j / P];
          if (id < 0 || id >= num_pages) { ks.push_back(nullptr); vs.push_back(nullptr); continue; }
          const int64_t off = int64_t(id) * s.k_stride[0] + int64_t(j % P) * s.k_stride[1] + int64_t(kvh) * s.k_stride[2];
          ks.push_back(&k[std::size_t(off)]);
          vs.push_back(&v[std::size_t(off)]);
        }
        const int visible = std::min(len, i + len - Sq + 1);
        std::vector<double> o1;
        double l1 = 0;
        naive_row(D, s.softmax_scale, &q[std::size_t(b) * s.q_stride[0] + std::size_t(i) * s.q_stride[1] + std::size_t(h) * D],
                  ks, vs, visible, o1, l1);
        const double lr = lse[(std::size_t(b) * Hq + h) * Sq + i];
        if (std::isinf(l1)) CHECK(std::isinf(lr));
        else worst = std::max(worst, std::fabs(lr - l1));
        for (int d = 0; d < D; ++d)
          worst = std::max(worst, std::fabs(out[((std::size_t(b) * Sq + i) * Hq + h) * D + d] - o1[d]));
      }
  }
  CHECK(worst < 1e-12);
  // sequence 2 has one key and 3 causal query tokens: tokens 0 and 1 see nothing
  CHECK(std::isinf(lse[(std::size_t(2) * Hq + 0) * Sq + 0]));
  CHECK(std::isinf(lse[(std::size_t(2) * Hq + 0) * Sq + 1]));
  CHECK(std::isfinite(lse[(std::size_t(2) * Hq + 0) * Sq + 2]));

  // The same keys laid out contiguously give the same result (seqlens clamp too).
  ptxfmha::RefDecodeShape c = s;
  c.page_size = 0; c.max_blocks_per_seq = 0; c.num_pages = 0;
  c.k_stride[2] = D; c.k_stride[1] = int64_t(Hkv) * D; c.k_stride[0] = int64_t(maxk) * Hkv * D;
  for (int i = 0; i < 3; ++i) c.v_stride[i] = c.k_stride[i];
  std::vector<uint16_t> kc(std::size_t(B) * maxk * Hkv * D, 0), vc(kc.size(), 0);
  for (int b = 0; b < B; ++b)
    for (int j = 0; j < maxk; ++j) {
      const int32_t id = table[std::size_t(b) * mbps + j / P];
      if (id < 0 || id >= num_pages) continue;  // zeros, as the kernel reads them
      for (int h = 0; h < Hkv; ++h)
        for (int d = 0; d < D; ++d) {
          const int64_t src = int64_t(id) * s.k_stride[0] + int64_t(j % P) * s.k_stride[1] + int64_t(h) * s.k_stride[2] + d;
          const int64_t dst = int64_t(b) * c.k_stride[0] + int64_t(j) * c.k_stride[1] + int64_t(h) * c.k_stride[2] + d;
          kc[std::size_t(dst)] = k[std::size_t(src)];
          vc[std::size_t(dst)] = v[std::size_t(src)];
        }
    }
  std::vector<double> out2, lse2;
  const std::vector<int32_t> seqlens_clamped = {500, 33, 1};  // 500 clamps to max_seqlen_k = 70
  ptxfmha::reference_decode(c, q.data(), kc.data(), vc.data(), seqlens_clamped, {}, out2, lse2);
  CHECK(out2 == out);
  CHECK(lse2 == lse);
}
