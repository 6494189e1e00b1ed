// Test helpers of the extensible attention API, part 1 (attn_util.h includes it): problem
// descriptions with every feature (AttnCase), host data in every layout (fixed / packed / paged
// K/V, BSHD / BHSD: AttnHost, make_attn_host) and the float64 reference (attn_reference).
// Host only: tests/test_cpu_attn_util.cpp runs it on the CPU.
#pragma once
#include <algorithm>
#include <cmath>
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

}  // namespace ptxfmha_test
