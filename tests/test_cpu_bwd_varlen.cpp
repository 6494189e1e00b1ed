// CPU tests of the backward's variable-length (packed) mode that need no device:
//   - every bad variable-length argument of ptxfmha_bwd / ptxfmha_bwd_workspace_size gets its
//     status and a message naming it (one case per new row of host/src/bwd.h's list);
//   - the varlen workspace: a model of the kernels' clamping and tiling
//     (ptx/body/sm90_bwd/varlen.ptxh) keeps every tile, row and semaphore inside the layout
//     ptxfmha_bwd_workspace_size sized, whatever the metadata holds; with valid metadata the
//     sequences' tiles are disjoint;
//   - the float64 reference's varlen form (reference_bwd_varlen) against the fixed-length
//     reference: equal lengths give the same numbers, a sequence without queries gives dK = dV
//     = 0, seqused_k gives the gradients of the shorter sequence and zero rows past it.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "attn_kernel_abi.h"
#include "bwd.h"
#include "bwd_validate_util.h"
#include "metadata.h"
#include "ptxfmha/ptxfmha.h"
#include "ptxfmha/reference.h"

namespace {

using namespace ptxfmha_test::bwd_fixtures;
using ptxfmha_test::fake;

const int32_t* misaligned(int slot) {
  return reinterpret_cast<const int32_t*>(static_cast<char*>(fake(slot)) + 2);
}

}  // namespace

TEST_CASE("bwd varlen validation: the valid packed problems pass; the features name varlen") {
  ptxfmha_bwd_params p = valid_varlen();
  uint64_t bytes = 0;
  REQUIRE(ptxfmha_bwd_workspace_size(&p, &bytes) == PTXFMHA_OK);
  ptxfmha::BwdWorkspaceLayout l;
  REQUIRE(ptxfmha::bwd_workspace_layout_varlen(p.batch, p.heads_q, p.total_q, p.head_dim, &l));
  CHECK(bytes == l.bytes);
  CHECK(ptxfmha::bwd_features(p) == (ptxfmha::kAttnVarlenQ | ptxfmha::kAttnVarlenK | ptxfmha::kAttnSequsedK));
  // The size depends on total_q and batch, not on max_seqlen_q or the K side.
  p.max_seqlen_q = 700;
  p.max_seqlen_k = 1000;
  uint64_t b2 = 0;
  REQUIRE(ptxfmha_bwd_workspace_size(&p, &b2) == PTXFMHA_OK);
  CHECK(b2 == bytes);
  // Only Q packed, only K packed, seqused_k with fixed K.
  p = valid_varlen();
  p.cu_seqlens_k = nullptr; p.max_seqlen_k = 0; p.total_k = 0; p.seqlen_k = 500;
  p.k_batch_stride = p.v_batch_stride = p.dk_batch_stride = p.dv_batch_stride = 500 * 2 * 128;
  CHECK(ptxfmha_bwd_workspace_size(&p, &b2) == PTXFMHA_OK);
  CHECK(ptxfmha::bwd_features(p) == (ptxfmha::kAttnVarlenQ | ptxfmha::kAttnSequsedK));
  p = valid_varlen();
  p.cu_seqlens_q = nullptr; p.max_seqlen_q = 0; p.total_q = 0; p.seqlen_q = 300; p.batch = 2;
  p.q_batch_stride = p.o_batch_stride = p.dout_batch_stride = p.dq_batch_stride = 300 * 8 * 128;
  CHECK(ptxfmha_bwd_workspace_size(&p, &b2) == PTXFMHA_OK);
  ptxfmha::BwdWorkspaceLayout fixed;
  REQUIRE(ptxfmha::bwd_workspace_layout(2, 8, 300, 128, &fixed));
  CHECK(b2 == fixed.bytes);
  // No query rows at all (total_q 0), and no keys at all: valid.
  p = valid_varlen();
  p.total_q = 0; p.max_seqlen_q = 0;
  CHECK(ptxfmha_bwd_workspace_size(&p, &b2) == PTXFMHA_OK);
  p = valid_varlen();
  p.total_k = 0; p.max_seqlen_k = 0;
  CHECK(ptxfmha_bwd_workspace_size(&p, &b2) == PTXFMHA_OK);
  // A window wider than the longest sequences is none.
  p = valid_varlen();
  p.window_left = 499;
  p.window_right = 0;
  CHECK((ptxfmha::bwd_features(p) & ptxfmha::kAttnWindow) == 0);
  p.window_left = 100;
  CHECK((ptxfmha::bwd_features(p) & ptxfmha::kAttnWindow) != 0);
}

TEST_CASE("bwd varlen validation: lengths, strides, alignment, sizes, each named") {
  const BadCase on_varlen[] = {
      {"seqlen_q", PTXFMHA_ERR_INVALID_ARGUMENT, [](ptxfmha_bwd_params& x) { x.seqlen_q = 300; }},
      {"max_seqlen_q", PTXFMHA_ERR_INVALID_SIZE, [](ptxfmha_bwd_params& x) { x.max_seqlen_q = -1; }},
      {"total_q", PTXFMHA_ERR_INVALID_SIZE, [](ptxfmha_bwd_params& x) { x.total_q = -1; }},
      {"max_seqlen_q = 800 exceeds total_q", PTXFMHA_ERR_INVALID_ARGUMENT, [](ptxfmha_bwd_params& x) { x.max_seqlen_q = 800; }},
      {"total_q = 1000 exceeds batch", PTXFMHA_ERR_INVALID_ARGUMENT, [](ptxfmha_bwd_params& x) { x.total_q = 1000; }},
      {"seqlen_k", PTXFMHA_ERR_INVALID_ARGUMENT, [](ptxfmha_bwd_params& x) { x.seqlen_k = 1; }},
      {"max_seqlen_k", PTXFMHA_ERR_INVALID_SIZE, [](ptxfmha_bwd_params& x) { x.max_seqlen_k = -7; }},
      {"total_k", PTXFMHA_ERR_INVALID_SIZE, [](ptxfmha_bwd_params& x) { x.total_k = -2; }},
      {"max_seqlen_k = 1001 exceeds total_k", PTXFMHA_ERR_INVALID_ARGUMENT, [](ptxfmha_bwd_params& x) { x.max_seqlen_k = 1001; }},
      {"total_k = 1600 exceeds batch", PTXFMHA_ERR_INVALID_ARGUMENT, [](ptxfmha_bwd_params& x) { x.total_k = 1600; }},
      {"cu_seqlens_q", PTXFMHA_ERR_MISALIGNED_POINTER, [](ptxfmha_bwd_params& x) { x.cu_seqlens_q = misaligned(23); }},
      {"cu_seqlens_k", PTXFMHA_ERR_MISALIGNED_POINTER, [](ptxfmha_bwd_params& x) { x.cu_seqlens_k = misaligned(24); }},
      {"seqused_k", PTXFMHA_ERR_MISALIGNED_POINTER, [](ptxfmha_bwd_params& x) { x.seqused_k = misaligned(25); }},
      {"q_batch_stride", PTXFMHA_ERR_INVALID_STRIDE, [](ptxfmha_bwd_params& x) { x.q_batch_stride = 1024; }},
      {"o_batch_stride", PTXFMHA_ERR_INVALID_STRIDE, [](ptxfmha_bwd_params& x) { x.o_batch_stride = 1024; }},
      {"dout_batch_stride", PTXFMHA_ERR_INVALID_STRIDE, [](ptxfmha_bwd_params& x) { x.dout_batch_stride = 1024; }},
      {"dq_batch_stride", PTXFMHA_ERR_INVALID_STRIDE, [](ptxfmha_bwd_params& x) { x.dq_batch_stride = 1024; }},
      {"k_batch_stride", PTXFMHA_ERR_INVALID_STRIDE, [](ptxfmha_bwd_params& x) { x.k_batch_stride = 256; }},
      {"v_batch_stride", PTXFMHA_ERR_INVALID_STRIDE, [](ptxfmha_bwd_params& x) { x.v_batch_stride = 256; }},
      {"dk_batch_stride", PTXFMHA_ERR_INVALID_STRIDE, [](ptxfmha_bwd_params& x) { x.dk_batch_stride = 256; }},
      {"dv_batch_stride", PTXFMHA_ERR_INVALID_STRIDE, [](ptxfmha_bwd_params& x) { x.dv_batch_stride = 256; }},
      {"max_seqlen_q = 2147483600 exceeds", PTXFMHA_ERR_SIZE_OVERFLOW,
       [](ptxfmha_bwd_params& x) { x.total_q = x.max_seqlen_q = 2147483600; x.heads_q = x.heads_kv = 1; }},
      {"total_k = 2147483600 exceeds", PTXFMHA_ERR_SIZE_OVERFLOW,
       [](ptxfmha_bwd_params& x) { x.total_k = 2147483600; x.max_seqlen_k = 1000000000; }},
      {"heads_q * round_up(total_q + 128 * batch", PTXFMHA_ERR_SIZE_OVERFLOW,
       [](ptxfmha_bwd_params& x) { x.total_q = x.max_seqlen_q = 300000000; }},
      {"heads_kv * total_k", PTXFMHA_ERR_SIZE_OVERFLOW,
       [](ptxfmha_bwd_params& x) { x.total_k = x.max_seqlen_k = 1100000000; }},
      {"dq (bytes", PTXFMHA_ERR_ALIASING,
       [](ptxfmha_bwd_params& x) { x.dq = const_cast<int32_t*>(x.cu_seqlens_q); }},
      {"cu_seqlens_k (bytes", PTXFMHA_ERR_ALIASING,
       [](ptxfmha_bwd_params& x) { x.dk = const_cast<int32_t*>(x.cu_seqlens_k); }},
      {"seqused_k (bytes", PTXFMHA_ERR_ALIASING,
       [](ptxfmha_bwd_params& x) { x.dv = const_cast<int32_t*>(x.seqused_k); }},
      {"d_sink (bytes", PTXFMHA_ERR_ALIASING, [](ptxfmha_bwd_params& x) {
         x.sink_logits = static_cast<const float*>(fake(21));
         x.d_sink = reinterpret_cast<float*>(const_cast<int32_t*>(x.seqused_k)) + 1;
       }},
  };
  expect_bad_cases(on_varlen, valid_varlen);
  // The fixed-length sides refuse the varlen-only fields.
  const BadCase on_fixed[] = {
      {"max_seqlen_q = 5 is used only with cu_seqlens_q", PTXFMHA_ERR_INVALID_ARGUMENT,
       [](ptxfmha_bwd_params& x) { x.max_seqlen_q = 5; }},
      {"total_q = 5 is used only with cu_seqlens_q", PTXFMHA_ERR_INVALID_ARGUMENT,
       [](ptxfmha_bwd_params& x) { x.total_q = 5; }},
      {"max_seqlen_k = 5 is used only with cu_seqlens_k", PTXFMHA_ERR_INVALID_ARGUMENT,
       [](ptxfmha_bwd_params& x) { x.max_seqlen_k = 5; }},
      {"total_k = 5 is used only with cu_seqlens_k", PTXFMHA_ERR_INVALID_ARGUMENT,
       [](ptxfmha_bwd_params& x) { x.total_k = 5; }},
  };
  expect_bad_cases(on_fixed);
  // The workspace never overlaps the metadata (ptxfmha_bwd only).
  ptxfmha_bwd_params p = valid_varlen();
  p.workspace = const_cast<int32_t*>(p.cu_seqlens_k);
  expect_error(p, PTXFMHA_ERR_ALIASING, "workspace (bytes", true);
  CHECK(ptxfmha_bwd(&p) == PTXFMHA_ERR_ALIASING);
  CHECK(std::string(ptxfmha_last_error()).find("cu_seqlens_k") != std::string::npos);
}

namespace {

// The kernels' view of sequence b (varlen.ptxh), for a tile height bm: clamped start / length
// and the first tile of (b, h = 0).
struct SeqModel {
  int64_t start, len, tile0;
};
SeqModel seq_model(const std::vector<int32_t>& cu, int b, int32_t total, int32_t max_len, int bm) {
  const int64_t start = std::min<int64_t>(std::max<int64_t>(cu[b], 0), total);
  const int64_t end = std::min<int64_t>(std::max<int64_t>(cu[b + 1], start), total);
  const int64_t len = std::min<int64_t>(end - start, max_len);
  return {start, len, start / bm + b};
}

}  // namespace

TEST_CASE("bwd varlen workspace: every tile, row and semaphore inside the layout, whatever the metadata") {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 400; ++trial) {
    const int batch = 1 + int(rng() % 9), heads = 1 + int(rng() % 5), d = 64 << (rng() % 3);
    // valid metadata: random lengths (some 0); invalid: random entries in [-300, total + 300]
    std::vector<int32_t> cu(batch + 1, 0);
    for (int b = 0; b < batch; ++b) cu[b + 1] = cu[b] + int32_t(rng() % 4 == 0 ? 0 : rng() % 700);
    const int32_t total = cu[batch];
    int32_t max_len = 0;
    for (int b = 0; b < batch; ++b) max_len = std::max(max_len, cu[b + 1] - cu[b]);
    const bool valid_meta = trial % 2 == 0;
    if (!valid_meta)
      for (int32_t& c : cu) c = int32_t(rng() % (uint32_t(total) + 601)) - 300;
    ptxfmha::BwdWorkspaceLayout l;
    REQUIRE(ptxfmha::bwd_workspace_layout_varlen(batch, heads, total, d, &l));
    for (int bm : {64, 128}) {
      CAPTURE(trial); CAPTURE(bm); CAPTURE(valid_meta);
      const int64_t ws_tiles = total / bm + batch;  // bwd.cpp: kp.ws_tiles
      const int64_t rows_cap = int64_t(l.nlse - l.dq_acc) / (4 * d);
      CHECK(int64_t(heads) * ws_tiles * bm <= rows_cap);
      CHECK(l.nlse + uint64_t(heads) * ws_tiles * bm * 4 <= l.dsum);
      CHECK(l.dsum + uint64_t(heads) * ws_tiles * bm * 4 <= l.sem);
      CHECK(l.sem + uint64_t(heads) * ws_tiles * 4 <= l.bytes);
      int64_t prev_end = 0;
      for (int b = 0; b < batch; ++b) {
        const SeqModel s = seq_model(cu, b, total, max_len, bm);
        const int64_t nm = (s.len + bm - 1) / bm;
        CHECK(s.start + s.len <= total);                       // rows of packed Q
        CHECK(s.tile0 + nm <= ws_tiles);                       // tiles of each head
        if (valid_meta) {
          CHECK(s.tile0 >= prev_end);                          // disjoint from the sequence before
          prev_end = s.tile0 + nm;
        }
      }
    }
  }
}

namespace {

std::vector<uint16_t> random_bf16(std::size_t n, std::mt19937_64& rng) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<uint16_t> x(n);
  for (uint16_t& v : x) v = ptxfmha::float_to_bf16(nd(rng));
  return x;
}

// A packed problem for the reference: Hq = 4, Hkv = 2, D = 16, dense packed rows.
ptxfmha::RefBwdShape packed_shape(bool causal) {
  ptxfmha::RefBwdShape rs{};
  rs.s.heads_q = 4; rs.s.heads_kv = 2; rs.s.head_dim = 16; rs.s.causal = causal; rs.s.softmax_scale = 0.25;
  const int64_t qs[3] = {0, 4 * 16, 16}, ks[3] = {0, 2 * 16, 16};
  for (int i = 0; i < 3; ++i) {
    rs.s.q_stride[i] = qs[i]; rs.do_stride[i] = qs[i]; rs.o_stride[i] = qs[i];
    rs.s.k_stride[i] = ks[i]; rs.s.v_stride[i] = ks[i];
  }
  return rs;
}

}  // namespace

TEST_CASE("bwd varlen reference: equal lengths match the fixed-length reference; empty and seqused sequences") {
  std::mt19937_64 rng(11);
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    ptxfmha::RefBwdShape rs = packed_shape(causal);
    rs.sink_logits = {0.5f, -1.0f, 0.0f, 2.0f};
    const int B = 3, Sq = 7, Sk = 9;
    const auto q = random_bf16(std::size_t(B) * Sq * 64, rng), dout = random_bf16(q.size(), rng);
    const auto k = random_bf16(std::size_t(B) * Sk * 32, rng), v = random_bf16(k.size(), rng);
    // fixed: [B, S, H, D] dense is the packed layout with batch stride S * H * D
    ptxfmha::RefBwdShape fs = rs;
    fs.s.batch = B; fs.s.seqlen_q = Sq; fs.s.seqlen_k = Sk;
    fs.s.q_stride[0] = fs.do_stride[0] = Sq * 64;
    fs.s.k_stride[0] = fs.s.v_stride[0] = Sk * 32;
    std::vector<double> fq, fk, fv, fsum, fsink, vq, vk, vv, vsum, vsink;
    ptxfmha::RefBwdTerms ft, vt;
    ptxfmha::reference_bwd(fs, q.data(), k.data(), v.data(), dout.data(), fq, fk, fv, &fsum, &ft, &fsink);
    ptxfmha::reference_bwd_varlen(rs, {0, Sq, 2 * Sq, 3 * Sq}, {0, Sk, 2 * Sk, 3 * Sk}, {Sk, Sk, Sk}, q.data(),
                                  k.data(), v.data(), dout.data(), vq, vk, vv, &vsum, &vt, &vsink);
    CHECK(vq == fq);
    CHECK(vk == fk);
    CHECK(vv == fv);
    CHECK(vt.dq_l2 == ft.dq_l2);
    CHECK(vt.dk_floor == ft.dk_floor);
    for (int h = 0; h < 4; ++h) CHECK(vsink[h] == doctest::Approx(fsink[h]).epsilon(1e-12));
    // dsum: fixed [b, h, s], packed [h, b * Sq + s]
    for (int b = 0; b < B; ++b)
      for (int h = 0; h < 4; ++h)
        for (int s = 0; s < Sq; ++s) CHECK(vsum[std::size_t(h) * B * Sq + b * Sq + s] == fsum[(std::size_t(b) * 4 + h) * Sq + s]);

    // Sequence 1 without query rows: its keys get dK = dV = 0; sequence 2 with seqused_k 4
    // of its 9 keys: the gradients of the 4-key problem, rows 4..8 zero.
    std::vector<double> eq, ek, ev;
    ptxfmha::reference_bwd_varlen(rs, {0, Sq, Sq, 2 * Sq}, {0, Sk, 2 * Sk, 3 * Sk}, {Sk, Sk, 4}, q.data(), k.data(),
                                  v.data(), dout.data(), eq, ek, ev);
    REQUIRE(ek.size() == std::size_t(3) * Sk * 32);
    bool zero1 = true, zero_tail = true;
    for (std::size_t i = std::size_t(Sk) * 32; i < std::size_t(2) * Sk * 32; ++i) zero1 = zero1 && ek[i] == 0 && ev[i] == 0;
    for (std::size_t i = std::size_t(2 * Sk + 4) * 32; i < ek.size(); ++i) zero_tail = zero_tail && ek[i] == 0 && ev[i] == 0;
    CHECK(zero1);
    CHECK(zero_tail);
    // sequence 2 (packed query rows Sq..2Sq-1) against its own 4-key fixed problem
    ptxfmha::RefBwdShape one = fs;
    one.s.batch = 1; one.s.seqlen_k = 4;
    std::vector<double> oq, ok, ov;
    ptxfmha::reference_bwd(one, q.data() + Sq * 64, k.data() + 2 * Sk * 32, v.data() + 2 * Sk * 32,
                           dout.data() + Sq * 64, oq, ok, ov);
    CHECK(std::equal(oq.begin(), oq.end(), eq.begin() + Sq * 64));
    CHECK(std::equal(ok.begin(), ok.end(), ek.begin() + 2 * Sk * 32));
    CHECK(std::equal(ov.begin(), ov.end(), ev.begin() + 2 * Sk * 32));
    // the first sequence's gradients equal the equal-length run's (it is the same problem)
    CHECK(std::equal(eq.begin(), eq.begin() + Sq * 64, fq.begin()));
  }
}

TEST_CASE("bwd varlen metadata: the backward's spec is the forward's (check_metadata_host)") {
  ptxfmha_bwd_params p = valid_varlen();  // B = 3, total_q 700 (max 300), total_k 1000 (max 500)
  const ptxfmha::MetadataSpec s = ptxfmha::metadata_spec(p);
  CHECK(s.varlen_q);
  CHECK(s.varlen_k);
  CHECK(s.has_seqused);
  CHECK(s.total_q == 700);
  CHECK(s.max_seqlen_k == 500);
  ptxfmha::MetadataHost m;
  m.cu_seqlens_q = {0, 300, 400, 700};
  m.cu_seqlens_k = {0, 500, 500, 1000};
  m.seqused_k = {500, 0, 17};
  CHECK(ptxfmha::check_metadata_host(s, m) == PTXFMHA_OK);
  m.cu_seqlens_q[2] = 250;  // decreasing
  CHECK(ptxfmha::check_metadata_host(s, m) == PTXFMHA_ERR_INVALID_METADATA);
  CHECK(std::string(ptxfmha_last_error()).find("cu_seqlens_q") != std::string::npos);
  m.cu_seqlens_q[2] = 400;
  m.seqused_k[2] = 501;  // past cap_k(2) = 500
  CHECK(ptxfmha::check_metadata_host(s, m) == PTXFMHA_ERR_INVALID_METADATA);
  CHECK(std::string(ptxfmha_last_error()).find("seqused_k") != std::string::npos);
  // fixed K with seqused_k: cap_k is seqlen_k
  p.cu_seqlens_k = nullptr; p.total_k = 0; p.max_seqlen_k = 0; p.seqlen_k = 40;
  const ptxfmha::MetadataSpec f = ptxfmha::metadata_spec(p);
  CHECK(!f.varlen_k);
  CHECK(f.seqlen_k == 40);
  m.cu_seqlens_k.clear();
  m.seqused_k = {40, 0, 3};
  CHECK(ptxfmha::check_metadata_host(f, m) == PTXFMHA_OK);
  m.seqused_k[0] = 41;
  CHECK(ptxfmha::check_metadata_host(f, m) == PTXFMHA_ERR_INVALID_METADATA);
}
