// GPU suites of the decode kernels added by issue 17 (suite "gpu-decode"; skipped, not passed,
// without a device that has decode kernels):
//   - "gpu decode e4m3: ..."      the e4m3 (FP8) cache through ptxfmha_decode_attn: contiguous and
//                                 paged (16 / 64 / 256), per-KV-head and per-tensor scales, every
//                                 head dim, GQA 1 / 4 / 8 / 16, 1..8 query tokens, forced and
//                                 automatic splits, every feature together, the d64 two-heads
//                                 row (_e4m3_h2) on both sides of the grid size it runs from,
//                                 the warpgroup rows (_e4m3_wg, _e4m3_wg_cl) at 33..128 rows;
//                                 against reference_attn_e4m3 (float64 from the dequantised cache);
//   - "gpu decode graph: ..."     ptxfmha_decode and ptxfmha_decode_attn (e4m3 + features)
//                                 captured into a CUDA graph with a fixed workspace (split kernel
//                                 + PDL combine), replayed after the cache contents, the lengths,
//                                 the page table and the scales changed;
//   - "gpu decode variants: ..."  every A/B lever (the _ef / _s6 / _h2 rows, the min-waves split
//                                 policy, the `tma` producer override, whose plan records TMA)
//                                 computes the same attention as the default;
//   - "gpu decode e4m3: sanitizer shapes ..." small shapes for tools/gpu-check.sh's sanitizers.
// Every case: NaN (e4m3 0x7F, bf16 0x7FC1) in every cache cell no call may read, outputs
// poisoned before each launch, two launches bitwise equal, the bounds of tests/attn_util.h
// (rel_l2 <= 2e-2, cosine >= 0.9999, per element |err| <= 2e-2 + 2e-2 |ref|, LSE per row
// |err| <= 1e-3 + 2e-5 |ref|, + 2^-11 logit_mag where the plan ran a row whose QK is e4m3 (the
// _e4m3_wg rows: the e4m3 products' bound of ptxfmha.h; reference_for),
// the first wrong element named. About 15 s on an H200 (estimate: ~90 small cases).
//
// Run: build/tests/ptxfmha_tests -ts=gpu-decode -tc="gpu decode e4m3*,gpu decode graph*,gpu decode variants*"
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "attn_util.h"
#include "decode.h"
#include "decode_rows.h"
#include "validate_attn.h"

using namespace ptxfmha_test;

namespace {

std::vector<int> decode_dims() {
  std::vector<int> d;
  for (const ptxfmha::KernelInfo* r : rows_for(gpu().info.arch, ptxfmha::KernelKind::Decode)) d.push_back(r->head_dim);
  std::sort(d.begin(), d.end());
  d.erase(std::unique(d.begin(), d.end()), d.end());
  return d;
}

// B sequences of sq tokens over a cache of max_k keys, ragged lengths (seqlens_k).
AttnCase dcase(int sq, int hq, int hkv, int d, int page, std::vector<int> lens, int max_k) {
  AttnCase c = attn_case(std::vector<int>(lens.size(), sq), std::vector<int>(lens.size(), max_k), hq, hkv, d);
  c.page_size = page;
  c.used = std::move(lens);
  return c;
}

// An e4m3 cache from the host data's bf16 cache (x 16: codes across the exponent range; NaN
// cells stay NaN) and its scales.
struct E4m3Data {
  std::vector<uint8_t> k, v;
  std::vector<float> ks, vs;  // 1 or heads_kv entries
};
E4m3Data to_e4m3(const AttnCase& c, const AttnHost& h, bool per_head, uint64_t seed) {
  E4m3Data e;
  auto conv = [](const std::vector<uint16_t>& x) {
    std::vector<uint8_t> out(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) out[i] = ptxfmha::float_to_e4m3(ptxfmha::bf16_to_float(x[i]) * 16.0f);
    return out;
  };
  e.k = conv(h.hk);
  e.v = conv(h.hv);
  const int n = per_head ? c.heads_kv : 1;
  for (int i = 0; i < n; ++i) {  // not powers of two, different per head and per tensor
    e.ks.push_back(float((0.7 + 0.13 * double((seed + i) % 5)) / 16.0));
    e.vs.push_back(float((1.3 - 0.11 * double((seed + 2 * i) % 7)) / 16.0));
  }
  return e;
}

// Device buffers of one decode case; contents can be replaced by another host build of the same
// shape (the graph test).
struct DecodeBufs {
  DeviceBuffer q, k, v, o, lse, seqused, table, sinks, slopes, ks, vs, ws;
  int64_t o_elems = 0, lse_elems = 0;

  template <class T> static void put(DeviceBuffer& b, const std::vector<T>& x) {
    if (x.empty()) return;
    if (b.bytes() < x.size() * sizeof(T)) b.alloc(x.size() * sizeof(T));
    b.upload(x);
  }
  void upload(const AttnCase& c, const AttnHost& h, const E4m3Data* e) {
    put(q, h.hq);
    if (e != nullptr) {
      put(k, e->k);
      put(v, e->v);
      put(ks, e->ks);
      put(vs, e->vs);
    } else {
      put(k, h.hk);
      put(v, h.hv);
    }
    put(seqused, h.seqused);
    put(table, h.table);
    put(sinks, c.sinks);
    put(slopes, c.slopes);
    o_elems = std::max<int64_t>(h.o.elems, 1);
    lse_elems = std::max<int64_t>(h.q_rows * c.heads_q, 1);
    if (o.bytes() < std::size_t(o_elems) * 2) o.alloc(std::size_t(o_elems) * 2);
    if (lse.bytes() < std::size_t(lse_elems) * 4) lse.alloc(std::size_t(lse_elems) * 4);
  }
  ptxfmha_decode_attn_params params(const AttnCase& c, const AttnHost& h, const E4m3Data* e, int splits,
                                    CUstream s) const {
    AttnPointers p;
    p.q = q.get(); p.k = k.get(); p.v = v.get(); p.o = o.get();
    p.lse = static_cast<float*>(lse.get());
    p.seqused = static_cast<const int32_t*>(seqused.get());
    p.table = static_cast<const int32_t*>(table.get());
    p.sinks = static_cast<const float*>(sinks.get());
    p.slopes = static_cast<const float*>(slopes.get());
    ptxfmha_decode_attn_params d = make_decode_attn_params(make_attn_params(c, h, p, s), splits);
    if (e != nullptr) {
      d.kv_dtype = PTXFMHA_KV_E4M3;
      d.kv_scale_count = int32_t(e->ks.size());
      d.k_scale = static_cast<const float*>(ks.get());
      d.v_scale = static_cast<const float*>(vs.get());
    }
    return d;
  }
  void poison(CUstream s) {
    o.fill16(kPoisonBf16, std::size_t(o_elems), s);
    lse.fill32(kPoisonF32, std::size_t(lse_elems), s);
  }
  // Workspace for d (allocated once, large enough), then the call (with the overrides); plan_out
  // (optional): the plan it runs.
  ptxfmha_status run(ptxfmha_decode_attn_params d, const ptxfmha::DecodeOverrides& ov, CUstream s,
                     ptxfmha::DecodePlan* plan_out = nullptr) {
    poison(s);
    uint64_t bytes = 0;
    ptxfmha_status st = ptxfmha::decode_attn_with_overrides(&d, ov, false, &bytes, plan_out);
    if (st != PTXFMHA_OK) return st;
    if (bytes > ws.bytes()) ws.alloc(std::size_t(bytes));
    d.workspace = bytes ? ws.get() : nullptr;
    d.workspace_bytes = bytes ? ws.bytes() : 0;
    return ptxfmha::decode_attn_with_overrides(&d, ov, true, nullptr);
  }
  void download(const AttnCase& c, const AttnHost& h, AttnOutputs* out) const {
    o.download(out->o, std::size_t(std::max<int64_t>(h.o.elems, 0)));
    if (c.with_lse) lse.download(out->lse, std::size_t(h.q_rows * c.heads_q));
    else out->lse.clear();
  }
};

// The reference of a case whose plan ran split_row: the LSE bound's logit_mag term (computed
// only then) is the rows' whose QK sums e4m3 products (decode_row_qk_e4m3: the _e4m3_wg rows,
// ptxfmha.h); every other row (the mma.sync e4m3 rows: f16 products) is held to the plain
// bound.
ptxfmha::RefAttnResult reference_for(const AttnHost& h, const E4m3Data* e, const ptxfmha::KernelInfo* split_row) {
  if (e == nullptr) return attn_reference(h);
  ptxfmha::RefAttnResult r;
  const bool qk_e4m3 = split_row != nullptr && ptxfmha::decode_row_qk_e4m3(split_row);
  ptxfmha::reference_attn_e4m3(h.ref, h.hq.data(), e->k.data(), e->v.data(), e->ks, e->vs, qk_e4m3, &r);
  return r;
}

// The result in bufs against the reference: bounds, worst figures under `key`.
bool check_result(const std::string& key, const std::string& what, const AttnCase& c, const AttnHost& h,
                  const ptxfmha::RefAttnResult& ref, const AttnOutputs& got) {
  const Tolerance tol;
  const AttnFigures f = evaluate_attn(c, h, ref, got, tol);
  record_attn(key, describe(c), f);
  std::string why;
  const bool ok = attn_within_bounds(c, h, f, got, ref, tol, &why);
  CHECK_MESSAGE(ok, what << ": " << why << " [" << describe(f) << "]");
  return ok;
}

// Q's rows (token, head) times 2^k, k in turn 3, -14, 0, 1, -8: rows 2^17 apart in one CTA (the
// _e4m3_wg rows scale Q per row before they split it into e4m3 tiles; one scale per
// CTA would leave the small rows' Q under e4m3's subnormals). Larger logits meet the e4m3 wgmma's
// accumulation (about 2^-13 of the sum of |q k|, measured on the H200 2026-12-04: rows times
// 2^9 and 2^17 missed the LSE bound of 1e-3 + 2e-5 |lse| by 0.04 and 20).
void q_rows_pow2(const AttnCase& c, AttnHost* h) {
  static const int kExp[] = {3, -14, 0, 1, -8};
  const int batches = h->total_q ? 1 : int(c.lq.size());
  const int tokens = h->total_q ? h->total_q : h->seqlen_q;
  for (int b = 0; b < batches; ++b)
    for (int t = 0; t < tokens; ++t)
      for (int hh = 0; hh < c.heads_q; ++hh)
        for (int d = 0; d < c.head_dim; ++d) {
          uint16_t& x = h->hq[std::size_t(elem_index(h->q, b, t, hh, d))];
          x = ptxfmha::float_to_bf16(std::ldexp(ptxfmha::bf16_to_float(x), kExp[(t * c.heads_q + hh) % 5]));
        }
}

// One case end to end: two launches (bitwise equal), the reference, the bounds; plan_out
// (optional): the plan the call ran; q_pow2: Q's rows scaled by q_rows_pow2.
bool run_case(const std::string& key, const AttnCase& c, uint64_t seed, int splits, bool e4m3, bool per_head,
              const ptxfmha::DecodeOverrides& ov = ptxfmha::DecodeOverrides(),
              ptxfmha::DecodePlan* plan_out = nullptr, bool q_pow2 = false) {
  AttnHost h = make_attn_host(c, seed);
  if (q_pow2) q_rows_pow2(c, &h);
  E4m3Data e;
  if (e4m3) e = to_e4m3(c, h, per_head, seed);
  const E4m3Data* ep = e4m3 ? &e : nullptr;
  DecodeBufs b;
  b.upload(c, h, ep);
  const std::string what = key + " seed " + std::to_string(seed) + " " + describe(c) + " splits=" +
                           std::to_string(splits) + (e4m3 ? (per_head ? " e4m3 per-head" : " e4m3 per-tensor") : "") +
                           (ov.split_kernel ? std::string(" kernel=") + ov.split_kernel : "") +
                           (ov.min_waves ? " min_waves=" + std::to_string(ov.min_waves) : "") +
                           (q_pow2 ? " q rows x 2^{3,-14,0,1,-8}" : "");
  ptxfmha::DecodePlan plan;
  ptxfmha_status st = b.run(b.params(c, h, ep, splits, nullptr), ov, nullptr, &plan);
  if (plan_out != nullptr) *plan_out = plan;
  CHECK_MESSAGE(st == PTXFMHA_OK, what << ": " << ptxfmha_status_string(st) << ": " << ptxfmha_last_error());
  if (st != PTXFMHA_OK) return false;
  PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
  AttnOutputs first, second;
  b.download(c, h, &first);
  st = b.run(b.params(c, h, ep, splits, nullptr), ov, nullptr);
  REQUIRE_MESSAGE(st == PTXFMHA_OK, what << ": second launch: " << ptxfmha_last_error());
  PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
  b.download(c, h, &second);
  const bool ok = check_result(key, what, c, h, reference_for(h, ep, plan.split_row), first);
  const bool det = first == second;
  CHECK_MESSAGE(det, what << ": two launches on the same inputs differ bitwise");
  return ok && det;
}

void set_all_features(AttnCase& c) {
  c.causal = true;
  c.window_left = 128;
  c.softcap = 30;
  c.sinks.assign(std::size_t(c.heads_q), 0.5f);
  c.slopes = alibi_slopes(c.heads_q);
}

}  // namespace

TEST_SUITE("gpu-decode") {

TEST_CASE("gpu decode e4m3: contiguous, per-KV-head scales, GQA 1/4/8/16 x query tokens 1..8") {
  REQUIRE(ensure_context());
  int cases = 0, failed = 0;
  uint64_t seed = 0xE4A000;
  for (int d : decode_dims())
    for (auto gs : {std::pair<int, int>{1, 1}, {4, 1}, {4, 4}, {8, 2}, {8, 5}, {16, 8}}) {
      AttnCase c = dcase(gs.second, 2 * gs.first, 2, d, 0, {700, 1, 0, 65}, 700);
      c.causal = gs.second > 1;
      ++cases;
      if (!run_case("e4m3 d" + std::to_string(d) + " (contiguous)", c, seed++, 0, true, true)) ++failed;
    }
  MESSAGE("gpu decode e4m3 contiguous: " << cases << " cases, " << failed << " failed");
}

TEST_CASE("gpu decode e4m3: paged 16/64/256, per-tensor and per-head scales, forced and automatic splits") {
  REQUIRE(ensure_context());
  int cases = 0, failed = 0;
  uint64_t seed = 0xE4B000;
  for (int d : decode_dims())
    for (int page : {16, 64, 256})
      for (int splits : {0, 3}) {
        AttnCase c = dcase(2, 16, 2, d, page, {1000, 300, 17, 0}, 1000);
        c.causal = true;
        c.kv_order = page == 64 ? Order::BHSD : Order::BSHD;
        ++cases;
        if (!run_case("e4m3 d" + std::to_string(d) + " (paged)", c, seed++, splits, true, splits == 0)) ++failed;
      }
  MESSAGE("gpu decode e4m3 paged: " << cases << " cases, " << failed << " failed");
}

namespace {
// The two-heads threshold cases of a row of head dim d (the e4m3 and bf16 tests below): for
// contiguous caches and pages of 64 and 16 keys, the batch where `rule` (two-heads units, SMs,
// paged, pages of < 64 keys, max_seqlen_k) turns and the batch below (where a cache never turns:
// the first cache's turn that does, one head on both), 1 and 4 tokens (4 and 16 packed rows per
// head), lengths 0..300 of a max_seqlen_k of max_k with an empty first sequence, automatic and 3
// splits, causal at 4 tokens; every case against the float64 reference, and the plan's row has
// two heads exactly where the rule says. Then the cluster merge forced at that first turn, on its
// cache: one head per CTA (the _cl twins take one KV head).
using TwoHeadsRule = bool (*)(int64_t units, int64_t sms, bool paged, bool small_pages, int64_t max_keys);
void two_heads_threshold(const char* key, bool e4m3, int d, int max_k, uint64_t seed, TwoHeadsRule rule) {
  REQUIRE(ensure_context());
  const int64_t sms = gpu().info.num_sms;
  REQUIRE(sms > 0);
  const int hkv = 8;
  int cases = 0, failed = 0;
  auto turn_of = [&](int page) {  // the smallest batch the rule gives two heads (<= 4096)
    int turn = 1;
    while (turn < 4096 && !rule(int64_t(turn) * (hkv / 2), sms, page > 0, page > 0 && page < 64, max_k)) ++turn;
    return turn;
  };
  const int pages[] = {0, 64, 16};
  int first_turn = 4096, first_page = 0;
  for (int page : pages)
    if (turn_of(page) < first_turn) first_turn = turn_of(page), first_page = page;
  REQUIRE(first_turn < 4096);
  auto one_case = [&](const std::string& what, int sq, int page, int batch, int splits,
                      const ptxfmha::DecodeOverrides& ov, bool want_two) {
    std::vector<int> lens(static_cast<std::size_t>(batch));
    for (int b = 0; b < batch; ++b) lens[std::size_t(b)] = (b * 97 + 13) % 301;  // 0..300
    lens[0] = 0;
    AttnCase c = dcase(sq, 4 * hkv, hkv, d, page, lens, max_k);
    c.causal = sq > 1;
    ptxfmha::DecodePlan plan;
    ++cases;
    if (!run_case(what, c, seed++, splits, e4m3, true, ov, &plan)) ++failed;
    CAPTURE(what); CAPTURE(page); CAPTURE(batch); CAPTURE(sq); CAPTURE(splits);
    REQUIRE(plan.split_row != nullptr);
    CHECK(plan.split_row->head_dim == d);
    CHECK((ptxfmha::decode_row_heads(plan.split_row) == 2) == want_two);
  };
  for (int page : pages) {
    const bool small = page > 0 && page < 64;
    const int turn = turn_of(page) < 4096 ? turn_of(page) : first_turn;
    for (int batch : {turn, turn - 1})
      for (int sq : {1, 4})
        for (int splits : {0, 3})
          if (batch >= 1)
            one_case(std::string(key) + " threshold", sq, page, batch, splits, ptxfmha::DecodeOverrides(),
                     rule(int64_t(batch) * (hkv / 2), sms, page > 0, small, max_k));
  }
  ptxfmha::DecodeOverrides ov;
  ov.cluster = ptxfmha::DecodeClusterPolicy::Force;
  for (int splits : {0, 3})
    one_case(std::string(key) + " threshold (cluster forced)", 1, first_page, first_turn, splits, ov, false);
  MESSAGE("gpu decode " << std::string(key) << " threshold: " << cases << " cases, " << failed << " failed");
}
}  // namespace

// The e4m3 d64 two-heads row (_e4m3_h2: both heads' 64-byte rows of a key in one CTA) runs where
// its grid is large enough (decode_prefers_two_heads, pages of 16 at their own threshold;
// decode_grid_row picks, the CPU test pins the rule); per-KV-head scales (the epilogue's V scale
// is the item's head's: EPI_ITEM_VSCALE).
TEST_CASE("gpu decode e4m3: the two-heads d64 row where its grid is large enough, one head below") {
  two_heads_threshold("e4m3 d64 two-heads", true, 64, 300, 0xE4F000,
                      [](int64_t units, int64_t sms, bool, bool small_pages, int64_t) {
    return ptxfmha::decode_prefers_two_heads(units, sms, small_pages);
  });
}

// The bf16 two-heads rows (_h2: both heads' rows of a key in one CTA; d64 since s39, 128-byte rows,
// contiguous and in pages of >= 64 keys; d128 since s40, in pages of >= 64 keys at 4k-32k keys)
// where the two-heads grid covers the SMs (decode_prefers_two_heads_bf16; never pages of 16; the CPU test
// pins the rule).
TEST_CASE("gpu decode: the bf16 d64 two-heads row where its grid covers the SMs, one head below") {
  two_heads_threshold("bf16 d64 two-heads", false, 64, 300, 0xB2F000,
                      [](int64_t units, int64_t sms, bool paged, bool small_pages, int64_t max_keys) {
    return ptxfmha::decode_prefers_two_heads_bf16(64, units, sms, paged, small_pages, max_keys);
  });
}

// d64 short of a wave by at most sms / 32 SMs at 8k-32k keys (s44): max_seqlen_k 8192, the turn
// at 128 two-heads units on 132 SMs (batch 32 at 8 KV heads), one head at batch 31.
TEST_CASE("gpu decode: the bf16 d64 two-heads row short of a wave at 8k-32k keys, one head below") {
  two_heads_threshold("bf16 d64 two-heads near a wave", false, 64, int(ptxfmha::kDecodeTwoHeadsD64NearMinKeys),
                      0xB4F000, [](int64_t units, int64_t sms, bool paged, bool small_pages, int64_t max_keys) {
    return ptxfmha::decode_prefers_two_heads_bf16(64, units, sms, paged, small_pages, max_keys);
  });
}

TEST_CASE("gpu decode: the bf16 d128 two-heads row in pages where its grid covers the SMs, one head below") {
  // max_seqlen_k 4096 (d128's rule keeps to 4k-32k keys), the sequences 0..300 keys of it
  two_heads_threshold("bf16 d128 two-heads", false, 128, ptxfmha::kDecodeTwoHeadsD128MinKeys, 0xB3F000,
                      [](int64_t units, int64_t sms, bool paged, bool small_pages, int64_t max_keys) {
    return ptxfmha::decode_prefers_two_heads_bf16(128, units, sms, paged, small_pages, max_keys);
  });
}

// The e4m3 warpgroup rows (_e4m3_wg; sm90a; every head dim: the QK wgmma on the e4m3 K with Q
// split per row into two e4m3 tiles, each V tile converted once per CTA into an f16 copy,
// mainloop_wg_e4m3_pipe.ptxh) where a CTA holds 33..64
// packed rows: 33 (GQA 11 x 3 tokens), 48, 64, 80 (a second m-group of 16 rows) and 128 rows;
// contiguous and in pages of 16 and 64 keys, causal and not, ragged lengths with empty, one-key
// and tile-edge sequences (the tail tile's conversion zeroes V's rows past the split end: the
// cache holds e4m3 NaN codes in every cell no call may read), per-head and per-tensor scales,
// unsplit, split (the combine kernel) and as a cluster (the _e4m3_wg_cl row). The plan must name
// a warpgroup row (or its cluster twin) wherever one exists (on sm90a at every head dim; at d256
// since s27 the converter-warp row _e4m3_wgc);
// elsewhere the mma.sync e4m3 rows run the same cases. And Q's rows 2^17 apart in magnitude
// (q_rows_pow2), contiguous and paged, unsplit and split, where the row's QK is e4m3.
namespace {
// The warpgroup rows' ragged batch: 700 keys, an empty sequence (4 keys when causal; one key in
// pages of 64 unsplit) and a tile-edge one of 63..65 keys.
AttnCase wg_ragged_case(int sq, int hq, int hkv, int d, int page, int splits, bool causal) {
  std::vector<int> lens = {700, causal ? 4 : 0, 64 + (sq + splits + page) % 3 - 1};  // 63..65
  if (page == 64 && splits == 0) lens[1] = 1;
  AttnCase c = dcase(sq, hq, hkv, d, page, lens, 700);
  c.causal = causal;
  return c;
}
}  // namespace

TEST_CASE("gpu decode e4m3: the warpgroup rows at 17..128 packed rows (ragged, paged, causal, split, cluster)") {
  REQUIRE(ensure_context());
  int cases = 0, failed = 0, ran_wg = 0;
  uint64_t seed = 0xE4E000;
  struct Shape { int sq, hq, hkv; };
  for (int d : decode_dims()) {
    CAPTURE(d);
    const bool has_wg = ptxfmha::decode_row_wg(ptxfmha::find_decode_split(gpu().info.sm, d, 1, false, 2, 64));
    if (gpu().info.sm == 90) CHECK(has_wg);
    // 18 and 32 rows: the _e4m3_wg row at d256 only (decode_wg_min_rows), mma.sync at d64 / d128
    for (Shape sh : {Shape{3, 12, 2}, Shape{4, 16, 2}, Shape{3, 22, 2}, Shape{3, 32, 2}, Shape{4, 32, 2},
                     Shape{5, 32, 2}, Shape{8, 32, 2}}) {
      const int64_t rows = std::min<int64_t>(int64_t(sh.sq) * (sh.hq / sh.hkv), ptxfmha::kDecodeRowsPerCta);
      const bool want_wg = has_wg && rows >= ptxfmha::decode_wg_min_rows(d, 1);
      for (int page : {0, 16, 64})
        for (int splits : {0, 3})
          for (int causal : {0, 1}) {
            AttnCase c = wg_ragged_case(sh.sq, sh.hq, sh.hkv, d, page, splits, causal != 0);
            ptxfmha::DecodePlan plan;
            const bool per_head = cases % 2 == 0;  // per-KV-head and per-tensor scales in turn
            ++cases;
            if (!run_case("e4m3 wg d" + std::to_string(d), c, seed++, splits, true, per_head,
                          ptxfmha::DecodeOverrides(), &plan))
              ++failed;
            REQUIRE(plan.split_row != nullptr);
            CHECK(ptxfmha::decode_row_wg(plan.split_row) == want_wg);
            if (ptxfmha::decode_row_wg(plan.split_row)) ++ran_wg;
          }
    }
    // Q's rows 2^17 apart in magnitude inside one CTA (64 packed rows): the _e4m3_wg rows only
    // (the mma.sync e4m3 rows compute Q in f16, ptxfmha.h)
    const bool qk_e4m3 =
        ptxfmha::decode_row_qk_e4m3(ptxfmha::find_decode_split(gpu().info.sm, d, 1, false, 2, 64));
    if (qk_e4m3)
      for (int page : {0, 16})
        for (int splits : {0, 3}) {
          AttnCase c = dcase(4, 32, 2, d, page, {900, 300}, 900);
          ptxfmha::DecodePlan plan;
          ++cases;
          if (!run_case("e4m3 wg q range d" + std::to_string(d), c, seed++, splits, true, true,
                        ptxfmha::DecodeOverrides(), &plan, true))
            ++failed;
          REQUIRE(plan.split_row != nullptr);
          CHECK(ptxfmha::decode_row_qk_e4m3(plan.split_row));
        }
    // forced cluster merges: the _e4m3_wg_cl twin, 2 and 4 splits (16 tiles: no trimming)
    ptxfmha::DecodeOverrides ov;
    ov.cluster = ptxfmha::DecodeClusterPolicy::Force;
    for (int splits : {2, 4}) {
      AttnCase c = dcase(4, 32, 2, d, 0, {1000, 129}, 1000);
      c.causal = true;
      ptxfmha::DecodePlan plan;
      ++cases;
      if (!run_case("e4m3 wg cluster d" + std::to_string(d), c, seed++, splits, true, true, ov, &plan)) ++failed;
      REQUIRE(plan.split_row != nullptr);
      CHECK(plan.cluster == splits);
      CHECK(ptxfmha::decode_row_cluster(plan.split_row));
      CHECK(ptxfmha::decode_row_wg(plan.split_row) == has_wg);
    }
  }
  MESSAGE("gpu decode e4m3 warpgroup rows: " << cases << " cases, " << ran_wg << " planned on an _e4m3_wg row, "
                                              << failed << " failed");
}

// The converter-warp rows, named, on the warpgroup rows' shapes above: _e4m3_wgc / _e4m3_wgc_cl
// (sm90a, d256: WG 2's loop with V converted by two converter warps, converter.ptxh) and
// _e4m3_wg2c / _e4m3_wg2c_cl (WG 4: two consumer warpgroups taking the even and the odd tiles,
// mainloop_wg_e4m3_pair.ptxh; a split of one tile leaves warpgroup 1 without one): 18..128
// packed rows, contiguous and in pages of 16 and 64, causal and not, ragged lengths with empty,
// one-key and tile-edge sequences (the last tile's zeroed V rows), unsplit and split; Q's rows
// 2^17 apart; the cluster twins at 2 and 4 splits (suite gpu-sm90a: the rows exist there only).
TEST_CASE("gpu decode e4m3: the converter-warp rows (named) at 18..128 packed rows" *
          doctest::test_suite("gpu-sm90a")) {
  REQUIRE(ensure_context());
  int cases = 0, failed = 0;
  uint64_t seed = 0xE4F000;
  for (const char* stem : {"_e4m3_wgc", "_e4m3_wg2c"}) {
    const std::string row = std::string("fmha_decode_d256") + stem + "_" + gpu().info.arch;
    const std::string row_cl = std::string("fmha_decode_d256") + stem + "_cl_" + gpu().info.arch;
    REQUIRE(ptxfmha::find_decode_split_named(gpu().info.sm, row.c_str()) != nullptr);
    REQUIRE(ptxfmha::find_decode_split_named(gpu().info.sm, row_cl.c_str()) != nullptr);
    const std::string what = stem + 1;                  // "e4m3_wgc", "e4m3_wg2c"
    struct Shape { int sq, hq, hkv; };
    ptxfmha::DecodeOverrides ov;
    ov.split_kernel = row.c_str();
    for (Shape sh : {Shape{3, 12, 2}, Shape{4, 16, 2}, Shape{3, 22, 2}, Shape{4, 32, 2}, Shape{5, 32, 2},
                     Shape{8, 32, 2}})
      for (int page : {0, 16, 64})
        for (int splits : {0, 3})
          for (int causal : {0, 1}) {
            AttnCase c = wg_ragged_case(sh.sq, sh.hq, sh.hkv, 256, page, splits, causal != 0);
            ptxfmha::DecodePlan plan;
            ++cases;
            if (!run_case(what, c, seed++, splits, true, cases % 2 == 0, ov, &plan)) ++failed;
            REQUIRE(plan.split_row != nullptr);
            CHECK(std::string(plan.split_row->name) == row);
          }
    for (int page : {0, 16})
      for (int splits : {0, 3}) {
        AttnCase c = dcase(4, 32, 2, 256, page, {900, 300}, 900);
        ++cases;
        if (!run_case(what + " q range", c, seed++, splits, true, true, ov, nullptr, true)) ++failed;
      }
    ptxfmha::DecodeOverrides oc;
    oc.split_kernel = row_cl.c_str();
    for (int splits : {2, 4}) {
      AttnCase c = dcase(4, 32, 2, 256, 0, {1000, 129, 0}, 1000);
      c.causal = true;
      ptxfmha::DecodePlan plan;
      ++cases;
      if (!run_case(what + " cluster", c, seed++, splits, true, true, oc, &plan)) ++failed;
      REQUIRE(plan.split_row != nullptr);
      CHECK(std::string(plan.split_row->name) == row_cl);
      CHECK(plan.cluster == splits);
    }
  }
  MESSAGE("gpu decode e4m3 converter-warp rows: " << cases << " cases, " << failed << " failed");
}

TEST_CASE("gpu decode e4m3: every feature (window, softcap, sinks, ALiBi), paged and contiguous, splits") {
  REQUIRE(ensure_context());
  int cases = 0, failed = 0;
  uint64_t seed = 0xE4C000;
  for (int d : decode_dims())
    for (int page : {0, 64})
      for (int splits : {0, 1, 4}) {
        AttnCase c = dcase(4, 8, 2, d, page, {1100, 5, 0}, 1100);
        set_all_features(c);
        ++cases;
        if (!run_case("e4m3 d" + std::to_string(d) + " (features)", c, seed++, splits, true, page == 0)) ++failed;
      }
  MESSAGE("gpu decode e4m3 features: " << cases << " cases, " << failed << " failed");
}

// Small shapes for compute-sanitizer (tools/gpu-check.sh runs every test case named
// "sanitizer shapes"): e4m3 + every feature, page 16, splits + the sink combine kernel, a
// sequence without keys; e4m3 contiguous per tensor; the A/B rows (head dim 128) and the e4m3
// d64 two-heads row, each named, at its own head dim.
TEST_CASE("gpu decode e4m3: sanitizer shapes (e4m3, features, splits + sink combine, A/B rows)") {
  REQUIRE(ensure_context());
  uint64_t seed = 0xE4D000;
  for (int d : decode_dims()) {
    AttnCase a = dcase(3, 8, 2, d, 16, {70, 0, 17}, 70);
    set_all_features(a);
    a.window_left = 5;
    run_case("e4m3 sanitizer", a, seed++, 3, true, true);
    AttnCase b = dcase(1, 4, 4, d, 0, {130, 1}, 130);
    run_case("e4m3 sanitizer", b, seed++, 0, true, false);
  }
  // the e4m3 warpgroup rows (_e4m3_wg, _e4m3_wg_cl where the device has them): 80 packed rows
  // (two m-groups) split and in pages of 16; a forced cluster with an empty sequence
  for (int d : decode_dims()) {
    AttnCase w = dcase(5, 32, 2, d, 16, {300, 65}, 300);
    w.causal = true;
    run_case("e4m3 sanitizer wg", w, seed++, 2, true, true);
    ptxfmha::DecodeOverrides ov;
    ov.cluster = ptxfmha::DecodeClusterPolicy::Force;
    AttnCase wc = dcase(4, 32, 2, d, 0, {500, 0}, 500);
    run_case("e4m3 sanitizer wg cluster", wc, seed++, 4, true, true, ov);
  }
  // the converter-warp rows (named, where the device has them): the warpgroup shapes above
  for (const char* name : {"fmha_decode_d256_e4m3_wgc", "fmha_decode_d256_e4m3_wgc_cl", "fmha_decode_d256_e4m3_wg2c",
                           "fmha_decode_d256_e4m3_wg2c_cl"}) {
    const std::string row = std::string(name) + "_" + gpu().info.arch;
    if (ptxfmha::find_decode_split_named(gpu().info.sm, row.c_str()) == nullptr) continue;
    ptxfmha::DecodeOverrides ov;
    ov.split_kernel = row.c_str();
    const bool cl = std::string(name).find("_cl") != std::string::npos;
    AttnCase w = cl ? dcase(4, 32, 2, 256, 0, {500, 0}, 500) : dcase(5, 32, 2, 256, 16, {300, 65}, 300);
    w.causal = !cl;
    run_case(std::string("e4m3 sanitizer ") + (name + 17), w, seed++, cl ? 4 : 2, true, true, ov);
  }
  for (const char* name : {"fmha_decode_d128_ef", "fmha_decode_d128_s6", "fmha_decode_d128_e4m3_ef",
                           "fmha_decode_d128_h2", "fmha_decode_d128_cl", "fmha_decode_d128_e4m3_cl",
                           "fmha_decode_d128_attn_cl", "fmha_decode_d64_e4m3_h2", "fmha_decode_d64_h2"}) {
    const std::string row = std::string(name) + "_" + gpu().info.arch;
    const ptxfmha::KernelInfo* info = ptxfmha::find_decode_split_named(gpu().info.sm, row.c_str());
    if (info == nullptr) continue;
    ptxfmha::DecodeOverrides ov;
    ov.split_kernel = row.c_str();
    AttnCase c = dcase(2, 8, 2, info->head_dim, 32, {200, 3}, 200);
    c.causal = true;
    run_case("variant sanitizer", c, seed++, 3, std::string(name).find("e4m3") != std::string::npos, true, ov);
  }
}

TEST_CASE("gpu decode variants: every A/B lever computes the same attention (named rows, min-waves splits)") {
  REQUIRE(ensure_context());
  int cases = 0, failed = 0;
  uint64_t seed = 0xE4E000;
  for (const ptxfmha::KernelInfo* r : ptxfmha::all_kernels()) {
    if (r->kind != ptxfmha::KernelKind::DecodeVariant || std::string(r->arch) != gpu().info.arch) continue;
    const ptxfmha::DecodeRowFacts* f = ptxfmha::decode_row_facts(r);
    REQUIRE(f != nullptr);
    ptxfmha::DecodeOverrides ov;
    ov.split_kernel = r->name;
    for (int page : {0, 16}) {
      AttnCase c = dcase(1, 16, 4, r->head_dim, page, {1500, 777, 64, 1}, 1500);
      if (f->features) set_all_features(c);
      ++cases;
      if (!run_case(std::string("variant ") + r->name, c, seed++, 0, f->kv_bytes == 1, true, ov)) ++failed;
    }
  }
  for (int w : {4, 16}) {  // the split policy: more, shorter CTAs
    ptxfmha::DecodeOverrides ov;
    ov.min_waves = w;
    AttnCase c = dcase(1, 16, 4, 128, 0, {4096, 4096, 100, 4096}, 4096);
    ++cases;
    if (!run_case("variant min_waves", c, seed++, 0, false, true, ov)) ++failed;
    ++cases;
    if (!run_case("variant min_waves e4m3", c, seed++, 0, true, true, ov)) ++failed;
  }
  // The producer override (`tma`, the bench's A/B of s41): a cp.async row on a contiguous bf16
  // cache runs on TMA boxes and computes the same attention; the plan the call ran records the
  // producer (the launch passes the cache pointers that select it exactly then: decode_fill_scalars).
  for (int d : {64, 128, 256}) {
    const AttnCase c = dcase(1, 16, 4, d, 0, {1500, 777, 64, 1}, 1500);
    for (bool tma : {false, true}) {
      ptxfmha::DecodeOverrides ov;
      ov.tma = tma;
      ptxfmha::DecodePlan plan;
      ++cases;
      if (!run_case(std::string(tma ? "variant tma" : "variant cp.async"), c, seed++, 0, false, true, ov, &plan))
        ++failed;
      CHECK(ptxfmha::decode_row_cpasync(plan.split_row));
      CHECK(plan.cpasync == !tma);
    }
  }
  // _h2 rows take one m-tile per head: a call with more packed rows is refused, naming the row.
  {
    const std::string h2 = std::string("fmha_decode_d128_h2_") + gpu().info.arch;
    ptxfmha::DecodeOverrides o2;
    o2.split_kernel = h2.c_str();
    AttnCase big = dcase(8, 16, 4, 128, 0, {100}, 100);  // 8 tokens x GQA 4 = 32 rows per head
    const AttnHost hb = make_attn_host(big, 2);
    DecodeBufs bb;
    bb.upload(big, hb, nullptr);
    CHECK(bb.run(bb.params(big, hb, nullptr, 0, nullptr), o2, nullptr) == PTXFMHA_ERR_INVALID_ARGUMENT);
    CHECK(std::string(ptxfmha_last_error()).find(h2) != std::string::npos);
  }
  // A named row that does not fit the call is refused, naming it (nothing runs).
  const std::string e4m3_row = std::string("fmha_decode_d128_e4m3_") + gpu().info.arch;
  ptxfmha::DecodeOverrides ov;
  ov.split_kernel = e4m3_row.c_str();
  AttnCase c = dcase(1, 8, 2, 128, 0, {100}, 100);
  const AttnHost h = make_attn_host(c, 1);
  DecodeBufs b;
  b.upload(c, h, nullptr);
  CHECK(b.run(b.params(c, h, nullptr, 0, nullptr), ov, nullptr) == PTXFMHA_ERR_INVALID_ARGUMENT);
  CHECK(std::string(ptxfmha_last_error()).find(e4m3_row) != std::string::npos);
  MESSAGE("gpu decode variants: " << cases << " cases, " << failed << " failed");
}

// Serving engines replay decode steps as CUDA graphs. A call with a fixed workspace (sized once
// for max_seqlen_k) is captured (split kernel + PDL combine: num_splits 4; and the cluster
// merge, one launch of clusters of 4 CTAs, no workspace), replayed, then the
// cache contents, seqlens_k (shorter and longer), the page table and (e4m3) the scales change in
// place and the same graph is replayed again: every replay must match the reference of what
// the buffers hold at that moment.
TEST_CASE("gpu decode graph: captured with a fixed workspace, replayed after cache, lengths, table and scales change") {
  REQUIRE(ensure_context());
  CUstream s = nullptr;
  PTXFMHA_CU_CHECK(cu().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  uint64_t seed = 0xE4F000;
  struct Mode {
    const char* name;
    bool e4m3, features, plain_api;
    CUstreamCaptureMode capture;
    const char* cluster;  // PTXFMHA_DECODE_CLUSTER: "0" workspace + PDL combine, "1" cluster merge
  };
  const Mode modes[] = {
      {"ptxfmha_decode bf16 (thread-local capture)", false, false, true, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL, "0"},
      {"ptxfmha_decode_attn e4m3 + features (global capture)", true, true, false, CU_STREAM_CAPTURE_MODE_GLOBAL, "0"},
      {"ptxfmha_decode bf16, cluster merge (thread-local capture)", false, false, true,
       CU_STREAM_CAPTURE_MODE_THREAD_LOCAL, "1"},
      {"ptxfmha_decode_attn e4m3 + features, cluster merge (global capture)", true, true, false,
       CU_STREAM_CAPTURE_MODE_GLOBAL, "1"},
  };
  for (int d : decode_dims())
    for (const Mode& m : modes) {
      CAPTURE(m.name);
      CAPTURE(d);
      ScopedDecodeCluster policy(m.cluster);
      const bool cluster = m.cluster[0] == '1';
      // Three builds of one shape: the page pool keeps its size (extra pages make up for the
      // pages shorter sequences do not need), so the captured tensor maps stay valid.
      AttnCase c1 = dcase(1, 16, 4, d, 64, {900, 333, 0}, 1000);
      AttnCase c2 = dcase(1, 16, 4, d, 64, {500, 333, 1}, 1000);  // 8 + 6 + 1 pages
      AttnCase c3 = dcase(1, 16, 4, d, 64, {1000, 10, 64}, 1000);  // 16 + 1 + 1 pages
      c1.extra_pages = 3;   // 15 + 6 + 0 + 3 = 24 pages
      c2.extra_pages = 9;
      c3.extra_pages = 6;
      for (AttnCase* c : {&c1, &c2, &c3}) {
        c->causal = !m.features;
        if (m.features) set_all_features(*c);
        if (m.features && c == &c3) c->sinks.assign(std::size_t(c->heads_q), -2.0f);  // new sink values
      }
      const AttnHost h1 = make_attn_host(c1, seed++), h2 = make_attn_host(c2, seed++), h3 = make_attn_host(c3, seed++);
      REQUIRE(h1.k.elems == h2.k.elems);
      REQUIRE(h1.k.elems == h3.k.elems);
      REQUIRE(h1.num_pages == h3.num_pages);
      E4m3Data e1, e2, e3;
      if (m.e4m3) {
        e1 = to_e4m3(c1, h1, true, 1);
        e2 = to_e4m3(c2, h2, true, 2);
        e3 = to_e4m3(c3, h3, true, 3);
      }
      const E4m3Data* ep[3] = {m.e4m3 ? &e1 : nullptr, m.e4m3 ? &e2 : nullptr, m.e4m3 ? &e3 : nullptr};
      const AttnCase* cs[3] = {&c1, &c2, &c3};
      const AttnHost* hs[3] = {&h1, &h2, &h3};
      DecodeBufs b;
      b.upload(c1, h1, ep[0]);
      const ptxfmha_decode_attn_params da = b.params(c1, h1, ep[0], 4, s);
      // the row the call runs (for reference_for's LSE bound)
      ptxfmha::DecodePlan gplan;
      {
        ptxfmha_decode_attn_params q = da;
        uint64_t bytes = 0;
        REQUIRE(ptxfmha::decode_attn_with_overrides(&q, ptxfmha::DecodeOverrides(), false, &bytes, &gplan) ==
                PTXFMHA_OK);
      }
      ptxfmha_decode_params dp = ptxfmha::decode_attn_base(da);
      uint64_t ws_bytes = 0;
      if (m.plain_api) REQUIRE(ptxfmha_decode_workspace_size(&dp, &ws_bytes) == PTXFMHA_OK);
      else REQUIRE(ptxfmha_decode_attn_workspace_size(&da, &ws_bytes) == PTXFMHA_OK);
      // 4 splits: the combine kernel runs (PDL), or the cluster merge (no workspace)
      if (cluster) {
        REQUIRE(ws_bytes == 0);  // 4 splits and no workspace: only the cluster merge does that
        if (m.plain_api) {
          ptxfmha::DecodePlan plan;
          REQUIRE(ptxfmha::decode_plan(&dp, &plan) == PTXFMHA_OK);
          REQUIRE(plan.cluster == 4);
        }
      } else {
        REQUIRE(ws_bytes > 0);
        b.ws.alloc(std::size_t(ws_bytes));
      }
      ptxfmha_decode_attn_params call = da;
      call.workspace = cluster ? nullptr : b.ws.get();
      call.workspace_bytes = ws_bytes;
      dp.workspace = cluster ? nullptr : b.ws.get();
      dp.workspace_bytes = ws_bytes;
      auto issue = [&]() { return m.plain_api ? ptxfmha_decode(&dp) : ptxfmha_decode_attn(&call); };
      // uncaptured once (modules loaded, occupancy cached): the same answer as the replays
      b.poison(s);
      REQUIRE_MESSAGE(issue() == PTXFMHA_OK, ptxfmha_last_error());
      PTXFMHA_CU_CHECK(cu().cuStreamSynchronize(s));
      PTXFMHA_CU_CHECK(cu().cuStreamBeginCapture(s, m.capture));
      const ptxfmha_status st = issue();
      const std::string msg = ptxfmha_last_error();
      CUgraph graph = nullptr;
      const CUresult end = cu().cuStreamEndCapture(s, &graph);
      REQUIRE_MESSAGE(st == PTXFMHA_OK, m.name << " under capture: " << msg);
      PTXFMHA_CU_CHECK(end);
      CUgraphExec exec = nullptr;
      PTXFMHA_CU_CHECK(cu().cuGraphInstantiateWithFlags(&exec, graph, 0));
      for (int rep = 0; rep < 3; ++rep) {
        CAPTURE(rep);
        b.upload(*cs[rep], *hs[rep], ep[rep]);  // new contents in the same buffers
        b.poison(s);
        PTXFMHA_CU_CHECK(cu().cuStreamSynchronize(s));
        PTXFMHA_CU_CHECK(cu().cuGraphLaunch(exec, s));
        PTXFMHA_CU_CHECK(cu().cuStreamSynchronize(s));
        AttnOutputs out;
        b.download(*cs[rep], *hs[rep], &out);
        check_result(std::string("graph d") + std::to_string(d), std::string(m.name) + " replay " + std::to_string(rep),
                     *cs[rep], *hs[rep], reference_for(*hs[rep], ep[rep], gplan.split_row), out);
      }
      PTXFMHA_CU_CHECK(cu().cuGraphExecDestroy(exec));
      PTXFMHA_CU_CHECK(cu().cuGraphDestroy(graph));
    }
  PTXFMHA_CU_CHECK(cu().cuStreamDestroy(s));
}

}  // TEST_SUITE
