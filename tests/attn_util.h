// Test helpers of the extensible attention API (ptxfmha_attn, ptxfmha_decode_attn): problem
// descriptions with every feature, host data in every layout (fixed / packed / paged K/V,
// BSHD / BHSD), the float64 reference (ptxfmha::reference_attn), the evaluation of a device
// result against it, and the device runners with the missing-kernel switch.
//
// Host parts (AttnCase, make_attn_host, attn_reference, evaluate_attn, ...) need no device:
// tests/test_cpu_attn_util.cpp runs them on the CPU, so the evaluator is itself tested.
//
// ---- Missing-kernel switch (cannot silently stay on) --------------------------------------
// Where no kernel implements a feature (sm_100a until the two-tile kernels of issue 13; decode
// until decode17's kernels), a valid call with it returns PTXFMHA_ERR_UNSUPPORTED_FEATURE.
// A GPU case reports "skipped: no kernel for <features>"
// (counted per reason, printed per test case and at exit) only when
//   - the status is exactly UNSUPPORTED_FEATURE, and
//   - none of the case's features is in expected_attn_features(sm) (decode: the decode
//     table) -- what this file says the kernel table implements, and
//   - PTXFMHA_ATTN_REQUIRE_KERNELS is not set to 1.
// Any other status fails. test_cpu_attn_util.cpp checks on the CPU that these expectations
// equal ptxfmha::attn_supported_features() for every arch: when phase 2 adds feature rows the
// CPU test fails until the expectations here are raised, and from then on an
// UNSUPPORTED_FEATURE for those features is a failure, not a skip.
#pragma once
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <mutex>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "attn.h"
#include "gpu_util.h"
#include "ptxfmha/ptxfmha.h"
#include "ptxfmha/reference.h"

namespace ptxfmha_test {

// ---- expectations ---------------------------------------------------------------------------
// Feature bits (host/src/attn_kernel_abi.h) the kernel table implements per architecture.
// sm_90a: every feature (fmha_fwd_d*_{ext,paged}_sm90a); sm_100a: every feature too, in the
// two-tile kernels' EXT rows (fmha_fwd_d*_ext_sm100a; seqused_k and paged K/V since issue 14's
// V tail fix). Raise together with the kernels (see the header comment).
inline uint32_t expected_attn_features(int sm) {
  if (sm == 90 || sm == 100) return ptxfmha::kAttnAllFeatures;
  return 0u;
}
// Decode (issue 14, phase 2): the _attn split and _sink combine kernels of sm90a and sm100a.
inline uint32_t expected_decode_attn_features(int sm) {
  // sm_90a and sm_100a (cc 10.0 only: other 10.x get UNSUPPORTED_ARCH, context.h arch_for_cc)
  return sm == 90 || sm == 100 ? ptxfmha::kDecodeAttnFeatures : 0u;
}

// ---- skip registry --------------------------------------------------------------------------
struct AttnSkips {
  std::mutex mutex;
  std::map<std::string, long long> by_reason;
  long long total = 0;
  ~AttnSkips() {  // at exit, after doctest's report
    if (total == 0) return;
    std::printf("[ptxfmha-tests] attn: %lld GPU cases SKIPPED for missing feature kernels "
                "(PTXFMHA_ERR_UNSUPPORTED_FEATURE; PTXFMHA_ATTN_REQUIRE_KERNELS=1 makes them failures):\n",
                total);
    for (const auto& kv : by_reason)
      std::printf("[ptxfmha-tests]   %6lld  %s\n", kv.second, kv.first.c_str());
    std::fflush(stdout);
  }
};
inline AttnSkips& attn_skips() {
  static AttnSkips s;
  return s;
}
inline long long attn_skip_count() {
  AttnSkips& s = attn_skips();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.total;
}

enum class MissingKernel { No, Skipped, Failed };

// What a status means for a GPU case: No (not UNSUPPORTED_FEATURE: the caller checks it),
// Skipped (recorded and counted), or Failed (UNSUPPORTED_FEATURE where a skip is not
// allowed; FAIL_CHECK names why).
inline MissingKernel skip_for_missing_kernel(ptxfmha_status st, uint32_t features, bool decode, int sm,
                                             const std::string& what) {
  if (st != PTXFMHA_ERR_UNSUPPORTED_FEATURE) return MissingKernel::No;
  const std::string msg = ptxfmha_last_error();
  const uint32_t expected = decode ? expected_decode_attn_features(sm) : expected_attn_features(sm);
  if (features == 0) {
    FAIL_CHECK(what << ": UNSUPPORTED_FEATURE for a call without features: " << msg);
    return MissingKernel::Failed;
  }
  // A skip needs a feature the table is not expected to implement (a case mixing implemented
  // and missing features is skipped for the missing one; none is missing on sm_90a and sm_100a).
  if ((features & ~expected) == 0) {
    FAIL_CHECK(what << ": UNSUPPORTED_FEATURE for " << ptxfmha::attn_feature_names(features)
                    << ", which the kernel table is expected to implement on sm_" << sm << ": " << msg);
    return MissingKernel::Failed;
  }
  if (env_or("PTXFMHA_ATTN_REQUIRE_KERNELS", "0") == "1") {
    FAIL_CHECK(what << ": PTXFMHA_ATTN_REQUIRE_KERNELS=1 and the library has no kernel: " << msg);
    return MissingKernel::Failed;
  }
  AttnSkips& s = attn_skips();
  std::lock_guard<std::mutex> lock(s.mutex);
  ++s.total;
  ++s.by_reason[std::string(decode ? "decode: " : "prefill: ") + ptxfmha::attn_feature_names(features & ~expected) +
                " on sm_" + std::to_string(sm)];
  return MissingKernel::Skipped;
}

// ---- problems ---------------------------------------------------------------------------------
struct AttnCase {
  int heads_q = 4, heads_kv = 4, head_dim = 128;
  std::vector<int> lq, lk;   // per sequence: query rows and keys (the cap); batch = lq.size()
  std::vector<int> used;     // optional seqused_k (any values: the kernels clamp)
  bool varlen_q = false;     // packed Q / O / LSE with cu_seqlens_q (else all lq equal)
  bool varlen_k = false;     // packed K / V with cu_seqlens_k (else all lk equal)
  int page_size = 0;         // > 0: paged K / V (varlen_k must be false)
  int extra_pages = 3;       // pages no table entry names (NaN filled)
  bool causal = false;
  int window_left = -1, window_right = -1;
  float softcap = 0;
  std::vector<float> sinks, slopes;  // empty or heads_q entries
  Order q_order = Order::BSHD, kv_order = Order::BSHD;
  int row_pad = 0;           // padding elements after each (row, head) of Q and O (multiple of 8)
  bool with_lse = true;
  float scale = 0;           // 0: 1/sqrt(head_dim)
  // Garbage metadata (tests of clamping): replaces the computed arrays when non-empty.
  std::vector<int32_t> cu_q_override, cu_k_override, table_override;

  int batch() const { return static_cast<int>(lq.size()); }
  float softmax_scale() const {
    return scale > 0 ? scale : static_cast<float>(1.0 / std::sqrt(double(head_dim)));
  }
  int len_k_used(int b) const {  // keys actually present (host view, valid metadata)
    const int cap = lk[std::size_t(b)];
    return used.empty() ? cap : std::max(0, std::min(used[std::size_t(b)], cap));
  }
};

// ALiBi slopes of the usual geometric sequence 2^(-8 (h + 1) / heads).
inline std::vector<float> alibi_slopes(int heads) {
  std::vector<float> s(static_cast<std::size_t>(heads));
  for (int h = 0; h < heads; ++h) s[std::size_t(h)] = static_cast<float>(std::pow(2.0, -8.0 * (h + 1) / heads));
  return s;
}

// A case with `lens` query rows and keys per sequence (equal), fixed layouts when every length
// is equal and varlen is false.
inline AttnCase attn_case(std::vector<int> lq, std::vector<int> lk, int hq, int hkv, int d) {
  AttnCase c;
  c.lq = std::move(lq);
  c.lk = std::move(lk);
  c.heads_q = hq;
  c.heads_kv = hkv;
  c.head_dim = d;
  return c;
}

inline uint32_t attn_case_features(const AttnCase& c) {
  uint32_t f = 0;
  if (c.varlen_q) f |= ptxfmha::kAttnVarlenQ;
  if (c.varlen_k) f |= ptxfmha::kAttnVarlenK;
  if (c.page_size > 0) f |= ptxfmha::kAttnPagedKV;
  if (!c.used.empty()) f |= ptxfmha::kAttnSequsedK;
  const int max_q = c.lq.empty() ? 0 : *std::max_element(c.lq.begin(), c.lq.end());
  const int max_k = c.lk.empty() ? 0 : *std::max_element(c.lk.begin(), c.lk.end());
  if (ptxfmha::canonical_window(c.causal, c.window_left, c.window_right, max_q, max_k).is_feature())
    f |= ptxfmha::kAttnWindow;
  if (c.softcap > 0) f |= ptxfmha::kAttnSoftcap;
  if (!c.sinks.empty()) f |= ptxfmha::kAttnSinks;
  if (!c.slopes.empty()) f |= ptxfmha::kAttnAlibi;
  return f;
}

inline std::string describe(const AttnCase& c) {
  std::ostringstream s;
  auto list = [&s](const char* n, const std::vector<int>& v) {
    s << " " << n << "={";
    for (std::size_t i = 0; i < v.size() && i < 10; ++i) s << (i ? "," : "") << v[i];
    s << (v.size() > 10 ? ",...}" : "}");
  };
  s << "B=" << c.batch() << " Hq=" << c.heads_q << " Hkv=" << c.heads_kv << " D=" << c.head_dim;
  list(c.varlen_q ? "lq(varlen)" : "lq", c.lq);
  list(c.varlen_k ? "lk(varlen)" : "lk", c.lk);
  if (!c.used.empty()) list("seqused_k", c.used);
  if (c.page_size) s << " page=" << c.page_size;
  s << " causal=" << int(c.causal) << " window=(" << c.window_left << "," << c.window_right << ")";
  if (c.softcap > 0) s << " softcap=" << c.softcap;
  if (!c.sinks.empty()) s << " sink[0]=" << c.sinks[0];
  if (!c.slopes.empty()) s << " alibi[0]=" << c.slopes[0];
  s << " q:" << (c.q_order == Order::BSHD ? "BSHD" : "BHSD") << " kv:" << (c.kv_order == Order::BSHD ? "BSHD" : "BHSD");
  if (c.row_pad) s << " row_pad=" << c.row_pad;
  if (!c.with_lse) s << " lse=none";
  if (!c.cu_q_override.empty() || !c.cu_k_override.empty() || !c.table_override.empty()) s << " garbage-metadata";
  s << " scale=" << c.softmax_scale();
  return s.str();
}

// ---- host data --------------------------------------------------------------------------------
constexpr uint16_t kNaNBf16 = 0x7FC1;  // cells no call may read (K/V past the used keys, spare pages)

struct AttnHost {
  Layout q, k, v, o;                     // q / o: [B, Sq, Hq, D] or packed [1, total_q, Hq, D];
                                         // k / v: [B, Sk, Hkv, D], packed, or the page pool
  std::vector<uint16_t> hq, hk, hv;
  std::vector<int32_t> cu_q, cu_k, seqused, table;  // empty when unused
  int seqlen_q = 0, seqlen_k = 0, total_q = 0, total_k = 0, max_q = 0, max_k = 0;
  int mbps = 0, num_pages = 0;
  int64_t q_rows = 0;                    // output rows: B * Sq or total_q
  ptxfmha::RefAttnProblem ref;           // the same problem for ptxfmha::reference_attn
};

inline Layout packed_layout(int total, int heads, int d, Order order, int pad = 0) {
  if (total == 0) return Layout{};
  Layout l = make_layout(1, total, heads, d, order, pad);
  l.stride[0] = 0;
  return l;
}

// fill == false: layouts, metadata and the reference problem only, no tensor data (for
// host-only checks of the parameter blocks; the table then differs from a filled build).
inline AttnHost make_attn_host(const AttnCase& c, uint64_t seed, bool fill = true) {
  REQUIRE(c.lq.size() == c.lk.size());
  REQUIRE((c.varlen_q || std::all_of(c.lq.begin(), c.lq.end(), [&](int x) { return x == c.lq[0]; })));
  REQUIRE((c.varlen_k || std::all_of(c.lk.begin(), c.lk.end(), [&](int x) { return x == c.lk[0]; })));
  REQUIRE(!(c.varlen_k && c.page_size > 0));
  std::mt19937_64 rng(seed);
  AttnHost h;
  const int B = c.batch(), D = c.head_dim;
  h.max_q = c.lq.empty() ? 0 : *std::max_element(c.lq.begin(), c.lq.end());
  h.max_k = c.lk.empty() ? 0 : *std::max_element(c.lk.begin(), c.lk.end());
  // Q / O
  if (c.varlen_q) {
    h.cu_q.push_back(0);
    for (int x : c.lq) h.cu_q.push_back(h.cu_q.back() + x);
    h.total_q = h.cu_q.back();
    h.q = packed_layout(h.total_q, c.heads_q, D, c.q_order, c.row_pad);
    h.o = packed_layout(h.total_q, c.heads_q, D, c.q_order, c.row_pad);
    if (fill && h.total_q) h.hq = random_tensor(h.q, 1, h.total_q, c.heads_q, D, rng, 1.0);
    h.q_rows = h.total_q;
    if (!c.cu_q_override.empty()) h.cu_q = c.cu_q_override;
  } else {
    h.seqlen_q = h.max_q;
    h.q = make_layout(B, h.seqlen_q, c.heads_q, D, c.q_order, c.row_pad);
    h.o = make_layout(B, h.seqlen_q, c.heads_q, D, c.q_order, c.row_pad);
    if (fill) h.hq = random_tensor(h.q, B, h.seqlen_q, c.heads_q, D, rng, 1.0);
    h.q_rows = int64_t(B) * h.seqlen_q;
  }
  // K / V
  if (c.varlen_k) {
    h.cu_k.push_back(0);
    for (int x : c.lk) h.cu_k.push_back(h.cu_k.back() + x);
    h.total_k = h.cu_k.back();
    h.k = packed_layout(h.total_k, c.heads_kv, D, c.kv_order);
    h.v = packed_layout(h.total_k, c.heads_kv, D, c.kv_order);
    if (fill && h.total_k) {
      h.hk = random_tensor(h.k, 1, h.total_k, c.heads_kv, D, rng, 1.0);
      h.hv = random_tensor(h.v, 1, h.total_k, c.heads_kv, D, rng, 1.0);
    }
    for (int b = 0; fill && b < B; ++b)  // keys past seqused_k: nobody may read them
      for (int j = c.len_k_used(b); j < c.lk[std::size_t(b)]; ++j)
        for (int hh = 0; hh < c.heads_kv; ++hh)
          for (int d = 0; d < D; ++d) {
            h.hk[std::size_t(elem_index(h.k, 0, h.cu_k[std::size_t(b)] + j, hh, d))] = kNaNBf16;
            h.hv[std::size_t(elem_index(h.v, 0, h.cu_k[std::size_t(b)] + j, hh, d))] = kNaNBf16;
          }
    if (!c.cu_k_override.empty()) h.cu_k = c.cu_k_override;
  } else if (c.page_size > 0) {
    h.seqlen_k = h.max_k;
    const int ps = c.page_size;
    h.mbps = std::max(1, (h.seqlen_k + ps - 1) / ps) + 1;  // one spare column (garbage id)
    std::vector<int> need(static_cast<std::size_t>(B));
    int pages = c.extra_pages;
    for (int b = 0; b < B; ++b) pages += need[std::size_t(b)] = (c.len_k_used(b) + ps - 1) / ps;
    h.num_pages = std::max(1, pages);
    std::vector<int32_t> perm(std::size_t(h.num_pages));
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    h.k = make_layout(h.num_pages, ps, c.heads_kv, D, c.kv_order);
    h.v = make_layout(h.num_pages, ps, c.heads_kv, D, c.kv_order);
    if (fill) {
      h.hk.assign(std::size_t(h.k.elems), kNaNBf16);
      h.hv.assign(std::size_t(h.v.elems), kNaNBf16);
    }
    std::normal_distribution<double> nd(0.0, 1.0);
    h.table.assign(std::size_t(B) * h.mbps, 0);
    std::size_t next = 0;
    for (int b = 0; b < B; ++b) {
      for (int i = 0; i < h.mbps; ++i) {
        int32_t id;
        if (i < need[std::size_t(b)]) id = perm[next++];
        else id = (i % 2) ? -1 : h.num_pages + 7;  // never read: past the sequence's pages
        h.table[std::size_t(b) * h.mbps + i] = id;
        if (!fill || i >= need[std::size_t(b)]) continue;
        for (int r = 0; r < ps && i * ps + r < c.len_k_used(b); ++r)
          for (int hh = 0; hh < c.heads_kv; ++hh)
            for (int d = 0; d < D; ++d) {
              h.hk[std::size_t(elem_index(h.k, id, r, hh, d))] = ptxfmha::float_to_bf16(float(nd(rng)));
              h.hv[std::size_t(elem_index(h.v, id, r, hh, d))] = ptxfmha::float_to_bf16(float(nd(rng)));
            }
      }
    }
  } else {
    h.seqlen_k = h.max_k;
    h.k = make_layout(B, h.seqlen_k, c.heads_kv, D, c.kv_order);
    h.v = make_layout(B, h.seqlen_k, c.heads_kv, D, c.kv_order);
    if (fill) {
      h.hk = random_tensor(h.k, B, h.seqlen_k, c.heads_kv, D, rng, 1.0);
      h.hv = random_tensor(h.v, B, h.seqlen_k, c.heads_kv, D, rng, 1.0);
    }
    for (int b = 0; fill && b < B; ++b)
      for (int j = c.len_k_used(b); j < h.seqlen_k; ++j)
        for (int hh = 0; hh < c.heads_kv; ++hh)
          for (int d = 0; d < D; ++d) {
            h.hk[std::size_t(elem_index(h.k, b, j, hh, d))] = kNaNBf16;
            h.hv[std::size_t(elem_index(h.v, b, j, hh, d))] = kNaNBf16;
          }
  }
  if (!c.used.empty()) h.seqused.assign(c.used.begin(), c.used.end());
  if (!c.table_override.empty()) {
    REQUIRE(c.table_override.size() == h.table.size());
    h.table = c.table_override;
  }

  ptxfmha::RefAttnProblem& r = h.ref;
  r.batch = B; r.heads_q = c.heads_q; r.heads_kv = c.heads_kv; r.head_dim = D;
  r.softmax_scale = double(c.softmax_scale());
  r.causal = c.causal; r.window_left = c.window_left; r.window_right = c.window_right;
  r.softcap = double(c.softcap);
  r.sink_logits = c.sinks; r.alibi_slopes = c.slopes;
  r.seqlen_q = h.seqlen_q; r.cu_seqlens_q = h.cu_q; r.max_seqlen_q = c.varlen_q ? h.max_q : 0; r.total_q = h.total_q;
  r.seqlen_k = h.seqlen_k; r.cu_seqlens_k = h.cu_k; r.max_seqlen_k = c.varlen_k ? h.max_k : 0; r.total_k = h.total_k;
  r.seqused_k = h.seqused;
  r.block_table = h.table; r.page_size = c.page_size; r.max_blocks_per_seq = h.mbps; r.num_pages = h.num_pages;
  for (int i = 0; i < 3; ++i) {
    r.q_stride[i] = h.q.stride[i];
    r.k_stride[i] = h.k.stride[i];
    r.v_stride[i] = h.v.stride[i];
  }
  return h;
}

// Rows of large problems the reference computes (the GPU suites' time goes into the float64
// reference): when q_rows x max len_k x heads_q x head_dim exceeds `budget` (about 0.3 s of
// the reference on a 16-core host), the first and last 160 rows of every sequence (m-block
// edges, partial tiles, the window's ends) and every s-th row in between, s chosen to meet the
// budget, offset by the seed. The other rows are still checked for being written, finite, 0
// where they see no key, with LSE -inf exactly where expected (evaluate_attn). Cases with
// garbage offsets are small and computed whole.
inline void sample_reference_rows(const AttnCase& c, AttnHost* h, uint64_t seed, double budget = 3e9) {
  h->ref.row_mask.clear();
  if (!c.cu_q_override.empty()) return;
  const double work = double(h->q_rows) * std::max(h->max_k, 1) * c.heads_q * c.head_dim;
  if (work <= budget) return;
  const int64_t stride = static_cast<int64_t>(std::ceil(work / budget));
  h->ref.row_mask.assign(std::size_t(h->q_rows), 0);
  constexpr int kEdge = 160;
  int64_t row0 = 0;
  for (int b = 0; b < c.batch(); ++b) {
    const int len = c.varlen_q ? c.lq[std::size_t(b)] : h->seqlen_q;
    for (int i = 0; i < len; ++i) {
      const int64_t r = row0 + i;
      const bool edge = i < kEdge || i >= len - kEdge;
      h->ref.row_mask[std::size_t(r)] = edge || (r + int64_t(seed % uint64_t(stride))) % stride == 0;
    }
    row0 += len;
  }
}

inline ptxfmha::RefAttnResult attn_reference(const AttnHost& h) {
  ptxfmha::RefAttnResult r;
  static const uint16_t kEmpty[8] = {0};
  ptxfmha::reference_attn(h.ref, h.hq.empty() ? kEmpty : h.hq.data(), h.hk.empty() ? kEmpty : h.hk.data(),
                          h.hv.empty() ? kEmpty : h.hv.data(), &r);
  return r;
}

// ---- evaluation -------------------------------------------------------------------------------
struct AttnOutputs {
  std::vector<uint16_t> o;  // raw O buffer (o.elems), padding included
  std::vector<float> lse;   // q_rows * heads_q, empty when !with_lse
  bool operator==(const AttnOutputs& b) const {
    return o.size() == b.o.size() && lse.size() == b.lse.size() &&
           std::memcmp(o.data(), b.o.data(), o.size() * sizeof(uint16_t)) == 0 &&
           std::memcmp(lse.data(), b.lse.data(), lse.size() * sizeof(float)) == 0;
  }
};

struct AttnFigures {
  ptxfmha::ErrorStats o;           // over the rows exactly one sequence writes
  long long rows_checked = 0;
  long long unwritten = 0;         // O elements of such rows still poisoned
  long long o_nonfinite = 0;       // NaN / Inf in those rows (poison included)
  long long ghost_written = 0;     // O / LSE elements of rows no sequence owns that changed
  long long pad_clobbered = 0;     // O buffer elements outside the tensor that changed
  long long empty_row_nonzero = 0; // O of a row that sees no key is not exactly 0
  long long lse_unwritten = 0, lse_nonfinite = 0, lse_inf_mismatch = 0;
  double lse_max_abs = 0;
  long long lse_first_bad = -1;    // LSE index
  long long o_first_bad = -1;      // dense reference O index
};

// The device O element of dense reference O index i (row * Hq * D + h * D + d).
inline int64_t attn_o_elem(const AttnCase& c, const AttnHost& h, long long i) {
  const long long d = i % c.head_dim, r = i / c.head_dim;
  const long long hh = r % c.heads_q, row = r / c.heads_q;
  if (c.varlen_q) return elem_index(h.o, 0, int(row), int(hh), int(d));
  return elem_index(h.o, int(row / h.seqlen_q), int(row % h.seqlen_q), int(hh), int(d));
}

// "(seq b, row i of it, packed row r, head h, d)" of a dense reference O index.
inline std::string attn_o_position(const AttnCase& c, const AttnHost& h, long long i) {
  if (i < 0) return "-";
  const long long d = i % c.head_dim, r = i / c.head_dim;
  const long long hh = r % c.heads_q, row = r / c.heads_q;
  long long b = 0, in = row;
  if (c.varlen_q) {
    for (std::size_t s = 0; s + 1 < h.cu_q.size(); ++s)
      if (row >= h.cu_q[s] && row < h.cu_q[s + 1]) { b = (long long)s; in = row - h.cu_q[s]; break; }
  } else {
    b = row / h.seqlen_q;
    in = row % h.seqlen_q;
  }
  std::ostringstream s;
  s << "(seq " << b << " row " << in << (c.varlen_q ? " packed row " + std::to_string(row) : std::string())
    << " head " << hh << " d " << d << ")";
  return s.str();
}
// LSE index -> (head, row).
inline std::string attn_lse_position(const AttnCase& c, const AttnHost& h, long long i) {
  if (i < 0) return "-";
  if (c.varlen_q) return "(head " + std::to_string(i / h.total_q) + " packed row " + std::to_string(i % h.total_q) + ")";
  const long long s = i % h.seqlen_q, r = i / h.seqlen_q;
  return "(seq " + std::to_string(r / c.heads_q) + " head " + std::to_string(r % c.heads_q) + " row " +
         std::to_string(s) + ")";
}

inline AttnFigures evaluate_attn(const AttnCase& c, const AttnHost& h, const ptxfmha::RefAttnResult& ref,
                                 const AttnOutputs& got, const Tolerance& tol = Tolerance()) {
  AttnFigures f;
  const int D = c.head_dim, H = c.heads_q;
  std::vector<char> inside(std::size_t(h.o.elems), 0);
  std::vector<double> g, rr;
  std::vector<long long> dense_index;  // positions of g/rr in the dense reference
  const bool any_sink = !c.sinks.empty();
  for (int64_t row = 0; row < h.q_rows; ++row) {
    const uint8_t writers = ref.writers[std::size_t(row)];
    // Rows the reference skipped (sample_reference_rows): every check but the values.
    const bool sampled = h.ref.row_mask.empty() || h.ref.row_mask[std::size_t(row)] != 0;
    for (int hh = 0; hh < H; ++hh) {
      const std::size_t lse_i = c.varlen_q ? std::size_t(hh) * h.total_q + row
                                           : (std::size_t(row / h.seqlen_q) * H + hh) * h.seqlen_q + row % h.seqlen_q;
      const bool empty_row = writers == 1 && ref.visible[std::size_t(row)] == 0;
      for (int d = 0; d < D; ++d) {
        const long long di = (row * H + hh) * (long long)D + d;
        const int64_t e = attn_o_elem(c, h, di);
        inside[std::size_t(e)] = 1;
        const uint16_t bits = got.o[std::size_t(e)];
        if (writers == 0) {
          if (bits != kPoisonBf16) ++f.ghost_written;
          continue;
        }
        if (writers > 1) continue;  // overlapping sequences (invalid metadata): unspecified
        const double x = ptxfmha::bf16_to_float(bits);
        if (bits == kPoisonBf16) ++f.unwritten;
        if (!std::isfinite(x)) ++f.o_nonfinite;
        if (empty_row && x != 0.0) ++f.empty_row_nonzero;
        if (!sampled) continue;
        g.push_back(x);
        rr.push_back(ref.o[std::size_t(di)]);
        dense_index.push_back(di);
      }
      if (!c.with_lse) continue;
      const float gl = got.lse[lse_i];
      uint32_t lbits;
      std::memcpy(&lbits, &gl, 4);
      if (writers == 0) {
        if (lbits != kPoisonF32) ++f.ghost_written;
        continue;
      }
      if (writers > 1) continue;
      if (lbits == kPoisonF32) ++f.lse_unwritten;
      // The LSE of a skipped row is -inf exactly when it sees no key and has no sink.
      const double rl = sampled ? ref.lse[lse_i]
                                : (ref.visible[std::size_t(row)] == 0 && !any_sink ? -INFINITY : 0.0 /* finite */);
      if (std::isinf(rl)) {
        if (!(std::isinf(gl) && gl < 0)) {
          ++f.lse_inf_mismatch;
          if (f.lse_first_bad < 0) f.lse_first_bad = (long long)lse_i;
        }
        continue;
      }
      if (!std::isfinite(gl)) {
        ++f.lse_nonfinite;
        if (f.lse_first_bad < 0) f.lse_first_bad = (long long)lse_i;
        continue;
      }
      if (!sampled) continue;
      const double err = std::fabs(double(gl) - rl);
      f.lse_max_abs = std::max(f.lse_max_abs, err);
      if (err > tol.lse_abs + tol.lse_rel * std::fabs(rl) && f.lse_first_bad < 0) f.lse_first_bad = (long long)lse_i;
    }
    f.rows_checked += writers == 1;
  }
  for (std::size_t i = 0; i < inside.size(); ++i)
    if (!inside[i] && got.o[i] != kPoisonBf16) ++f.pad_clobbered;
  f.o = ptxfmha::compare(g.data(), rr.data(), g.size(), tol.elem_abs, tol.elem_rel);
  f.o_first_bad = f.o.first_bad >= 0 ? dense_index[std::size_t(f.o.first_bad)] : -1;
  return f;
}

inline std::string describe(const AttnFigures& f) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "rows=%lld max_abs=%.3e rel_l2=%.3e cos=%.7f lse_max_abs=%.3e", f.rows_checked,
                f.o.max_abs, f.o.rel_l2, f.o.cosine, f.lse_max_abs);
  std::string s = buf;
  const std::pair<const char*, long long> counts[] = {
      {"unwritten", f.unwritten},         {"o_nonfinite", f.o_nonfinite},     {"ghost_written", f.ghost_written},
      {"pad_clobbered", f.pad_clobbered}, {"empty_row_nonzero", f.empty_row_nonzero},
      {"lse_unwritten", f.lse_unwritten}, {"lse_nonfinite", f.lse_nonfinite}, {"lse_inf_mismatch", f.lse_inf_mismatch}};
  for (const auto& kv : counts)
    if (kv.second) s += std::string(" ") + kv.first + "=" + std::to_string(kv.second);
  return s;
}

inline bool attn_within_bounds(const AttnCase& c, const AttnHost& h, const AttnFigures& f, const AttnOutputs& got,
                               const ptxfmha::RefAttnResult& ref, const Tolerance& tol, std::string* why) {
  std::ostringstream s;
  if (f.unwritten) s << f.unwritten << " O elements never written; ";
  if (f.o_nonfinite) s << f.o_nonfinite << " O elements NaN/Inf; ";
  if (f.ghost_written) s << f.ghost_written << " O/LSE elements of rows no sequence owns were written; ";
  if (f.pad_clobbered) s << f.pad_clobbered << " O padding elements overwritten; ";
  if (f.empty_row_nonzero) s << f.empty_row_nonzero << " O elements of rows that see no key are not 0; ";
  if (f.rows_checked > 0) {
    if (!(f.o.rel_l2 <= tol.rel_l2)) s << "rel_l2 " << f.o.rel_l2 << " > " << tol.rel_l2 << "; ";
    if (!(f.o.cosine >= tol.cosine)) s << "cosine " << f.o.cosine << " < " << tol.cosine << "; ";
  }
  if (f.o_first_bad >= 0)
    s << "first O element over |err| <= " << tol.elem_abs << " + " << tol.elem_rel << "*|ref|: "
      << attn_o_position(c, h, f.o_first_bad) << " got "
      << ptxfmha::bf16_to_float(got.o[std::size_t(attn_o_elem(c, h, f.o_first_bad))]) << " ref "
      << ref.o[std::size_t(f.o_first_bad)] << "; ";
  if (c.with_lse) {
    if (f.lse_unwritten) s << f.lse_unwritten << " LSE rows never written; ";
    if (f.lse_nonfinite) s << f.lse_nonfinite << " LSE rows NaN/Inf where the reference is finite; ";
    if (f.lse_inf_mismatch) s << f.lse_inf_mismatch << " LSE rows that see no key (and no sink) are not -inf; ";
    if (f.lse_first_bad >= 0)
      s << "first LSE row over |err| <= " << tol.lse_abs << " + " << tol.lse_rel << "*|ref|: "
        << attn_lse_position(c, h, f.lse_first_bad) << " got " << got.lse[std::size_t(f.lse_first_bad)] << " ref "
        << ref.lse[std::size_t(f.lse_first_bad)] << "; ";
  }
  *why = s.str();
  return why->empty();
}

// Worst figures per key in gpu_util.h's registry (main.cpp prints it after the run).
inline void record_attn(const std::string& key, const std::string& what, const AttnFigures& f) {
  WorstRegistry& r = worst_registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  WorstFigures& w = r.by_kernel[key];
  ++w.cases;
  auto worse = [](double a, double b) { return std::isnan(a) || a > b; };
  if (worse(f.o.max_abs, w.max_abs)) w.max_abs = f.o.max_abs;
  if (worse(f.o.rel_l2, w.rel_l2)) { w.rel_l2 = f.o.rel_l2; w.worst_rel_case = what; }
  if (std::isnan(f.o.cosine) || f.o.cosine < w.min_cosine) w.min_cosine = f.o.cosine;
  if (worse(f.lse_max_abs, w.lse_max_abs)) w.lse_max_abs = f.lse_max_abs;
}

// ---- parameter blocks -----------------------------------------------------------------------
// Where a case's buffers live (device pointers, or fake ones for host-only validation).
struct AttnPointers {
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  void* o = nullptr;
  float* lse = nullptr;
  const int32_t* cu_q = nullptr;
  const int32_t* cu_k = nullptr;
  const int32_t* seqused = nullptr;
  const int32_t* table = nullptr;
  const float* sinks = nullptr;
  const float* slopes = nullptr;
};

// The ptxfmha_attn_params of a case (arrays the case does not use stay NULL).
inline ptxfmha_attn_params make_attn_params(const AttnCase& c, const AttnHost& h, const AttnPointers& ptr,
                                            CUstream stream = nullptr) {
  ptxfmha_attn_params a;
  ptxfmha_attn_params_init(&a);
  a.q = ptr.q; a.k = ptr.k; a.v = ptr.v; a.o = ptr.o;
  a.lse = c.with_lse ? ptr.lse : nullptr;
  a.q_batch_stride = h.q.stride[0]; a.q_seq_stride = h.q.stride[1]; a.q_head_stride = h.q.stride[2];
  a.k_batch_stride = h.k.stride[0]; a.k_seq_stride = h.k.stride[1]; a.k_head_stride = h.k.stride[2];
  a.v_batch_stride = h.v.stride[0]; a.v_seq_stride = h.v.stride[1]; a.v_head_stride = h.v.stride[2];
  a.o_batch_stride = h.o.stride[0]; a.o_seq_stride = h.o.stride[1]; a.o_head_stride = h.o.stride[2];
  a.batch = c.batch(); a.heads_q = c.heads_q; a.heads_kv = c.heads_kv; a.head_dim = c.head_dim;
  a.seqlen_q = h.seqlen_q; a.seqlen_k = h.seqlen_k;
  a.softmax_scale = c.softmax_scale();
  a.causal = c.causal ? 1 : 0;
  a.stream = stream;
  if (c.varlen_q) {
    a.cu_seqlens_q = ptr.cu_q;
    a.max_seqlen_q = h.max_q; a.total_q = h.total_q;
  }
  if (c.varlen_k) {
    a.cu_seqlens_k = ptr.cu_k;
    a.max_seqlen_k = h.max_k; a.total_k = h.total_k;
  }
  if (!h.seqused.empty()) a.seqused_k = ptr.seqused;
  if (c.page_size > 0) {
    a.block_table = ptr.table;
    a.page_size = c.page_size; a.max_blocks_per_seq = h.mbps; a.num_pages = h.num_pages;
  }
  a.window_left = c.window_left; a.window_right = c.window_right;
  a.softcap = c.softcap;
  if (!c.sinks.empty()) a.sink_logits = ptr.sinks;
  if (!c.slopes.empty()) a.alibi_slopes = ptr.slopes;
  return a;
}

// Decode (ptxfmha_decode_attn) on the same buffers: the case must have fixed Q (seqlen_q <= 8)
// and fixed or paged K; seqused_k becomes seqlens_k, seqlen_k max_seqlen_k. No workspace.
inline ptxfmha_decode_attn_params make_decode_attn_params(const ptxfmha_attn_params& a, int num_splits) {
  ptxfmha_decode_attn_params d;
  ptxfmha_decode_attn_params_init(&d);
  d.q = a.q; d.k_cache = a.k; d.v_cache = a.v; d.o = a.o; d.lse = a.lse;
  d.seqlens_k = a.seqused_k; d.block_table = a.block_table;
  d.q_batch_stride = a.q_batch_stride; d.q_seq_stride = a.q_seq_stride; d.q_head_stride = a.q_head_stride;
  d.k_batch_stride = a.k_batch_stride; d.k_seq_stride = a.k_seq_stride; d.k_head_stride = a.k_head_stride;
  d.v_batch_stride = a.v_batch_stride; d.v_seq_stride = a.v_seq_stride; d.v_head_stride = a.v_head_stride;
  d.o_batch_stride = a.o_batch_stride; d.o_seq_stride = a.o_seq_stride; d.o_head_stride = a.o_head_stride;
  d.batch = a.batch; d.seqlen_q = a.seqlen_q; d.max_seqlen_k = a.seqlen_k;
  d.heads_q = a.heads_q; d.heads_kv = a.heads_kv; d.head_dim = a.head_dim;
  d.page_size = a.page_size; d.max_blocks_per_seq = a.max_blocks_per_seq; d.num_pages = a.num_pages;
  d.softmax_scale = a.softmax_scale; d.causal = a.causal; d.num_splits = num_splits;
  d.stream = a.stream;
  d.sink_logits = a.sink_logits; d.alibi_slopes = a.alibi_slopes;
  d.window_left = a.window_left; d.window_right = a.window_right; d.softcap = a.softcap;
  return d;
}

// ---- the GPU suites' case lists (defined in their files; test_cpu_attn_util.cpp checks on the
// CPU that every one of them passes the host validation and carries the features it names) --
struct NamedCase {
  std::string group;  // worst-figures key suffix
  AttnCase c;
  uint64_t seed = 0;
  int num_splits = 0;  // decode
};
std::vector<NamedCase> attn_cases_alone(int d);         // test_gpu_attn_features.cpp
std::vector<NamedCase> attn_cases_combinations(int d);  // test_gpu_attn_features.cpp
std::vector<NamedCase> attn_cases_sanitizer(int d);     // test_gpu_attn_features.cpp
std::vector<NamedCase> decode_attn_cases_features(int d);   // test_gpu_attn_decode.cpp
std::vector<NamedCase> decode_attn_cases_grid(int d);       // test_gpu_attn_decode.cpp
std::vector<NamedCase> decode_attn_cases_sanitizer(int d);  // test_gpu_attn_decode.cpp
AttnCase draw_attn_case(std::mt19937_64& rng, int d);       // test_gpu_attn_random.cpp

// ---- device -----------------------------------------------------------------------------------
// Device buffers of one case: inputs and metadata uploaded once, outputs poisoned before every
// launch.
class AttnDevice {
 public:
  AttnDevice(const AttnCase& c, const AttnHost& h) : c_(c), h_(h) {
    q_.alloc(std::size_t(std::max<int64_t>(h.q.elems, 1)) * 2); q_.upload(h.hq);
    k_.alloc(std::size_t(std::max<int64_t>(h.k.elems, 1)) * 2); k_.upload(h.hk);
    v_.alloc(std::size_t(std::max<int64_t>(h.v.elems, 1)) * 2); v_.upload(h.hv);
    o_.alloc(std::size_t(std::max<int64_t>(h.o.elems, 1)) * 2);
    lse_.alloc(std::size_t(std::max<int64_t>(lse_elems(), 1)) * 4);
    upload(cu_q_, h.cu_q);
    upload(cu_k_, h.cu_k);
    upload(seqused_, h.seqused);
    upload(table_, h.table);
    upload(sinks_, c.sinks);
    upload(slopes_, c.slopes);
  }
  int64_t lse_elems() const { return h_.q_rows * c_.heads_q; }

  ptxfmha_attn_params params(CUstream stream = nullptr) const {
    AttnPointers p;
    p.q = q_.get(); p.k = k_.get(); p.v = v_.get(); p.o = o_.get();
    p.lse = static_cast<float*>(lse_.get());
    p.cu_q = static_cast<const int32_t*>(cu_q_.get());
    p.cu_k = static_cast<const int32_t*>(cu_k_.get());
    p.seqused = static_cast<const int32_t*>(seqused_.get());
    p.table = static_cast<const int32_t*>(table_.get());
    p.sinks = static_cast<const float*>(sinks_.get());
    p.slopes = static_cast<const float*>(slopes_.get());
    return make_attn_params(c_, h_, p, stream);
  }
  void poison(CUstream s = nullptr) {
    o_.fill16(kPoisonBf16, std::size_t(std::max<int64_t>(h_.o.elems, 1)), s);
    lse_.fill32(kPoisonF32, std::size_t(std::max<int64_t>(lse_elems(), 1)), s);
  }
  ptxfmha_status launch(CUstream s = nullptr) {
    poison(s);
    const ptxfmha_attn_params a = params(s);
    return ptxfmha_attn(&a);
  }
  void download(AttnOutputs* out) const {
    o_.download(out->o, std::size_t(std::max<int64_t>(h_.o.elems, 0)));
    if (c_.with_lse) lse_.download(out->lse, std::size_t(lse_elems()));
    else out->lse.clear();
  }
  ptxfmha_decode_attn_params decode_params(int num_splits, CUstream stream = nullptr) const {
    return make_decode_attn_params(params(stream), num_splits);
  }
  // Poison, workspace (ptxfmha_decode_attn_workspace_size), launch. Returns the first
  // non-OK status of the two calls.
  ptxfmha_status launch_decode(int num_splits, CUstream s = nullptr) {
    poison(s);
    ptxfmha_decode_attn_params d = decode_params(num_splits, s);
    uint64_t bytes = 0;
    ptxfmha_status st = ptxfmha_decode_attn_workspace_size(&d, &bytes);
    if (st != PTXFMHA_OK) return st;
    if (bytes > ws_.bytes()) ws_.alloc(std::size_t(bytes));
    d.workspace = bytes ? ws_.get() : nullptr;
    d.workspace_bytes = bytes;
    return ptxfmha_decode_attn(&d);
  }
  DeviceBuffer& cu_q() { return cu_q_; }
  DeviceBuffer& table() { return table_; }

 private:
  template <class T> static void upload(DeviceBuffer& b, const std::vector<T>& v) {
    if (v.empty()) return;
    b.alloc(v.size() * sizeof(T));
    b.upload(v);
  }
  const AttnCase& c_;
  const AttnHost& h_;
  DeviceBuffer q_, k_, v_, o_, lse_, cu_q_, cu_k_, seqused_, table_, sinks_, slopes_, ws_;
};

enum class CaseResult { Passed, Failed, Skipped };

// The common end of a case whose first launch returned `st` (not a missing-kernel answer):
// the first result, a second launch (`relaunch`), the reference, the bounds, determinism.
template <class Relaunch>
CaseResult finish_case(const std::string& key, const std::string& what, const AttnCase& c, const AttnHost& h,
                       AttnDevice& dev, ptxfmha_status st, Relaunch relaunch, const Tolerance& tol, bool quiet) {
  CHECK_MESSAGE(st == PTXFMHA_OK, what << ": " << str(ptxfmha_status_string(st)) << ": " << str(ptxfmha_last_error()));
  if (st != PTXFMHA_OK) return CaseResult::Failed;
  PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
  AttnOutputs first, second;
  dev.download(&first);
  st = relaunch();
  REQUIRE_MESSAGE(st == PTXFMHA_OK, what << ": second launch: " << str(ptxfmha_last_error()));
  PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
  dev.download(&second);
  const ptxfmha::RefAttnResult ref = attn_reference(h);
  const AttnFigures f = evaluate_attn(c, h, ref, first, tol);
  record_attn(key, describe(c), f);
  std::string why;
  const bool ok = attn_within_bounds(c, h, f, first, ref, tol, &why);
  const bool det = first == second;
  if (!quiet || !ok || !det) MESSAGE(what << ": " << describe(f) << (det ? "" : " NOT bitwise deterministic"));
  CHECK_MESSAGE(ok, what << ": " << why);
  CHECK_MESSAGE(det, what << ": two launches on the same inputs differ bitwise");
  return ok && det ? CaseResult::Passed : CaseResult::Failed;
}

// One case end to end: host data, reference, two launches (poisoned outputs each time),
// bitwise determinism, bounds. `key` groups the worst figures; `context` (seed, index) is
// printed with every failure. Skips only through skip_for_missing_kernel.
inline CaseResult run_attn_case(const std::string& key, const AttnCase& c, uint64_t seed,
                                const std::string& context = "", const Tolerance& tol = Tolerance(),
                                bool quiet = false) {
  AttnHost h = make_attn_host(c, seed);
  sample_reference_rows(c, &h, seed);
  {  // rows two sequences write (overlapping garbage offsets) could differ between launches
    const std::vector<uint8_t> w = ptxfmha::attn_row_writers(h.ref);
    REQUIRE_MESSAGE(std::all_of(w.begin(), w.end(), [](uint8_t x) { return x <= 1; }),
                    "a GPU case must not give two sequences the same query rows");
  }
  AttnDevice dev(c, h);
  const std::string what = key + " " + context + " " + describe(c);
  ptxfmha_status st = dev.launch();
  const MissingKernel mk = skip_for_missing_kernel(st, attn_case_features(c), false, gpu().info.sm, what);
  if (mk != MissingKernel::No) return mk == MissingKernel::Skipped ? CaseResult::Skipped : CaseResult::Failed;
  return finish_case(key, what, c, h, dev, st, [&dev] { return dev.launch(); }, tol, quiet);
}

// Decode counterpart of run_attn_case (ptxfmha_decode_attn with `num_splits`, 0 = library's
// choice): the same host data, reference and checks.
inline CaseResult run_decode_attn_case(const std::string& key, const AttnCase& c, uint64_t seed, int num_splits,
                                       const std::string& context = "", const Tolerance& tol = Tolerance()) {
  REQUIRE((!c.varlen_q && !c.varlen_k && c.batch() > 0 && c.lq[0] >= 1 && c.lq[0] <= 8));
  const AttnHost h = make_attn_host(c, seed);
  AttnDevice dev(c, h);
  const std::string what = key + " " + context + " " + describe(c) + " splits=" + std::to_string(num_splits);
  ptxfmha_status st = dev.launch_decode(num_splits);
  const MissingKernel mk = skip_for_missing_kernel(st, attn_case_features(c) & ptxfmha::kDecodeAttnFeatures, true,
                                                   gpu().info.sm, what);
  if (mk != MissingKernel::No) return mk == MissingKernel::Skipped ? CaseResult::Skipped : CaseResult::Failed;
  return finish_case(key, what, c, h, dev, st, [&dev, num_splits] { return dev.launch_decode(num_splits); }, tol,
                     /*quiet=*/false);
}

// Per-test-case tally, printed as one MESSAGE line.
struct CaseTally {
  int passed = 0, failed = 0, skipped = 0;
  void add(CaseResult r) { (r == CaseResult::Passed ? passed : r == CaseResult::Failed ? failed : skipped)++; }
  std::string str() const {
    return std::to_string(passed + failed + skipped) + " cases: " + std::to_string(passed) + " passed, " +
           std::to_string(failed) + " failed, " + std::to_string(skipped) +
           " SKIPPED (no feature kernel yet: UNSUPPORTED_FEATURE)";
  }
};

}  // namespace ptxfmha_test
