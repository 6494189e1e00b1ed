// GPU tests of ptxfmha_decode against the float64 reference (ptxfmha::reference_decode), in
// test suite "gpu-decode" (skipped, not passed, without a device that has decode kernels).
//
// Every case: random N(0,1) bf16 Q/K/V; every cache element that no sequence may read (past
// seqlens_k, pages no table entry names, page tails) holds NaN bit patterns, so a kernel
// that lets an unread key leak into O fails; O and LSE are poisoned before each launch; the
// result must be within the bounds of gpu_util.h's Tolerance (O per element, rel_l2, cosine,
// LSE per row, -inf LSE and zero O for rows that see no key, no padding clobbered) and two
// launches must be bitwise equal. Figures go to the worst-figures summary per kernel.
// The library's default cluster policy (Off: the workspace path) runs; the split-count test runs both merges
// (PTXFMHA_DECODE_CLUSTER=0 and =1) and "cluster merge" forces the _cl rows (splits 2..16),
// checking that the plan ran them as clusters.
//
// The timing case "decode bandwidth": test_gpu_decode_bandwidth.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "decode.h"
#include "decode_rows.h"
#include "gpu_util.h"
#include "shapes.h"

using namespace ptxfmha_test;

namespace {

enum class CacheLayout {
  TokenMajor,     // [pages, page_size, Hkv, D]   (contiguous: [B, S, Hkv, D])
  HeadMajor,      // [pages, Hkv, page_size, D]
  InterleavedKV,  // one buffer [pages, 2, page_size, Hkv, D]: K at +0, V at +page_size*Hkv*D
};

struct DecodeProblem {
  int batch = 1, seqlen_q = 1, heads_q = 8, heads_kv = 8, head_dim = 128;
  bool causal = false;
  int max_seqlen_k = 1;
  std::vector<int32_t> seqlens;  // empty: every sequence has max_seqlen_k keys
  int page_size = 0;             // 0: contiguous cache
  int extra_pages = 3;           // unreferenced pages in the pool (NaN filled)
  CacheLayout layout = CacheLayout::TokenMajor;
  int cache_pad = 0;             // extra elements per KV row / page (multiple of 8)
  int num_splits = 0;
  bool with_lse = true;
  float scale = 0;               // 0: 1/sqrt(D)
  Layout q, o;

  float softmax_scale() const { return scale > 0 ? scale : float(1.0 / std::sqrt(double(head_dim))); }
  int len(int b) const {
    if (seqlens.empty()) return max_seqlen_k;
    return std::max(0, std::min<int>(seqlens[std::size_t(b)], max_seqlen_k));
  }
};

DecodeProblem make_problem(int batch, int seqlen_q, int heads_q, int heads_kv, int head_dim,
                           bool causal, int max_seqlen_k, int page_size = 0) {
  DecodeProblem p;
  p.batch = batch; p.seqlen_q = seqlen_q; p.heads_q = heads_q; p.heads_kv = heads_kv;
  p.head_dim = head_dim; p.causal = causal; p.max_seqlen_k = max_seqlen_k; p.page_size = page_size;
  p.q = make_layout(batch, seqlen_q, heads_q, head_dim);
  p.o = make_layout(batch, seqlen_q, heads_q, head_dim);
  return p;
}

std::string describe(const DecodeProblem& p) {
  std::ostringstream s;
  s << "B=" << p.batch << " Sq=" << p.seqlen_q << " Hq=" << p.heads_q << " Hkv=" << p.heads_kv
    << " D=" << p.head_dim << " causal=" << int(p.causal) << " max_k=" << p.max_seqlen_k;
  if (!p.seqlens.empty()) {
    s << " seqlens={";
    for (std::size_t i = 0; i < p.seqlens.size() && i < 8; ++i) s << (i ? "," : "") << p.seqlens[i];
    s << (p.seqlens.size() > 8 ? ",...}" : "}");
  }
  if (p.page_size) s << " page=" << p.page_size;
  else s << " contiguous";
  s << " layout=" << (p.layout == CacheLayout::TokenMajor ? "token" : p.layout == CacheLayout::HeadMajor ? "head" : "kv-interleaved");
  if (p.cache_pad) s << " pad=" << p.cache_pad;
  if (p.num_splits) s << " splits=" << p.num_splits;
  if (!p.with_lse) s << " lse=none";
  return s.str();
}

// Host data of one problem: Q, the cache (K and V in one or two buffers), table, seqlens.
struct DecodeData {
  std::vector<uint16_t> q, kbuf, vbuf;  // vbuf empty for InterleavedKV (V lives in kbuf)
  int64_t k_off = 0, v_off = 0;        // element offsets of K / V inside their buffers
  int64_t k_stride[3] = {0, 0, 0}, v_stride[3] = {0, 0, 0};
  std::vector<int32_t> table;
  int mbps = 0, num_pages = 0;
};

constexpr uint16_t kNaNBf16 = 0x7FC1;  // cache cells nobody may read

DecodeData make_data(const DecodeProblem& p, uint64_t seed, std::vector<int32_t>* bad_entries = nullptr) {
  std::mt19937_64 rng(seed);
  DecodeData d;
  const int D = p.head_dim, H = p.heads_kv;
  const bool paged = p.page_size > 0;
  const int rows = paged ? p.page_size : p.max_seqlen_k;  // key rows per "page"
  int64_t page_elems = 0;
  switch (p.layout) {
    case CacheLayout::TokenMajor:
      d.k_stride[2] = D + p.cache_pad; d.k_stride[1] = int64_t(H) * d.k_stride[2];
      d.k_stride[0] = int64_t(rows) * d.k_stride[1] + p.cache_pad;
      page_elems = d.k_stride[0];
      break;
    case CacheLayout::HeadMajor:
      d.k_stride[1] = D + p.cache_pad; d.k_stride[2] = int64_t(rows) * d.k_stride[1];
      d.k_stride[0] = int64_t(H) * d.k_stride[2] + p.cache_pad;
      page_elems = d.k_stride[0];
      break;
    case CacheLayout::InterleavedKV:
      d.k_stride[2] = D + p.cache_pad; d.k_stride[1] = int64_t(H) * d.k_stride[2];
      d.k_stride[0] = 2 * int64_t(rows) * d.k_stride[1];  // K block then V block per page
      page_elems = d.k_stride[0];
      break;
  }
  for (int i = 0; i < 3; ++i) d.v_stride[i] = d.k_stride[i];
  if (paged) {
    d.mbps = (p.max_seqlen_k + p.page_size - 1) / p.page_size;
    d.num_pages = p.batch * d.mbps + p.extra_pages;
  } else {
    d.num_pages = p.batch;
  }
  const std::size_t total = std::size_t(int64_t(d.num_pages) * page_elems);
  d.kbuf.assign(total, kNaNBf16);
  if (p.layout == CacheLayout::InterleavedKV) {
    d.k_off = 0;
    d.v_off = int64_t(rows) * d.k_stride[1];
  } else {
    d.vbuf.assign(total, kNaNBf16);
  }
  // Page table: a random permutation of the pool; entries past a sequence's pages get junk
  // ids (never read by a correct kernel: their keys are past seqlens_k).
  if (paged) {
    std::vector<int32_t> perm(static_cast<std::size_t>(d.num_pages));
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    d.table.assign(std::size_t(p.batch) * d.mbps, 0);
    std::size_t next = 0;
    for (int b = 0; b < p.batch; ++b)
      for (int i = 0; i < d.mbps; ++i) {
        const bool used = int64_t(i) * p.page_size < p.len(b);
        d.table[std::size_t(b) * d.mbps + i] = used ? perm[next++] : (i % 2 ? -123456 : 0x7fffffff);
      }
    if (bad_entries) {  // ids just outside [0, num_pages) and far outside, both signs
      const int32_t junk[4] = {-1, d.num_pages, 0x7fffffff, -0x7fffffff - 1};
      for (std::size_t i = 0; i < bad_entries->size(); ++i)
        d.table[std::size_t((*bad_entries)[i])] = junk[i % 4];
    }
  }
  std::normal_distribution<double> nd(0.0, 1.0);
  uint16_t* vbase = d.vbuf.empty() ? d.kbuf.data() : d.vbuf.data();
  for (int b = 0; b < p.batch; ++b)
    for (int j = 0; j < p.len(b); ++j) {
      int64_t page = b, row = j;
      if (paged) {
        page = d.table[std::size_t(b) * d.mbps + j / p.page_size];
        row = j % p.page_size;
        if (page < 0 || page >= d.num_pages) continue;  // stays NaN: the kernel must read zeros
      }
      for (int h = 0; h < H; ++h) {
        const int64_t base = page * d.k_stride[0] + row * d.k_stride[1] + int64_t(h) * d.k_stride[2];
        for (int e = 0; e < D; ++e) {
          d.kbuf[std::size_t(d.k_off + base + e)] = ptxfmha::float_to_bf16(float(nd(rng)));
          vbase[std::size_t(d.v_off + base + e)] = ptxfmha::float_to_bf16(float(nd(rng)));
        }
      }
    }
  d.q = random_tensor(p.q, p.batch, p.seqlen_q, p.heads_q, p.head_dim, rng, 1.0);
  return d;
}

FwdReference reference(const DecodeProblem& p, const DecodeData& d) {
  ptxfmha::RefDecodeShape s;
  s.batch = p.batch; s.seqlen_q = p.seqlen_q; s.max_seqlen_k = p.max_seqlen_k;
  s.heads_q = p.heads_q; s.heads_kv = p.heads_kv; s.head_dim = p.head_dim;
  s.causal = p.causal; s.softmax_scale = double(p.softmax_scale());
  for (int i = 0; i < 3; ++i) {
    s.q_stride[i] = p.q.stride[i]; s.k_stride[i] = d.k_stride[i]; s.v_stride[i] = d.v_stride[i];
  }
  s.page_size = p.page_size; s.max_blocks_per_seq = d.mbps; s.num_pages = d.num_pages;
  const uint16_t* vbase = d.vbuf.empty() ? d.kbuf.data() : d.vbuf.data();
  FwdReference r;
  ptxfmha::reference_decode(s, d.q.data(), d.kbuf.data() + d.k_off, vbase + d.v_off, p.seqlens,
                            d.table, r.o, r.lse);
  return r;
}

// The FwdProblem view of the Q/O side, for gpu_util.h's evaluate()/within_bounds().
FwdProblem as_fwd(const DecodeProblem& p) {
  FwdProblem f;
  f.batch = p.batch; f.seqlen_q = p.seqlen_q; f.seqlen_k = p.max_seqlen_k;
  f.heads_q = p.heads_q; f.heads_kv = p.heads_kv; f.head_dim = p.head_dim; f.causal = p.causal;
  f.softmax_scale = p.softmax_scale(); f.with_lse = p.with_lse;
  f.q = p.q; f.o = p.o; f.k = p.q; f.v = p.q;
  return f;
}

class DecodeDeviceCase {
 public:
  DecodeDeviceCase(const DecodeProblem& p, const DecodeData& d) : p_(p), d_(d) {
    q_.alloc(p.q.elems * 2);
    kbuf_.alloc(d.kbuf.size() * 2);
    if (!d.vbuf.empty()) vbuf_.alloc(d.vbuf.size() * 2);
    o_.alloc(p.o.elems * 2);
    lse_.alloc(std::max<int64_t>(lse_elems(), 1) * 4);
    q_.upload(d.q);
    kbuf_.upload(d.kbuf);
    if (!d.vbuf.empty()) vbuf_.upload(d.vbuf);
    if (!p.seqlens.empty()) { seqlens_.alloc(p.seqlens.size() * 4); seqlens_.upload(p.seqlens); }
    if (!d.table.empty()) { table_.alloc(d.table.size() * 4); table_.upload(d.table); }
  }
  int64_t lse_elems() const { return int64_t(p_.batch) * p_.heads_q * p_.seqlen_q; }

  ptxfmha_decode_params params(CUstream stream = nullptr) const {
    ptxfmha_decode_params a;
    std::memset(&a, 0, sizeof a);
    a.q = q_.get();
    a.k_cache = reinterpret_cast<const uint16_t*>(kbuf_.get()) + d_.k_off;
    a.v_cache = reinterpret_cast<const uint16_t*>(d_.vbuf.empty() ? kbuf_.get() : vbuf_.get()) + d_.v_off;
    a.o = o_.get();
    a.lse = p_.with_lse ? reinterpret_cast<float*>(lse_.get()) : nullptr;
    a.seqlens_k = p_.seqlens.empty() ? nullptr : reinterpret_cast<const int32_t*>(seqlens_.get());
    a.block_table = d_.table.empty() ? nullptr : reinterpret_cast<const int32_t*>(table_.get());
    a.q_batch_stride = p_.q.stride[0]; a.q_seq_stride = p_.q.stride[1]; a.q_head_stride = p_.q.stride[2];
    a.k_batch_stride = d_.k_stride[0]; a.k_seq_stride = d_.k_stride[1]; a.k_head_stride = d_.k_stride[2];
    a.v_batch_stride = d_.v_stride[0]; a.v_seq_stride = d_.v_stride[1]; a.v_head_stride = d_.v_stride[2];
    a.o_batch_stride = p_.o.stride[0]; a.o_seq_stride = p_.o.stride[1]; a.o_head_stride = p_.o.stride[2];
    a.batch = p_.batch; a.seqlen_q = p_.seqlen_q; a.max_seqlen_k = p_.max_seqlen_k;
    a.heads_q = p_.heads_q; a.heads_kv = p_.heads_kv; a.head_dim = p_.head_dim;
    a.page_size = p_.page_size; a.max_blocks_per_seq = d_.mbps; a.num_pages = d_.num_pages;
    a.softmax_scale = p_.softmax_scale();
    a.causal = p_.causal ? 1 : 0;
    a.num_splits = p_.num_splits;
    a.workspace = ws_.bytes() ? ws_.get() : nullptr;
    a.workspace_bytes = ws_.bytes();
    a.stream = stream;
    return a;
  }
  // A named split row (the A/B hook, decode_with_overrides) instead of the library's choice.
  void set_overrides(const ptxfmha::DecodeOverrides& o) { ov_ = o; named_ = true; }
  // Sizes the workspace for the current params (REQUIREs success).
  uint64_t prepare_workspace() {
    ptxfmha_decode_params a = params();
    uint64_t bytes = 0;
    const ptxfmha_status st = named_ ? ptxfmha::decode_with_overrides(&a, ov_, false, &bytes)
                                     : ptxfmha_decode_workspace_size(&a, &bytes);
    REQUIRE_MESSAGE(st == PTXFMHA_OK, "ptxfmha_decode_workspace_size: " << ptxfmha_status_string(st)
                                          << ": " << ptxfmha_last_error() << " [" << describe(p_) << "]");
    if (bytes > 0 && ws_.bytes() < bytes) ws_.alloc(bytes);
    return bytes;
  }
  void poison(CUstream s = nullptr) {
    o_.fill16(kPoisonBf16, std::size_t(p_.o.elems), s);
    lse_.fill32(kPoisonF32, std::size_t(std::max<int64_t>(lse_elems(), 1)), s);
  }
  void download(FwdOutputs* out) const {
    o_.download(out->o, std::size_t(p_.o.elems));
    if (p_.with_lse) lse_.download(out->lse, std::size_t(lse_elems()));
    else out->lse.clear();
  }
  void run(FwdOutputs* out, CUstream stream = nullptr) {
    poison(stream);
    // the workspace too: nothing a call needs may survive from the call before (the _ho rows'
    // counters, the partials)
    if (ws_.bytes() > 0) ws_.fill32(kPoisonF32, std::size_t(ws_.bytes() / 4), stream);
    ptxfmha_decode_params a = params(stream);
    const ptxfmha_status st = named_ ? ptxfmha::decode_with_overrides(&a, ov_, true, nullptr) : ptxfmha_decode(&a);
    REQUIRE_MESSAGE(st == PTXFMHA_OK, "ptxfmha_decode: " << ptxfmha_status_string(st) << ": "
                                                         << ptxfmha_last_error() << " [" << describe(p_) << "]");
    PTXFMHA_CU_CHECK(cu().cuStreamSynchronize(stream));
    download(out);
  }
  DeviceBuffer& o_buffer() { return o_; }
  DeviceBuffer& lse_buffer() { return lse_; }
  DeviceBuffer& workspace() { return ws_; }

 private:
  DecodeProblem p_;
  const DecodeData& d_;
  DeviceBuffer q_, kbuf_, vbuf_, o_, lse_, seqlens_, table_, ws_;
  ptxfmha::DecodeOverrides ov_;
  bool named_ = false;
};

std::string kernel_key(const char* test, const DecodeProblem& p) {
  return std::string(test) + ": fmha_decode_d" + std::to_string(p.head_dim);
}

// Runs one case end to end; returns true when every figure held and two runs were equal.
// plan_out: the plan the call ran (ptxfmha::decode_plan of the same parameters).
// named (optional): the split row by name (decode_with_overrides), plan_out then its plan;
// out (optional): the first run's outputs.
bool check_case(const char* test, const DecodeProblem& p, uint64_t seed,
                std::vector<int32_t>* bad_entries = nullptr, ptxfmha::DecodePlan* plan_out = nullptr,
                const char* named = nullptr, FwdOutputs* out = nullptr) {
  const DecodeData d = make_data(p, seed, bad_entries);
  const FwdReference ref = reference(p, d);
  DecodeDeviceCase dc(p, d);
  ptxfmha::DecodeOverrides ov;
  ov.split_kernel = named;
  if (named != nullptr) dc.set_overrides(ov);
  dc.prepare_workspace();
  if (plan_out != nullptr) {
    const ptxfmha_decode_params a = dc.params();
    if (named != nullptr) {
      uint64_t bytes = 0;
      REQUIRE(ptxfmha::decode_with_overrides(&a, ov, false, &bytes, plan_out) == PTXFMHA_OK);
    } else {
      REQUIRE(ptxfmha::decode_plan(&a, plan_out) == PTXFMHA_OK);
    }
  }
  FwdOutputs first, second;
  dc.run(&first);
  dc.run(&second);
  const FwdProblem fp = as_fwd(p);
  const Tolerance tol;
  const FwdFigures f = evaluate(fp, first, ref, tol);
  record(kernel_key(test, p), fp, f);
  std::string why;
  const bool ok = within_bounds(fp, f, first, ref, tol, &why);
  const bool det = first == second;
  CHECK_MESSAGE(ok, test << " " << describe(p) << " seed " << seed << ": " << why << " [" << describe(f) << "]");
  CHECK_MESSAGE(det, test << " " << describe(p) << ": two launches differ bitwise");
  if (out != nullptr) *out = first;
  return ok && det;
}

}  // namespace

TEST_SUITE("gpu-decode") {

TEST_CASE("decode gpu: contiguous cache, head dims x GQA x query length x causal x lengths") {
  REQUIRE(ensure_context());
  uint64_t seed = 100;
  int failures = 0, cases = 0;
  for (int D : ptxfmha_test::kHeadDims)
    for (auto hh : {std::pair<int, int>{8, 8}, {16, 4}, {32, 8}, {16, 1}})
      for (int sq : {1, 4, 8})
        for (int causal : {0, 1})
          for (int L : {1, 65, 1000}) {
            DecodeProblem p = make_problem(2, sq, hh.first, hh.second, D, causal != 0, L);
            ++cases;
            if (!check_case("contiguous", p, ++seed)) ++failures;
          }
  MESSAGE("contiguous sweep: " << cases << " cases, " << failures << " failed");
}

TEST_CASE("decode gpu: every GQA ratio 1..16 with ragged lengths (1, 77, 300)") {
  REQUIRE(ensure_context());
  uint64_t seed = 2000;
  for (int r = 1; r <= 16; ++r)
    for (int sq : {1, 8}) {
      DecodeProblem p = make_problem(3, sq, 2 * r, 2, 128, true, 300);
      p.seqlens = {300, 1, 77};
      check_case("gqa", p, ++seed);
    }
}

TEST_CASE("decode gpu: paged caches, page sizes 16..256, shuffled pages, ragged lengths, layouts") {
  REQUIRE(ensure_context());
  uint64_t seed = 3000;
  for (int D : ptxfmha_test::kHeadDims)
    for (int P : ptxfmha_test::kPageSizes)
      for (CacheLayout lay : {CacheLayout::TokenMajor, CacheLayout::HeadMajor, CacheLayout::InterleavedKV}) {
        const int sq = (P / 16) % 2 ? 1 : 2;
        DecodeProblem p = make_problem(8, sq, 8, 2, D, (P + D) % 3 != 0, 2000, P);
        p.seqlens = {0, 1, P - 1, P + 1, 3 * P, 517, 2000, 1999};
        p.layout = lay;
        p.cache_pad = lay == CacheLayout::HeadMajor ? 8 : 0;
        check_case("paged", p, ++seed);
      }
}

TEST_CASE("decode gpu: forced split counts merge exactly (and the automatic choice)") {
  REQUIRE(ensure_context());
  uint64_t seed = 4000;
  // both merges: the workspace + combine kernel, and the cluster merge where the count allows
  for (const char* cluster : {"0", "1"}) {
  CAPTURE(cluster);
  ScopedDecodeCluster policy(cluster);
  for (int D : ptxfmha_test::kHeadDims)
    for (int splits : {0, 1, 2, 3, 5, 8, 13, 47}) {
      DecodeProblem p = make_problem(2, 2, 32, 8, D, true, 3000);
      p.seqlens = {3000, 1234};
      p.num_splits = splits;
      check_case("splits", p, ++seed);
    }
  // paged + splits whose boundaries fall inside pages
  for (int splits : {3, 7, 31}) {
    DecodeProblem p = make_problem(3, 3, 16, 2, 128, false, 1500, 256);
    p.seqlens = {1500, 700, 257};
    p.num_splits = splits;
    check_case("splits", p, ++seed);
  }
  }
}

// The cluster merge (the _cl rows): the num_splits CTAs of a (sequence, KV head, m-group) merge
// through distributed shared memory, no workspace, no combine kernel. Forced on
// (PTXFMHA_DECODE_CLUSTER=1) with requested split counts 2..16; every case checks that the
// plan ran the _cl row as a cluster of num_splits CTAs (counts above 8 only where the device
// keeps a non-portable cluster resident: reported, else the workspace path runs and is checked).
TEST_CASE("decode gpu: cluster merge, split counts 2..16 x GQA 1/4/8/16 x 1 and 4 tokens, empty and odd lengths, paged") {
  REQUIRE(ensure_context());
  ScopedDecodeCluster policy("1");
  uint64_t seed = 4500;
  int cases = 0, clustered = 0, failures = 0;
  auto run = [&](const DecodeProblem& p) {
    ptxfmha::DecodePlan plan;
    ++cases;
    if (!check_case("cluster", p, ++seed, nullptr, &plan)) ++failures;
    const bool cl = plan.cluster > 1;
    CAPTURE(describe(p));
    if (p.num_splits > 0) CHECK(plan.num_splits == p.num_splits);  // no trimming in this sweep
    if (cl) {
      ++clustered;
      CHECK(plan.cluster == plan.num_splits);
      CHECK(plan.workspace_bytes == 0u);
      CHECK(plan.combine_grid == 0u);
      REQUIRE(plan.split_row != nullptr);
      CHECK(ptxfmha::decode_row_cluster(plan.split_row));
    } else if (plan.num_splits >= 2 && plan.num_splits <= 8) {
      FAIL_CHECK("a portable cluster of " << plan.num_splits << " CTAs did not run as a cluster");
    }
  };
  for (int D : ptxfmha_test::kHeadDims)
    for (int splits : {2, 3, 5, 8, 11, 16})
      for (auto gq : {std::pair<int, int>{1, 1}, {4, 1}, {8, 4}, {16, 4}}) {
        // 2047 keys = 32 tiles: every requested count runs as asked (no trimming)
        DecodeProblem p = make_problem(3, gq.second, 2 * gq.first, 2, D, gq.second > 1, 2047);
        p.seqlens = {2047, 0, 333};  // odd, empty, shorter than most splits
        p.num_splits = splits;
        run(p);
      }
  for (int P : {16, 64})
    for (int splits : {4, 16}) {
      DecodeProblem p = make_problem(4, 2, 16, 2, 128, true, 2000, P);
      p.seqlens = {2000, 1, 0, 1111};
      p.num_splits = splits;
      run(p);
    }
  // the automatic split count under the forced policy (best count <= the cluster limit)
  for (int D : ptxfmha_test::kHeadDims) {
    DecodeProblem p = make_problem(1, 1, 32, 8, D, false, 4097);
    run(p);
  }
  MESSAGE("cluster sweep: " << cases << " cases, " << clustered << " ran as clusters, " << failures << " failed");
}

// The wide twin of the plain bf16 d64 row (_s3: 3 stages, 4 CTAs per SM) runs when the unsplit
// grid has a CTA for every SM (decode_prefers_wide_row); one sequence fewer runs the plain row.
// Both against the reference, ragged and empty lengths, contiguous and in pages of 16, causal
// with 4 tokens, and forced splits on the twin (its partials through the combine kernel).
TEST_CASE("decode gpu: the wide d64 twin where the unsplit grid covers the SMs, the plain row below") {
  REQUIRE(ensure_context());
  const int sms = gpu().info.num_sms;
  REQUIRE(sms > 0);
  const ptxfmha::KernelInfo* plain = ptxfmha::find_decode_split(gpu().info.sm, 64, 2, false);
  REQUIRE(plain != nullptr);
  const ptxfmha::KernelInfo* wide = ptxfmha::find_decode_wide(gpu().info.sm, plain);
  REQUIRE(wide != nullptr);
  uint64_t seed = 5200;
  const int hkv = 8, covering = (sms + hkv - 1) / hkv;  // batch x 8 KV heads >= sms
  for (int batch : {covering, covering - 1})
    for (int page : {0, 16})
      for (int splits : {0, 3}) {
        DecodeProblem p = make_problem(batch, page == 0 ? 1 : 4, 32, hkv, 64, page != 0, 300, page);
        p.seqlens.resize(std::size_t(batch));
        for (int b = 0; b < batch; ++b) p.seqlens[std::size_t(b)] = (b * 97 + 13) % 301;  // 0..300
        p.seqlens[0] = 0;
        p.num_splits = splits;
        ptxfmha::DecodePlan plan;
        check_case("wide twin", p, ++seed, nullptr, &plan);
        CAPTURE(describe(p));
        REQUIRE(plan.split_row != nullptr);
        const bool covers = int64_t(batch) * hkv >= sms;
        CHECK(plan.split_row == (covers ? wide : plain));
        if (splits > 0) CHECK(plan.num_splits == splits);
      }
}

TEST_CASE("decode gpu: more than 64 packed rows (several CTAs per KV head)") {
  REQUIRE(ensure_context());
  uint64_t seed = 5000;
  for (int D : ptxfmha_test::kHeadDims) {
    DecodeProblem p = make_problem(2, 8, 32, 2, D, true, 700);  // 8 tokens x GQA 16 = 128 rows
    p.seqlens = {700, 9};
    check_case("packed>64", p, ++seed);
  }
  DecodeProblem p = make_problem(1, 8, 64, 2, 64, true, 333);  // GQA 32: 256 rows, 4 CTAs
  check_case("packed>64", p, ++seed);
  p = make_problem(2, 5, 24, 2, 128, false, 400, 32);  // 5 x 12 = 60 rows: 4 m-tiles, 1 partial
  check_case("packed>64", p, ++seed);
}

// The warpgroup rows (_wg: one wgmma main loop for the CTA's rows, mainloop_wg.ptxh) run where a
// CTA holds 33..64 packed rows at head dims 64, 128 and 256 (sm90a; at 256 the QK wgmmas read Q
// from a Q tile in shared memory): 33 (GQA 11 x 3 tokens), 48, 64,
// 80 (a second m-group of 16 rows: the warpgroup computes 64 rows, 48 of them past the packed
// rows) and 128 rows; contiguous and in pages of 16 and 64 keys, causal and not, ragged lengths
// with empty, one-key and tile-edge sequences (the tail tile zeroes V's rows past the split end),
// unsplit, split (the combine kernel) and as a cluster (the _wg_cl row). The plan must name the
// _wg row (or its _wg_cl twin) wherever one exists, and on sm90a one exists at every head dim.
TEST_CASE("decode gpu: the warpgroup rows at 33..128 packed rows (ragged, paged, causal, split, cluster)") {
  REQUIRE(ensure_context());
  uint64_t seed = 5600;
  int cases = 0, failures = 0, ran_wg = 0;
  struct Shape { int sq, hq, hkv; };
  for (int D : ptxfmha_test::kHeadDims) {
    CAPTURE(D);
    const ptxfmha::KernelInfo* wg = ptxfmha::find_decode_split(gpu().info.sm, D, 2, false, 2, 64);
    const bool has_wg = ptxfmha::decode_row_wg(wg);
    if (gpu().info.sm == 90) CHECK(has_wg);
    for (Shape sh : {Shape{3, 22, 2}, Shape{3, 32, 2}, Shape{4, 32, 2}, Shape{5, 32, 2}, Shape{8, 32, 2}})
      for (int page : {0, 16, 64})
        for (int splits : {0, 3})
          for (int causal : {0, 1}) {
            DecodeProblem p = make_problem(3, sh.sq, sh.hq, sh.hkv, D, causal != 0, 700, page);
            p.seqlens = {700, causal ? 4 : 0, 64 + (sh.sq + splits + page) % 3 - 1};  // 63..65
            if (page == 64 && splits == 0) p.seqlens[1] = 1;
            p.num_splits = splits;
            ptxfmha::DecodePlan plan;
            ++cases;
            if (!check_case("wg", p, ++seed, nullptr, &plan)) ++failures;
            REQUIRE(plan.split_row != nullptr);
            CAPTURE(describe(p));
            CHECK(ptxfmha::decode_row_wg(plan.split_row) == has_wg);
            if (ptxfmha::decode_row_wg(plan.split_row)) ++ran_wg;
          }
    // forced cluster merges: the _wg_cl twin, 2 and 4 splits (16 tiles: no trimming)
    ScopedDecodeCluster policy("1");
    for (int splits : {2, 4}) {
      DecodeProblem p = make_problem(2, 4, 32, 2, D, true, 1000);
      p.seqlens = {1000, 129};
      p.num_splits = splits;
      ptxfmha::DecodePlan plan;
      ++cases;
      if (!check_case("wg cluster", p, ++seed, nullptr, &plan)) ++failures;
      REQUIRE(plan.split_row != nullptr);
      CHECK(plan.cluster == splits);
      CHECK(ptxfmha::decode_row_cluster(plan.split_row));
      CHECK(ptxfmha::decode_row_wg(plan.split_row) == has_wg);
    }
  }
  MESSAGE("warpgroup rows: " << cases << " cases, " << ran_wg << " planned on a _wg row, " << failures << " failed");
}

TEST_CASE("decode gpu: out-of-range page ids read as zeros; seqlens_k clamped") {
  REQUIRE(ensure_context());
  DecodeProblem p = make_problem(3, 2, 8, 4, 128, true, 500, 32);
  p.seqlens = {500, 260, 33};
  const int mbps = (500 + 31) / 32;
  std::vector<int32_t> bad = {1, 5, mbps + 3, 2 * mbps + 1};  // pages inside the lengths
  check_case("bad-page-ids", p, 6001, &bad);

  DecodeProblem c = make_problem(3, 1, 8, 8, 64, false, 300);
  c.seqlens = {-5, 100000, 17};  // clamped to 0, 300, 17
  check_case("seqlens-clamp", c, 6002);
  c.page_size = 64;
  check_case("seqlens-clamp", c, 6003);
}

TEST_CASE("decode gpu: padded Q/O layouts, no LSE, a non-default stream, custom scale") {
  REQUIRE(ensure_context());
  DecodeProblem p = make_problem(3, 3, 16, 4, 128, true, 900, 64);
  p.q = make_layout(3, 3, 16, 128, Order::BHSD, 8, 16, 32);
  p.o = make_layout(3, 3, 16, 128, Order::BSHD, 8, 8, 64);
  p.with_lse = false;
  p.scale = 0.05f;
  p.seqlens = {900, 450, 64};
  check_case("layouts", p, 7001);

  const DecodeData d = make_data(p, 7002);
  const FwdReference ref = reference(p, d);
  DecodeDeviceCase dc(p, d);
  dc.prepare_workspace();
  CUstream s = nullptr;
  PTXFMHA_CU_CHECK(cu().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  FwdOutputs out;
  dc.run(&out, s);
  const FwdProblem fp = as_fwd(p);
  std::string why;
  const FwdFigures f = evaluate(fp, out, ref);
  CHECK_MESSAGE(within_bounds(fp, f, out, ref, Tolerance(), &why), "stream run: " << why);
  cu().cuStreamDestroy(s);
}

TEST_CASE("decode gpu: errors found with a device leave the outputs untouched") {
  REQUIRE(ensure_context());
  DecodeProblem p = make_problem(1, 1, 32, 8, 128, false, 8192);
  p.num_splits = 8;
  const DecodeData d = make_data(p, 8001);
  DecodeDeviceCase dc(p, d);
  const uint64_t need = dc.prepare_workspace();
  REQUIRE(need > 0);
  auto expect = [&](ptxfmha_decode_params a, ptxfmha_status st, const char* needle) {
    dc.poison();
    PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
    CHECK(ptxfmha_decode(&a) == st);
    const std::string m = ptxfmha_last_error();
    CHECK_MESSAGE(m.find(needle) != std::string::npos, "message '" << m << "' does not name " << needle);
    PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
    FwdOutputs out;
    dc.download(&out);
    for (uint16_t x : out.o) REQUIRE(x == kPoisonBf16);
    for (float x : out.lse) {
      uint32_t bits;
      std::memcpy(&bits, &x, 4);
      REQUIRE(bits == kPoisonF32);
    }
  };
  ptxfmha_decode_params a = dc.params();
  a.workspace = nullptr; a.workspace_bytes = 0;
  expect(a, PTXFMHA_ERR_NULL_POINTER, "workspace");
  a = dc.params(); a.workspace_bytes = need - 4;
  expect(a, PTXFMHA_ERR_INVALID_ARGUMENT, "workspace_bytes");
  a = dc.params(); a.workspace = dc.o_buffer().get();  // overlaps o
  expect(a, PTXFMHA_ERR_ALIASING, "workspace");
  std::vector<uint16_t> host_q(128 * 32, 0);
  a = dc.params(); a.q = host_q.data();  // a pageable host pointer
  expect(a, PTXFMHA_ERR_INVALID_ARGUMENT, "q");
  a = dc.params(); a.head_dim = 96; a.q_head_stride = a.o_head_stride = 128;
  expect(a, PTXFMHA_ERR_UNSUPPORTED_HEAD_DIM, "head_dim = 96");
  // and the untouched params still work
  FwdOutputs out;
  dc.run(&out);
  const FwdReference ref = reference(p, d);
  std::string why;
  const FwdProblem fp = as_fwd(p);
  const FwdFigures f = evaluate(fp, out, ref);
  CHECK_MESSAGE(within_bounds(fp, f, out, ref, Tolerance(), &why), why);
}


// Small and odd decode shapes for compute-sanitizer (tools/gpu-check.sh runs every test case
// named "sanitizer shapes" under memcheck, racecheck, synccheck and initcheck): forced splits
// (split kernel + PDL combine), a paged cache with shuffled pages and ragged lengths, causal
// GQA with several query tokens, for every head dim.
// The _ho rows (chunks handed out at run time, ptx/body/sm90_decode/ho_on.ptxh), named: a
// unit's keys in chunks the plan fixes, taken by the unit's CTAs from a counter the host zeroes
// before each call. The workspace is poisoned before every run (DecodeDeviceCase::run), so a
// counter or a partial left by the run before fails the case. Empty chunks (a sequence of 0 keys,
// chunks past 777) and one-chunk plans are in the grid. The result must not depend on which CTA
// ran which chunk: the same 12 chunks over 12, 6, 4, 3, 2 and 1 CTAs per unit give the same bits.
TEST_CASE("decode gpu: chunks handed out at run time (_ho rows), any CTA count the same bits") {
  REQUIRE(ensure_context());
  const char* env = "PTXFMHA_DECODE_HO_CHUNKS";
  const char* old = std::getenv(env);
  const std::string saved = old != nullptr ? old : "";
  uint64_t seed = 9500;
  const std::string arch = gpu().info.sm >= 100 ? "sm100a" : "sm90a";
  struct Shape { int hq, hkv, sq, page; bool causal; };
  for (int D : ptxfmha_test::kHeadDims) {
    const std::string name = "fmha_decode_d" + std::to_string(D) + "_ho_" + arch;
    CAPTURE(name);
    for (const Shape s : {Shape{32, 8, 1, 64, false}, Shape{32, 8, 4, 0, true}, Shape{16, 16, 1, 16, false},
                          Shape{64, 4, 1, 256, true}})
      for (int splits : {1, 3, 8})
        for (const char* k : {"1", "3", "8"}) {
          ::setenv(env, k, 1);
          DecodeProblem p = make_problem(3, s.sq, s.hq, s.hkv, D, s.causal, 3000, s.page);
          p.seqlens = {3000, 0, 777};
          p.num_splits = splits;
          ptxfmha::DecodePlan plan;
          check_case("handout", p, ++seed, nullptr, &plan, name.c_str());
          CHECK(plan.ho_ctas == std::min(splits, plan.num_splits));
          // 47 tiles of 64 keys in min(47, CTAs x k) chunks of whole tiles, no empty one
          const int want = std::min(47, splits * std::atoi(k)), tpc = (47 + want - 1) / want;
          CHECK(plan.num_splits == (47 + tpc - 1) / tpc);
          CHECK(plan.split_keys % 64 == 0);
        }
    FwdOutputs base;
    for (int ctas : {12, 6, 4, 3, 2, 1}) {
      ::setenv(env, std::to_string(12 / ctas).c_str(), 1);
      DecodeProblem p = make_problem(2, 1, 32, 8, D, true, 12 * 5 * 64 - 30, 64);  // 60 tiles
      p.seqlens = {12 * 5 * 64 - 30, 1000};
      p.num_splits = ctas;
      FwdOutputs out;
      ptxfmha::DecodePlan plan;
      check_case("handout bits", p, 9999, nullptr, &plan, name.c_str(), &out);
      CHECK(plan.num_splits == 12);
      CHECK(plan.ho_ctas == ctas);
      if (ctas == 12) base = out;
      else CHECK_MESSAGE(out == base, name << ": " << ctas << " CTAs per unit differ from 12");
    }
    // more than one m-tile (20 packed rows): refused by name before any launch
    const DecodeProblem wide = make_problem(1, 5, 32, 8, D, false, 256);
    const DecodeData wd = make_data(wide, ++seed);
    DecodeDeviceCase dc(wide, wd);
    const ptxfmha_decode_params a = dc.params();
    ptxfmha::DecodeOverrides ov;
    ov.split_kernel = name.c_str();
    uint64_t bytes = 0;
    CHECK(ptxfmha::decode_with_overrides(&a, ov, false, &bytes) == PTXFMHA_ERR_INVALID_ARGUMENT);
    CHECK(std::strstr(ptxfmha_last_error(), "one m-tile") != nullptr);
  }
  if (old != nullptr) ::setenv(env, saved.c_str(), 1);
  else ::unsetenv(env);
}

TEST_CASE("decode gpu: sanitizer shapes (splits + combine, cluster merge, paged, ragged, causal GQA, wide d64 twin, wg rows, ho rows)" *
          doctest::test_suite("gpu-decode")) {
  REQUIRE(ensure_context());
  uint64_t seed = 9000;
  for (int D : ptxfmha_test::kHeadDims) {
    DecodeProblem split = make_problem(2, 1, 8, 2, D, false, 700);
    split.num_splits = 3;
    check_case("sanitizer", split, ++seed);
    DecodeProblem paged = make_problem(3, 2, 8, 4, D, true, 300, 32);
    paged.seqlens = {1, 33, 300};
    check_case("sanitizer", paged, ++seed);
    DecodeProblem gqa = make_problem(1, 4, 16, 1, D, true, 129);
    check_case("sanitizer", gqa, ++seed);
    // the cluster merge (distributed shared memory, two cluster barriers): a portable and,
    // where resident, a non-portable cluster; an empty sequence
    ScopedDecodeCluster policy("1");
    for (int splits : {3, 16}) {
      DecodeProblem cl = make_problem(3, 2, 8, 2, D, true, 1023);  // 16 tiles: 3 and 16 splits
      cl.seqlens = {1023, 0, 65};
      cl.num_splits = splits;
      check_case("sanitizer cluster", cl, ++seed);
    }
  }
  // the warpgroup rows (_wg, _wg_cl): 64 and 80 packed rows, split and paged, and a cluster
  for (int D : ptxfmha_test::kHeadDims) {
    DecodeProblem wg = make_problem(2, 5, 32, 2, D, true, 300, 16);  // 80 rows: two m-groups
    wg.seqlens = {300, 65};
    wg.num_splits = 2;
    check_case("sanitizer wg", wg, ++seed);
    ScopedDecodeCluster policy("1");
    DecodeProblem wcl = make_problem(2, 4, 32, 2, D, false, 500);
    wcl.seqlens = {500, 0};
    wcl.num_splits = 4;
    check_case("sanitizer wg cluster", wcl, ++seed);
  }
  // the _ho rows (named): chunks handed out at run time, paged with an empty sequence, causal
  // 4 tokens contiguous; 3 CTAs per unit taking 12 and 6 chunks
  const std::string arch = gpu().info.sm >= 100 ? "sm100a" : "sm90a";
  for (int D : ptxfmha_test::kHeadDims) {
    const std::string name = "fmha_decode_d" + std::to_string(D) + "_ho_" + arch;
    DecodeProblem ho = make_problem(3, 1, 32, 8, D, false, 777, 16);
    ho.seqlens = {777, 0, 65};
    ho.num_splits = 3;
    check_case("sanitizer ho", ho, ++seed, nullptr, nullptr, name.c_str());
    DecodeProblem hoc = make_problem(2, 4, 16, 4, D, true, 700);
    hoc.num_splits = 3;
    check_case("sanitizer ho", hoc, ++seed, nullptr, nullptr, name.c_str());
  }
  // the wide d64 twin (_s3, 4 CTAs per SM): a grid that covers the SMs, unsplit and split, paged
  const int covering = (gpu().info.num_sms + 7) / 8;
  for (int splits : {0, 2}) {
    DecodeProblem wide = make_problem(covering, 1, 16, 8, 64, true, 70, splits ? 16 : 0);
    wide.seqlens.assign(std::size_t(covering), 70);
    wide.seqlens[1] = 0;
    wide.seqlens[2] = 17;
    wide.num_splits = splits;
    ptxfmha::DecodePlan plan;
    check_case("sanitizer wide", wide, ++seed, nullptr, &plan);
    REQUIRE(plan.split_row != nullptr);
    CHECK(plan.split_row->smem_bytes < ptxfmha::find_decode_split(gpu().info.sm, 64, 2, false)->smem_bytes);
  }
}

}  // TEST_SUITE
