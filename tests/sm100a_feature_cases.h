// Shared by the CPU tests of the sm100a EXT rows (tests/test_cpu_sm100a_features.cpp and
// tests/test_cpu_sm100a_features_mut.cpp): the feature cases of a ptxfmha_attn call, the work list
// and KV shapes written out from the call, and check_case, which executes every role of an EXT
// kernel on the CPU and checks what the tests' headers list.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "attn.h"
#include "attn_kernel_abi.h"
#include "fwd.h"
#include "fwd_plan.h"
#include "kernel_lookup.h"
#include "ptx_util.h"
#include "sm100_model/ptx_exec.h"
#include "sm100_model/ptx_roles.h"
#include "sm100_model/trace.h"
#include "sm100_model/twotile.h"
#include "validate_attn.h"

namespace sm100a_feat {

namespace md = sm100_model;

using Kern = ptxfmha_test::KernelMacros;

// The EXT rows of the two-tile family (KERNEL_VARIANT 1), with their macros and parsed PTX.
inline const std::vector<Kern>& ext_kernels() {
  static const std::vector<Kern> ks = [] {
    std::vector<Kern> out;
    for (const Kern& k : ptxfmha_test::sm100a_fwd_kernels())
      if (k.macros.count("KERNEL_Q_TILES") && k.mv("KERNEL_VARIANT") == 1) out.push_back(k);
    return out;
  }();
  return ks;
}
inline std::vector<sm100_ptx::Stmt> statements(const Kern& k) {
  bool ok = false;
  const std::string text = ptxfmha_test::read_text_file(ptxfmha_test::preprocessed_path("sm100a", k.name), &ok);
  REQUIRE_MESSAGE(ok, "build/ptx/sm100a/" << k.name << ".ptx is missing (`make cubins` writes it)");
  return sm100_ptx::parse_statements(text);
}

// A ptxfmha_attn call's shape (host values and the device metadata).
struct Case {
  std::string what;
  int batch = 1, heads_q = 2, heads_kv = 1;
  int seqlen_q = 0, seqlen_k = 0;        // fixed Q / K (0 when variable length)
  std::vector<int32_t> cu_q, cu_k;       // variable length (empty: fixed)
  int max_q = 0, max_k = 0, total_q = 0, total_k = 0;
  int causal = 0, window_left = -1, window_right = -1;
  float softcap = 0;
  bool sinks = false, alibi = false;
  std::vector<int32_t> used;             // seqused_k (empty: none)
  int page_size = 0, num_pages = 0, max_blocks = 0;
  std::vector<int32_t> table;            // block table [batch, max_blocks] (empty: contiguous K/V)
};

// Fake device addresses of the call's arrays (the executor's global memory holds cu_seqlens).
constexpr uint64_t kCuQ = 0x1000000, kCuK = 0x2000000, kSinks = 0x3000000, kSlopes = 0x4000000;
constexpr uint64_t kUsed = 0x5000000, kTable = 0x6000000;
constexpr uint64_t kO = 0x10000000, kLse = 0x70000000;

inline ptxfmha_attn_params attn_of(const Case& c, int head_dim) {
  ptxfmha_attn_params p;
  ptxfmha::attn_params_defaults(&p);
  p.batch = c.batch;
  p.heads_q = c.heads_q;
  p.heads_kv = c.heads_kv;
  p.head_dim = head_dim;
  p.softmax_scale = 0.125f;
  p.seqlen_q = c.seqlen_q;
  p.seqlen_k = c.seqlen_k;
  if (!c.cu_q.empty()) p.cu_seqlens_q = reinterpret_cast<const int32_t*>(kCuQ);
  if (!c.cu_k.empty()) p.cu_seqlens_k = reinterpret_cast<const int32_t*>(kCuK);
  p.max_seqlen_q = c.max_q;
  p.max_seqlen_k = c.max_k;
  p.total_q = c.total_q;
  p.total_k = c.total_k;
  p.causal = c.causal;
  p.window_left = c.window_left;
  p.window_right = c.window_right;
  p.softcap = c.softcap;
  if (c.sinks) p.sink_logits = reinterpret_cast<const float*>(kSinks);
  if (c.alibi) p.alibi_slopes = reinterpret_cast<const float*>(kSlopes);
  if (!c.used.empty()) p.seqused_k = reinterpret_cast<const int32_t*>(kUsed);
  if (!c.table.empty()) {
    p.block_table = reinterpret_cast<const int32_t*>(kTable);
    p.page_size = c.page_size;
    p.num_pages = c.num_pages;
    p.max_blocks_per_seq = c.max_blocks;
  }
  // Dense layouts: fixed [b, s, h, d], packed [total, h, d].
  p.o_head_stride = head_dim;
  p.o_seq_stride = int64_t(head_dim) * c.heads_q;
  p.o_batch_stride = p.o_seq_stride * (c.cu_q.empty() ? c.seqlen_q : 0);
  return p;
}

// One work tile as the kernels must see it, written out from the call (not from the PTX).
struct Tile {
  int b, head, m, first_row, len_q, qbase, len_k, krow0, kbc, j0, n;
};
inline int clampi(long long x, long long lo, long long hi) { return static_cast<int>(std::max(lo, std::min(hi, x))); }

inline std::vector<Tile> expected_tiles(const Case& c, const ptxfmha_attn_params& p, const ptxfmha::FwdLaunchPlan& plan, int bm, int bn) {
  const ptxfmha::AttnWindow w = ptxfmha::canonical_window(p.causal, p.window_left, p.window_right, ptxfmha::attn_max_len_q(p),
                                                          ptxfmha::attn_max_len_k(p));
  const bool rev = w.right >= 0;  // heaviest first (P_CAUSAL)
  auto keys = [&](int b, Tile* t) {
    if (c.cu_k.empty()) {  // fixed or paged K (the block table's row b)
      t->len_k = c.seqlen_k;
      t->krow0 = 0;
      t->kbc = b;
    } else {
      const int s = clampi(c.cu_k[size_t(b)], 0, c.total_k), e = clampi(c.cu_k[size_t(b) + 1], s, c.total_k);
      t->len_k = std::min(e - s, c.max_k);
      t->krow0 = s;
      t->kbc = 0;
    }
    if (!c.used.empty()) t->len_k = clampi(c.used[size_t(b)], 0, t->len_k);  // seqused_k
  };
  std::vector<Tile> out;
  auto finish = [&](Tile t) {
    const ptxfmha::AttnTileRange r = ptxfmha::attn_kv_tile_range(t.first_row, t.len_q, t.len_k, bm, bn, w.left, w.right);
    t.j0 = static_cast<int>(r.j0);
    t.n = static_cast<int>(r.n);
    out.push_back(t);
  };
  if (c.cu_q.empty()) {  // the plain order: groups of head_group (head, batch) pairs, m-block-major
    const int nmb = static_cast<int>(plan.num_m_blocks), hg = plan.head_group, pairs = c.heads_q * c.batch;
    for (long long tile = 0; tile < plan.total_tiles; ++tile) {
      const int g = static_cast<int>(tile / (nmb * hg)), in = static_cast<int>(tile % (nmb * hg));
      const int in_group = std::min(hg, pairs - g * hg);
      Tile t{};
      t.m = in / in_group;
      const int pair = g * hg + in % in_group;
      t.head = pair % c.heads_q;
      t.b = pair / c.heads_q;
      if (rev) t.m = nmb - 1 - t.m;
      t.first_row = t.m * bm;
      t.len_q = c.seqlen_q;
      t.qbase = t.b;
      keys(t.b, &t);
      finish(t);
    }
  } else {
    for (int b = 0; b < c.batch; ++b) {
      const int s = clampi(c.cu_q[size_t(b)], 0, c.total_q), e = clampi(c.cu_q[size_t(b) + 1], s, c.total_q);
      const int len = std::min(e - s, c.max_q), nmb = (len + bm - 1) / bm;
      for (int i = 0; i < nmb * c.heads_q; ++i) {
        Tile t{};
        t.b = b;
        t.m = i / c.heads_q;
        t.head = i % c.heads_q;
        if (rev) t.m = nmb - 1 - t.m;
        t.first_row = t.m * bm;
        t.len_q = len;
        t.qbase = s;
        keys(b, &t);
        finish(t);
      }
    }
  }
  // The kernels stop at the host's bound (P_TOTAL_TILES; it holds every tile of valid metadata:
  // test_cpu_attn_launch_plan.cpp); overlapping offsets may clamp to more tiles.
  if (static_cast<long long>(out.size()) > plan.total_tiles) out.resize(static_cast<std::size_t>(plan.total_tiles));
  return out;
}

struct Setup {
  ptxfmha_attn_params p;
  ptxfmha::FwdLaunchPlan plan;
  std::map<long long, uint64_t> params;
  std::map<uint64_t, uint32_t> global;
  uint32_t features = 0;
  ptxfmha::AttnExtFields ext;
};

inline Setup setup(const Kern& k, const Case& c) {
  Setup s;
  const int d = static_cast<int>(k.mv("KERNEL_HEAD_DIM"));
  s.p = attn_of(c, d);
  const ptxfmha::KernelInfo* row = nullptr;
  for (const ptxfmha::KernelInfo* r : ptxfmha::all_kernels())
    if (k.name == r->name) row = r;
  REQUIRE(row != nullptr);
  s.features = ptxfmha::attn_features(s.p);
  CHECK((s.features & ~row->features) == 0u);  // the call is one this row takes
  s.ext = ptxfmha::attn_ext_fields(s.p, s.features, *row);
  const ptxfmha::AttnWindow w = ptxfmha::canonical_window(s.p.causal, s.p.window_left, s.p.window_right,
                                                          ptxfmha::attn_max_len_q(s.p), ptxfmha::attn_max_len_k(s.p));
  ptxfmha::FwdShape sh;  // as fwd.cpp attn_launch
  sh.batch = c.batch;
  sh.seqlen_q = ptxfmha::attn_max_len_q(s.p);
  sh.seqlen_k = ptxfmha::attn_max_len_k(s.p);
  sh.heads_q = c.heads_q;
  sh.heads_kv = c.heads_kv;
  sh.head_dim = d;
  sh.causal = w.right >= 0;
  sh.varlen_q = !c.cu_q.empty();
  sh.total_q = c.total_q;
  sh.uneven = (s.features & (ptxfmha::kAttnVarlenQ | ptxfmha::kAttnVarlenK | ptxfmha::kAttnSequsedK | ptxfmha::kAttnWindow)) != 0;
  ptxfmha::DeviceInfo dev;
  s.plan = ptxfmha::plan_fwd(*row, sh, dev, false);
  auto at = [&](const char* m) { return k.mv(m); };
  auto u = [](long long x) { return static_cast<uint64_t>(static_cast<uint32_t>(static_cast<int32_t>(x))); };
  std::map<long long, uint64_t>& P = s.params;
  P[at("P_SEQLEN_Q")] = u(sh.seqlen_q);
  P[at("P_SEQLEN_K")] = u(sh.seqlen_k);
  P[at("P_HEADS_Q")] = u(c.heads_q);
  P[at("P_GQA_RATIO")] = u(c.heads_q / c.heads_kv);
  P[at("P_CAUSAL")] = sh.causal ? 1 : 0;
  P[at("P_NUM_M_BLOCKS")] = u(s.plan.num_m_blocks);
  P[at("P_BATCH")] = u(c.batch);
  P[at("P_TOTAL_TILES")] = u(s.plan.total_tiles);
  P[at("P_HEAD_GROUP")] = u(s.plan.head_group);
  P[at("P_TILE_COUNTER")] = 0;
  P[at("P_LSE_PTR")] = kLse;
  P[at("P_O_PTR")] = kO;
  P[at("P_O_BATCH_STRIDE")] = static_cast<uint64_t>(s.p.o_batch_stride);
  P[at("P_O_SEQ_STRIDE")] = static_cast<uint64_t>(s.p.o_seq_stride);
  P[at("P_O_HEAD_STRIDE")] = static_cast<uint64_t>(s.p.o_head_stride);
  P[at("PA_CU_SEQLENS_Q")] = c.cu_q.empty() ? 0 : kCuQ;
  P[at("PA_CU_SEQLENS_K")] = c.cu_k.empty() ? 0 : kCuK;
  P[at("PA_SEQUSED_K")] = c.used.empty() ? 0 : kUsed;
  P[at("PA_BLOCK_TABLE")] = c.table.empty() ? 0 : kTable;
  P[at("PA_PAGE_SHIFT")] = u(s.ext.page_shift);
  P[at("PA_MAX_BLOCKS_PER_SEQ")] = u(c.table.empty() ? 0 : c.max_blocks);
  P[at("PA_NUM_PAGES")] = u(c.table.empty() ? 0 : c.num_pages);
  P[at("PA_BOX_SHIFT")] = u(s.ext.box_shift);
  P[at("PA_SINK_LOGITS")] = c.sinks ? kSinks : 0;
  P[at("PA_ALIBI_SLOPES")] = c.alibi ? kSlopes : 0;
  P[at("PA_FEATURES")] = s.ext.features;
  P[at("PA_TOTAL_Q")] = u(c.total_q);
  P[at("PA_TOTAL_K")] = u(c.total_k);
  P[at("PA_WINDOW_LEFT")] = u(s.ext.window_left);
  P[at("PA_WINDOW_RIGHT1")] = u(s.ext.window_right1);
  P[at("PA_LSE_HEAD_STRIDE")] = u(s.ext.lse_head_stride);
  P[at("PA_LSE_BATCH_STRIDE")] = u(s.ext.lse_batch_stride);
  P[at("PA_O_SEQBASE_STRIDE")] = static_cast<uint64_t>(s.ext.o_seqbase_stride);
  for (std::size_t i = 0; i < c.cu_q.size(); ++i) s.global[kCuQ + 4 * i] = static_cast<uint32_t>(c.cu_q[i]);
  for (std::size_t i = 0; i < c.cu_k.size(); ++i) s.global[kCuK + 4 * i] = static_cast<uint32_t>(c.cu_k[i]);
  for (std::size_t i = 0; i < c.used.size(); ++i) s.global[kUsed + 4 * i] = static_cast<uint32_t>(c.used[i]);
  for (std::size_t i = 0; i < c.table.size(); ++i) s.global[kTable + 4 * i] = static_cast<uint32_t>(c.table[i]);
  return s;
}

inline sm100_exec::Thread thread_of(const std::vector<sm100_ptx::Stmt>& st, const Kern& k, const Setup& s, long long tid, int cta, int ctas) {
  sm100_exec::Thread th(st, k.macros);
  th.tid = static_cast<uint32_t>(tid);
  th.ctaid[0] = static_cast<uint32_t>(cta);
  th.nctaid[0] = static_cast<uint32_t>(ctas);
  th.smem_symbol = 0x400;
  th.params = s.params;
  th.global = s.global;
  return th;
}

// The shapes: each feature alone and together, empty sequences, windows of 1, 64 and wider than
// the sequence, both edges, causal, GQA, variable-length K, a sequence longer than BLOCK_M.
inline std::vector<Case> cases() {
  std::vector<Case> v;
  {
    Case c;
    c.what = "varlen Q and K, empty sequences, causal";
    c.batch = 5;
    c.cu_q = {0, 3, 3, 300, 301, 301};
    c.cu_k = {0, 7, 7, 500, 500, 565};
    c.max_q = 297, c.max_k = 493, c.total_q = 301, c.total_k = 565;
    c.causal = 1;
    c.heads_q = 4, c.heads_kv = 2;
    v.push_back(c);
  }
  {
    Case c;
    c.what = "fixed, window 64 left / 0 right (band skips tiles), softcap, sinks, ALiBi";
    c.batch = 2, c.seqlen_q = 700, c.seqlen_k = 900;
    c.window_left = 64, c.window_right = 0;
    c.softcap = 50, c.sinks = true, c.alibi = true;
    v.push_back(c);
  }
  {
    Case c;
    c.what = "fixed, two-sided window 100 / 37 (left and right edges)";
    c.batch = 1, c.seqlen_q = 513, c.seqlen_k = 1000, c.heads_q = 3, c.heads_kv = 3;
    c.window_left = 100, c.window_right = 37;
    v.push_back(c);
  }
  {
    Case c;
    c.what = "varlen Q only, window 1, queries past the keys (empty bands)";
    c.batch = 3, c.seqlen_k = 129;
    c.cu_q = {0, 400, 402, 1000};
    c.max_q = 598, c.total_q = 1000;
    c.window_left = 1, c.window_right = 1;
    v.push_back(c);
  }
  {
    Case c;
    c.what = "varlen K only, window wider than the sequence, sinks";
    c.batch = 2, c.seqlen_q = 65;
    c.cu_k = {0, 1, 4098};
    c.max_k = 4097, c.total_k = 4098;
    c.window_left = 5000, c.window_right = 5000;
    c.sinks = true;
    v.push_back(c);
  }
  // seqused_k and paged K/V (the V tail fix on every last tile with fewer keys than BLOCK_N).
  {
    Case c;
    c.what = "seqused_k on fixed K (a tile of 1 key, an empty sequence), causal, GQA";
    c.batch = 3, c.seqlen_q = 300, c.seqlen_k = 700, c.heads_q = 4, c.heads_kv = 2;
    c.used = {650, 129, 0};
    c.causal = 1;
    v.push_back(c);
  }
  {
    Case c;
    c.what = "paged (page 16, shuffled), seqused_k, varlen Q, causal window 100, softcap, sinks, ALiBi";
    c.batch = 2, c.seqlen_k = 500;
    c.cu_q = {0, 200, 333};
    c.max_q = 200, c.total_q = 333;
    c.page_size = 16, c.max_blocks = 32, c.num_pages = 70;
    for (int i = 0; i < c.batch * c.max_blocks; ++i) c.table.push_back((i * 37 + 11) % c.num_pages);
    c.used = {500, 77};
    c.causal = 1, c.window_left = 100;
    c.softcap = 30, c.sinks = true, c.alibi = true;
    v.push_back(c);
  }
  {
    Case c;
    c.what = "paged (page 256, larger than BLOCK_N), seqused_k, fixed Q";
    c.batch = 2, c.seqlen_q = 130, c.seqlen_k = 1000;
    c.page_size = 256, c.max_blocks = 4, c.num_pages = 9;
    c.table = {3, 8, 0, 5, 1, 2, 7, 6};
    c.used = {1000, 513};
    v.push_back(c);
  }
  {
    Case c;
    c.what = "paged (page 64) without seqused_k: the last page's tail past seqlen_k";
    c.batch = 1, c.seqlen_q = 65, c.seqlen_k = 300, c.heads_q = 3, c.heads_kv = 1;
    c.page_size = 64, c.max_blocks = 5, c.num_pages = 6;
    c.table = {5, 0, 4, 1, 3};
    v.push_back(c);
  }
  return v;
}

// The V tail fix and the paged boxes of a work tile (features.ptxh KV_ISSUE_EXT): keys of its
// last KV tile, box rows of a full tile and of the last.
struct KvShape {
  int valid_last = 0, row_boxes = 1, last_row_boxes = 1;
  bool fix = false;
};
inline KvShape kv_shape(const Case& c, const Tile& t, int bn, int box_rows) {
  KvShape k;
  if (t.n == 0) return k;
  k.valid_last = std::max(0, std::min(bn, t.len_k - (t.j0 + t.n - 1) * bn));
  const bool paged = !c.table.empty();
  k.fix = (paged || !c.used.empty()) && k.valid_last < bn;
  k.row_boxes = paged ? bn / box_rows : 1;
  k.last_row_boxes = paged ? (k.valid_last + box_rows - 1) / box_rows : 1;
  return k;
}
// A page id as the kernel uses it: the table's entry, unsigned, at most num_pages (one past the
// pool: TMA zero fill).
inline long long page_coord(const Case& c, int b, int key) {
  const uint32_t id = static_cast<uint32_t>(c.table[static_cast<std::size_t>(b) * c.max_blocks + key / c.page_size]);
  return std::min<long long>(id, c.num_pages);
}

struct Tally {
  long events = 0, tma = 0, stores = 0, rows = 0, masked = 0, zeroed = 0, metadata = 0;
};

// Runs every role (and several threads of softmax and correction) of kernel k on case c with
// `ctas` CTAs, and checks what the header says. Returns false at the first mismatch (messages).
inline bool check_case(const Kern& k, const std::vector<sm100_ptx::Stmt>& st, const Case& c, int ctas, Tally* tally, bool bad_metadata,
                std::string* why) {
  auto fail = [&](const std::ostringstream& m) {
    if (why->empty()) *why = m.str();
  };
  const Setup s = setup(k, c);
  const int T = static_cast<int>(k.mv("KERNEL_Q_TILES")), D = static_cast<int>(k.mv("KERNEL_HEAD_DIM"));
  const int bm = static_cast<int>(k.mv("KERNEL_BLOCK_M")), bn = static_cast<int>(k.mv("KERNEL_BLOCK_N"));
  const std::vector<Tile> all = expected_tiles(c, s.p, s.plan, bm, bn);
  auto mvk = [&](const char* m) { return k.mv(m); };
  const std::map<uint64_t, std::string> bar_name = md::twotile_barrier_names(mvk, 0x400);
  const long long o_rows = c.cu_q.empty() ? static_cast<long long>(c.batch) * c.seqlen_q : c.total_q;
  const uint64_t o_bytes = static_cast<uint64_t>(o_rows) * c.heads_q * D * 2;
  const uint64_t lse_bytes = static_cast<uint64_t>(o_rows) * c.heads_q * 4;
  bool ok = true;
  for (int cta = 0; cta < ctas; ++cta) {
    std::vector<Tile> mine;
    for (std::size_t i = static_cast<std::size_t>(cta); i < all.size(); i += static_cast<std::size_t>(ctas)) mine.push_back(all[i]);
    std::vector<int> work;
    for (const Tile& t : mine) work.push_back(t.n);
    md::TwoTileParams mp;
    mp.q_tiles = T;
    mp.p_aliases_s = k.mv("P_ALIAS_S") != 0;
    mp.kv_slots = static_cast<int>(k.mv("KERNEL_KV_SLOTS"));
    mp.q_boxes = mp.kv_boxes = D / 64;
    mp.q_box_bytes = static_cast<int>(k.mv("Q_BOX_BYTES"));
    mp.kv_box_bytes = static_cast<int>(k.mv("KV_BOX_BYTES"));
    mp.threads = static_cast<int>(k.mv("KERNEL_THREADS"));
    mp.work = work;
    mp.rescale = [](int, int, int, int) { return true; };
    mp.v_land = true;  // the EXT rows
    const int box_rows = 1 << s.ext.box_shift;
    for (const Tile& t : mine) {
      const KvShape ks = kv_shape(c, t, bn, box_rows);
      mp.v_fix.push_back(ks.fix ? 1 : 0);
      mp.paged.push_back(c.table.empty() ? 0 : 1);
      mp.row_boxes.push_back(ks.row_boxes);
      mp.last_row_boxes.push_back(ks.last_row_boxes);
    }
    const md::Model m = md::twotile_model(mp);
    struct Role {
      const char* program;
      long long tid;
    };
    std::vector<Role> roles = {{"mma", 32 * k.mv("WARP_MMA")}, {"tma", 32 * k.mv("WARP_TMA")}, {"correction.w0", 128 * T},
                               {"correction.w0", 128 * T + 13}, {"correction.w0", 128 * T + 127}};
    if (T == 2) {
      roles.push_back({"softmax0.w0", 0});
      roles.push_back({"softmax0.w0", 70});
      roles.push_back({"softmax1.w0", 128 + 1});
    } else {
      roles.push_back({"softmax.w0", 0});
      roles.push_back({"softmax.w0", 99});
    }
    for (const Role& r : roles) {
      sm100_exec::Thread th = thread_of(st, k, s, r.tid, cta, ctas);
      if (!th.run()) {
        std::ostringstream m_;
        m_ << k.name << " " << c.what << ": thread " << r.tid << " of CTA " << cta << ": " << th.error;
        fail(m_);
        return false;
      }
      // 1. synchronisation = the model's program for this CTA's work list (bad metadata: the
      //    clamped sequences, which expected_tiles applies too)
      const md::Program* pr = nullptr;
      for (const md::Program& x : m.roles)
        if (x.role == r.program) pr = &x;
      REQUIRE(pr != nullptr);
      const std::vector<std::string> got = md::trace_lines(th.trace, bar_name);
      std::vector<std::string> want = md::model_lines(m, *pr, [&](int acc) { return md::twotile_acc_addr(mvk, acc); });
      if (r.tid != k.mv("INIT_THREAD"))  // the mbarrier inits are the init thread's only
        want.erase(std::remove_if(want.begin(), want.end(), [](const std::string& x) { return x.rfind("init ", 0) == 0; }), want.end());
      if (got != want) {
        std::size_t i = 0;
        while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
        {
        std::ostringstream m_;
        m_ << k.name << " " << c.what << " (" << ctas << " CTAs, CTA " << cta << ") " << r.program << " thread " << r.tid
                          << ": the PTX's synchronisation differs from the model's at #" << i << ": PTX '"
                          << (i < got.size() ? got[i] : "(end)") << "', model '" << (i < want.size() ? want[i] : "(end)") << "'";
        fail(m_);
      }
        ok = false;
      }
      tally->events += static_cast<long>(got.size());
      // 2. TMA loads (the TMA warp): the multiset of box coordinates of this CTA's tiles
      if (std::string(r.program) == "tma") {
        std::multiset<std::vector<long long>> want_c, got_c;
        for (const Tile& t : mine) {
          if (t.n == 0) continue;
          const bool vq = !c.cu_q.empty();
          for (int qt = 0; qt < T; ++qt)
            for (int bx = 0; bx < D / 64; ++bx)
              want_c.insert({64 * bx, (vq ? t.qbase : 0) + t.first_row + 128 * qt, t.head, vq ? 0 : t.b});
          const int kvh = t.head / (c.heads_q / c.heads_kv);
          const KvShape ks = kv_shape(c, t, bn, box_rows);
          for (int j = 0; j < t.n; ++j)
            for (int kv = 0; kv < 2; ++kv) {
              if (c.table.empty()) {
                for (int bx = 0; bx < D / 64; ++bx) want_c.insert({64 * bx, t.krow0 + (t.j0 + j) * bn, kvh, t.kbc});
                continue;
              }
              const int boxes = j == t.n - 1 ? ks.last_row_boxes : ks.row_boxes;  // paged: boxes with keys only
              for (int k = 0; k < boxes; ++k) {
                const int key = (t.j0 + j) * bn + k * box_rows;
                for (int bx = 0; bx < D / 64; ++bx) want_c.insert({64 * bx, key % c.page_size, kvh, page_coord(c, t.b, key)});
              }
            }
        }
        for (const sm100_exec::TraceEv& e : th.trace)
          if (e.kind == "tma") got_c.insert(e.coords);
        // Every K/V load inside its tensor: pages [0, num_pages] (num_pages: one past the pool,
        // TMA zero fill) of page_size rows.
        const uint64_t barq = 0x400 + static_cast<uint64_t>(k.mv("SMEM_BAR_OFF") + k.mv("BAR_Q_FULL"));
        for (const sm100_exec::TraceEv& e : th.trace) {
          if (e.kind != "tma" || (e.addr >= barq && e.addr < barq + 8u * static_cast<uint64_t>(T))) continue;  // Q
          const std::vector<long long>& co = e.coords;
          const bool bad = co.size() != 4 || co[0] < 0 || co[0] >= D || co[1] < 0 || co[2] < 0 || co[2] >= c.heads_kv || co[3] < 0 ||
                           (!c.table.empty() && (co[1] >= c.page_size || co[3] > c.num_pages));
          if (bad) {
            std::ostringstream m_;
            m_ << k.name << " " << c.what << ": a K/V TMA load outside its tensor (row " << (co.size() > 1 ? co[1] : -1) << ", page/batch "
               << (co.size() > 3 ? co[3] : -1) << ")";
            fail(m_);
            ok = false;
          }
        }
        // The V tail fix: between the wait on v_land and the arrival on kv_full[r], st.shared of
        // exactly the rows [valid, BLOCK_N) of every 64-column chunk of slot r, then
        // fence.proxy.async; one fix per work tile that needs it, in order.
        std::vector<int> want_valid;
        for (const Tile& t : mine) {
          const KvShape ks = kv_shape(c, t, bn, box_rows);
          if (ks.fix) want_valid.push_back(ks.valid_last);
        }
        const uint64_t barb = 0x400 + static_cast<uint64_t>(k.mv("SMEM_BAR_OFF"));
        const uint64_t v_land = barb + static_cast<uint64_t>(k.mv("BAR_V_LAND"));
        const uint64_t kv_full0 = barb + static_cast<uint64_t>(k.mv("BAR_KV_FULL"));
        const long long slots = k.mv("KERNEL_KV_SLOTS"), slot_bytes = k.mv("KV_SLOT_BYTES"), box_bytes = k.mv("KV_BOX_BYTES");
        std::size_t fixes = 0;
        bool in_fix = false, fenced = false;
        std::set<uint64_t> zeros;
        for (const sm100_exec::TraceEv& e : th.trace) {
          if (e.kind == "wait" && e.addr == v_land) {
            in_fix = true;
            fenced = false;
            zeros.clear();
          } else if (in_fix && e.kind == "st_shared") {
            zeros.insert(e.addr);
            fenced = false;
          } else if (in_fix && e.kind == "fence_proxy") {
            fenced = true;
          } else if (in_fix && e.kind == "arrive") {
            in_fix = false;
            const long long r = static_cast<long long>(e.addr - kv_full0) / 8;
            std::set<uint64_t> want_z;
            if (fixes < want_valid.size() && e.addr >= kv_full0 && r < slots) {
              const uint64_t slot = 0x400 + static_cast<uint64_t>(k.mv("SMEM_KV_OFF") + r * slot_bytes);
              for (int bx = 0; bx < D / 64; ++bx)
                for (int row = want_valid[fixes]; row < bn; ++row)
                  for (int un = 0; un < 8; ++un) want_z.insert(slot + static_cast<uint64_t>(bx * box_bytes + row * 128 + 16 * un));
            }
            if (zeros != want_z || !fenced) {
              std::ostringstream m_;
              m_ << k.name << " " << c.what << " CTA " << cta << ": V tail fix #" << fixes << ": " << zeros.size() << " zeroed 16-byte units ("
                 << want_z.size() << " expected: rows past " << (fixes < want_valid.size() ? want_valid[fixes] : -1)
                 << " keys of the slot)" << (fenced ? "" : ", no fence.proxy.async before kv_full");
              fail(m_);
              ok = false;
            }
            ++fixes;
          }
        }
        tally->zeroed += static_cast<long>(fixes);
        if (fixes != want_valid.size()) {
          std::ostringstream m_;
          m_ << k.name << " " << c.what << " CTA " << cta << ": " << fixes << " V tail fixes, " << want_valid.size() << " expected";
          fail(m_);
          ok = false;
        }
        tally->tma += static_cast<long>(got_c.size());
        if (got_c != want_c) {
          {
        std::ostringstream m_;
        m_ << k.name << " " << c.what << " CTA " << cta << ": TMA load coordinates differ from the tiles' rows (" << got_c.size()
                            << " loads, " << want_c.size() << " expected)";
        fail(m_);
      }
          ok = false;
        }
      }
      // 3. stores: O by TMA (correction row 0) in whole 16-row groups of rows < len_q; O per row
      //    (correction rows of the group that crosses len_q); LSE (softmax rows < len_q)
      std::multiset<std::vector<long long>> want_st, got_st;
      std::multiset<uint64_t> want_g, got_g;
      const bool correction = std::string(r.program).rfind("correction", 0) == 0;
      const int row = static_cast<int>(r.tid % 128);
      for (const Tile& t : mine) {
        const bool vq = !c.cu_q.empty();
        for (int qt = 0; qt < T; ++qt) {
          if (correction) {
            if (row == 0)
              for (int g = 0; g < 8; ++g) {
                const int r0 = t.first_row + 128 * qt + 16 * g;
                if (r0 + 16 <= t.len_q)
                  for (int bx = 0; bx < D / 64; ++bx) want_st.insert({64 * bx, (vq ? t.qbase : 0) + r0, t.head, vq ? 0 : t.b});
              }
            const int i = t.first_row + 128 * qt + row;
            if (i < t.len_q && (i / 16) * 16 + 16 > t.len_q)
              for (int un = 0; un < D / 8; ++un)
                want_g.insert(kO + 2 * static_cast<uint64_t>(t.qbase * s.ext.o_seqbase_stride + int64_t(i) * s.p.o_seq_stride +
                                                               int64_t(t.head) * s.p.o_head_stride) +
                              16 * static_cast<uint64_t>(un));
          } else if (std::string(r.program).rfind("softmax", 0) == 0 &&
                     (std::string(r.program).find('1') != std::string::npos) == (qt == 1)) {
            const int i = t.first_row + 128 * qt + row;
            if (i < t.len_q)
              want_g.insert(kLse + 4 * static_cast<uint64_t>(int64_t(t.head) * s.ext.lse_head_stride +
                                                              int64_t(t.qbase) * s.ext.lse_batch_stride + i));
          }
        }
      }
      // 4. the softmax's mask, per KV tile that needs one for this row (cnt < BLOCK_N or clo > 0:
      //    the executor's vote is the thread's own predicate): column c of tile j kept iff its key
      //    is in the row's band [lo, hi) (keys from kbase = j0 BLOCK_N; hi also <= len_k)
      if (std::string(r.program).rfind("softmax", 0) == 0) {
        const ptxfmha::AttnWindow w = ptxfmha::canonical_window(s.p.causal, s.p.window_left, s.p.window_right,
                                                                ptxfmha::attn_max_len_q(s.p), ptxfmha::attn_max_len_k(s.p));
        const int qt = std::string(r.program).find('1') != std::string::npos ? 1 : 0;
        std::vector<long long> want_m, got_m;
        for (const Tile& t : mine) {
          const long long i = t.first_row + 128LL * qt + row, dgl = i + t.len_k - t.len_q, kbase = int64_t(t.j0) * bn;
          const long long lo = w.left >= 0 ? dgl - w.left - kbase : LLONG_MIN / 2;
          const long long hi = std::min<long long>(t.len_k, w.right >= 0 ? dgl + w.right + 1 : LLONG_MAX / 2) - kbase;
          for (int j = 0; j < t.n; ++j) {
            const long long cnt = hi - int64_t(j) * bn, clo = lo - int64_t(j) * bn;
            if (!(cnt < bn || clo > 0)) continue;
            for (int col = 0; col < bn; ++col) want_m.push_back(col >= clo && col < cnt ? 1 : 0);
          }
        }
        for (const sm100_exec::TraceEv& e : th.trace)
          if (e.kind == "mask") got_m.push_back(e.arg);
        // the score modifiers run on every KV tile when their flag is on, never when it is off:
        // softcap one tanh.approx per column, ALiBi one |.| per column; a sink one pair of ex2
        long long tiles = 0;
        for (const Tile& t : mine) tiles += t.n;
        auto ran = [&](const char* op) { auto it = th.executed.find(op); return it == th.executed.end() ? 0L : it->second; };
        if (ran("tanh.approx.f32") != (c.softcap > 0 ? tiles * bn : 0) || ran("abs.f32") != (c.alibi ? tiles * bn : 0)) {
          std::ostringstream m_;
          m_ << k.name << " " << c.what << " " << r.program << " thread " << r.tid << ": tanh.approx " << ran("tanh.approx.f32")
             << ", abs " << ran("abs.f32") << " for " << tiles << " KV tiles of " << bn << " columns";
          fail(m_);
          ok = false;
        }
        tally->masked += static_cast<long>(got_m.size());
        if (!bad_metadata && got_m != want_m) {
          std::ostringstream m_;
          m_ << k.name << " " << c.what << " CTA " << cta << " " << r.program << " thread " << r.tid << ": the mask differs from the band ("
             << got_m.size() << " masked columns, " << want_m.size() << " expected)";
          fail(m_);
          ok = false;
        }
      }
      for (const sm100_exec::TraceEv& e : th.trace) {
        if (e.kind == "tma_store") got_st.insert(e.coords);
        if (e.kind == "st_global") got_g.insert(e.addr);
      }
      // Device metadata reads: inside cu_seqlens [batch + 1], seqused_k [batch], the block table
      // [batch, max_blocks], sinks / slopes [heads_q] (valid or not, whatever they hold).
      for (const sm100_exec::TraceEv& e : th.trace) {
        if (e.kind != "ld_global") continue;
        ++tally->metadata;
        auto in = [&](uint64_t base, std::size_t n) { return e.addr >= base && e.addr + 4 <= base + 4 * n; };
        const bool inside = (!c.cu_q.empty() && in(kCuQ, c.cu_q.size())) || (!c.cu_k.empty() && in(kCuK, c.cu_k.size())) ||
                            (!c.used.empty() && in(kUsed, static_cast<std::size_t>(c.batch))) ||
                            (!c.table.empty() && in(kTable, static_cast<std::size_t>(c.batch) * c.max_blocks)) ||
                            (c.sinks && in(kSinks, static_cast<std::size_t>(c.heads_q))) || (c.alibi && in(kSlopes, static_cast<std::size_t>(c.heads_q)));
        if (!inside) {
          std::ostringstream m_;
          m_ << k.name << " " << c.what << ": thread " << r.tid << " reads device metadata at 0x" << std::hex << e.addr << std::dec
             << ", outside the arrays";
          fail(m_);
          ok = false;
        }
      }
      for (uint64_t a : got_g) {
        const bool in_o = a >= kO && a + 16 <= kO + o_bytes, in_lse = a >= kLse && a + 4 <= kLse + lse_bytes;
        if (!in_o && !in_lse) {
          {
        std::ostringstream m_;
        m_ << k.name << " " << c.what << ": thread " << r.tid << " stores at 0x" << std::hex << a << std::dec
                            << ", outside O and LSE";
        fail(m_);
      }
          ok = false;
        }
      }
      for (const auto& co : got_st) {
        const long long rows = c.cu_q.empty() ? c.seqlen_q : c.total_q;
        if (co.size() != 4 || co[1] < 0 || co[1] + 16 > rows || co[3] < 0 || co[3] >= (c.cu_q.empty() ? c.batch : 1)) {
          {
        std::ostringstream m_;
        m_ << k.name << " " << c.what << ": an O TMA store box outside the O tensor (row " << (co.size() > 1 ? co[1] : -1) << ")";
        fail(m_);
      }
          ok = false;
        }
      }
      if (!bad_metadata && (got_st != want_st || got_g != want_g)) {
        {
        std::ostringstream m_;
        m_ << k.name << " " << c.what << " CTA " << cta << " " << r.program << " thread " << r.tid << ": stores differ: TMA "
                          << got_st.size() << " (expected " << want_st.size() << "), st.global " << got_g.size() << " (expected "
                          << want_g.size() << ")";
        fail(m_);
      }
        ok = false;
      }
      tally->stores += static_cast<long>(got_st.size() + got_g.size());
    }
  }
  tally->rows += static_cast<long>(all.size());
  return ok;
}

// Bad device metadata: offsets that decrease, overlap, run past total_q / total_k, are negative
// or huge; seqused_k negative or past the keys; page ids negative, past the pool, INT32_MIN.
inline std::vector<Case> bad_cases() {
  std::vector<Case> bad;
  {
    Case c;
    c.what = "decreasing, negative and huge cu_seqlens";
    c.batch = 4;
    c.cu_q = {5, -40, 900, 300, INT32_MAX};
    c.cu_k = {-7, 2000000000, 30, 10, -1};
    c.max_q = 400, c.max_k = 300, c.total_q = 600, c.total_k = 250;
    c.causal = 1;
    bad.push_back(c);
  }
  {
    Case c;
    c.what = "sequences past the totals, overlapping keys, window";
    c.batch = 2;
    c.cu_q = {0, 300, 2000};
    c.cu_k = {100, 50, 900};
    c.max_q = 1000, c.max_k = 700, c.total_q = 513, c.total_k = 800;
    c.window_left = 33, c.window_right = 0;
    bad.push_back(c);
  }
  {
    Case c;
    c.what = "seqused_k negative and huge, page ids negative, past the pool and INT32_MIN";
    c.batch = 3, c.seqlen_q = 200, c.seqlen_k = 400, c.heads_q = 2, c.heads_kv = 2;
    c.page_size = 16, c.max_blocks = 25, c.num_pages = 30;
    const int32_t ids[] = {-1, 1000000, 29, 30, 31, INT32_MIN, INT32_MAX, 0, 7};
    for (int i = 0; i < c.batch * c.max_blocks; ++i) c.table.push_back(ids[i % 9]);
    c.used = {-5, INT32_MAX, 170};
    c.causal = 1;
    bad.push_back(c);
  }
  {
    Case c;
    c.what = "seqused_k past the packed sequence's keys (varlen K)";
    c.batch = 2, c.seqlen_q = 100;
    c.cu_k = {0, 90, 300};
    c.max_k = 250, c.total_k = 300;
    c.used = {5000, -1};
    bad.push_back(c);
  }
  return bad;
}

}  // namespace sm100a_feat
