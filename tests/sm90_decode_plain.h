// The "sm90 decode protocol model" of the plain mma.sync decode rows (4 consumer warps + 1
// producer warp, 160 threads: fmha_decode_d64 / d128 _sm90a, _h2, _ho, _e4m3), part 1: what each
// role does, from its PTX. What is checked and why: the header comment of
// tests/test_cpu_sm90_decode_protocol_plain.cpp. The checks: tests/sm90_decode_plain_hb.h; the
// exhaustive exploration: tests/sm90_decode_plain_explore.h; the injected bugs:
// tests/sm90_decode_plain_mut.h. Shared with the converter rows' model (sm90_decode_protocol.h):
// the kernels' macros and statements, Verdict, the mutations' edits.
//
//   Config, params_of  one split (or one _ho CTA's tickets): the parameter block
//   Facts, Map         the row's layout; shared-memory bytes -> units (a 16-key sub-block of one
//                      head's K or V tile of one stage, all column blocks; _ho: each stage's slot
//                      words, each warp's m / l)
//   run_lane           one thread executed (sm100_model/ptx_exec.h with trace_data: loads,
//                      stores, cp.async, shuffles; _ho: the tickets as lane 0's atom results, the
//                      slot words the producer stored as the consumers' loads)
//   Role, build_model  each role (a consumer warp, the producer warp) from two of its lanes, 0 and
//                      31: the synchronisation nodes (mbarrier waits / arrivals with their
//                      arrival counts, named barriers with their thread counts), the units read
//                      and written between them (gaps), and the TMA / cp.async writes, which land
//                      asynchronously (AsyncWrite: their barrier's phase)
//   Template           the EPILOGUE's and HO_FLUSH's accesses of a whole warp (all 32 lanes; a
//                      lane's items differ), which replace the two lanes' in those gaps
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <bitset>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sm90_decode_protocol.h"

namespace sm90_decode_plain {

using sm100_exec::TraceEv;
using sm90_decode_protocol::KernelMacros;
using sm90_decode_protocol::kSmem;
using sm90_decode_protocol::Verdict;

// ---- one split ---------------------------------------------------------------------------------
struct Config {
  long long keys = 0;        // the sequence's cached keys (max_seqlen_k; no seqlens array)
  long long split_keys = 0;  // keys per split (0: one split of every key); _ho: per chunk
  long long split = 0;       // the CTA's split (ctaid.y; not _ho)
  long long rows = 16;       // packed rows: one token x GQA up to 16, else 4 tokens
  int page = 0;              // page size (0: a contiguous cache)
  bool cpasync = false;      // contiguous with DP_K_PTR set: the cp.async producer (CPASYNC rows)
  bool causal = false;
  std::vector<long long> tickets;  // _ho: lane 0's tickets in order (then num_splits: the end)
  long long num_splits = 0;        // 0: the splits (_ho: chunks) that cover the keys; more: the
                                   // ones past the keys empty (a sequence shorter than the plan's)
  long long sk() const { return split_keys > 0 ? split_keys : std::max<long long>(keys, 64); }
  long long splits() const { return num_splits > 0 ? num_splits : std::max<long long>(1, (keys + sk() - 1) / sk()); }
  std::string str() const {
    std::string s = std::to_string(keys) + " keys";
    if (split_keys > 0) s += ", " + std::to_string(split_keys) + " a split" + (tickets.empty() ? ", split " + std::to_string(split) : "");
    s += ", " + std::to_string(rows) + " rows, " +
         (page      ? "pages of " + std::to_string(page)
          : cpasync ? "contiguous cp.async"
                    : "contiguous TMA");
    if (causal) s += ", causal";
    if (num_splits > 0) s += ", " + std::to_string(num_splits) + " splits";
    if (!tickets.empty()) {
      s += ", tickets";
      for (long long t : tickets) s += " " + std::to_string(t);
    }
    return s;
  }
};

inline int log2_of(long long x) {
  int s = 0;
  while ((1ll << s) < x) ++s;
  return s;
}

// The row's facts (its macros).
struct Facts {
  long long D = 0, stages = 0, heads = 0, kv_tile = 0, stage_bytes = 0, cb_bytes = 0, cb_row = 0, ring = 0;
  long long bar_full = 0, bar_empty = 0, slot_off = 0, ml_off = 0, bar_epi = 0, bar_zero_v0 = 0, bar_cta = 0;
  long long empty_count = 0, consumer_threads = 0, producer_thread = 0, init_thread = 0;
  bool ho = false, cpasync_row = false;
  int ups() const { return static_cast<int>(2 * heads * 4); }  // units per stage: K and V of each head, 4 sub-blocks
  int ring_units() const { return static_cast<int>(stages) * ups(); }
  int units() const { return ring_units() + (ho ? 8 + 4 : 0); }
};
inline Facts facts_of(const KernelMacros& k) {
  Facts f;
  f.D = k.mv("D");
  f.stages = k.mv("STAGES");
  f.heads = k.mv("HEADS");
  f.kv_tile = k.mv("KV_TILE_BYTES");
  f.stage_bytes = k.mv("STAGE_BYTES");
  f.cb_bytes = k.mv("CB_BYTES");
  f.cb_row = k.mv("CB_ROW_BYTES");
  f.ring = k.mv("RING_BYTES");
  f.bar_full = k.mv("BAR_FULL_OFF");
  f.bar_empty = k.mv("BAR_EMPTY_OFF");
  f.slot_off = k.mv("HO_SLOT_OFF");
  f.ml_off = k.mv("HO_ML_OFF");
  f.bar_epi = k.mv("BAR_EPI");
  f.bar_zero_v0 = k.mv("BAR_ZERO_V0");
  f.bar_cta = k.mv("BAR_CTA");
  f.empty_count = k.mv("EMPTY_ARRIVALS");
  f.consumer_threads = k.mv("CONSUMER_THREADS");
  f.producer_thread = 32 * k.mv("PRODUCER_WARP");
  f.init_thread = k.mv("INIT_THREAD");
  f.ho = k.mv("HANDOUT") != 0;
  f.cpasync_row = k.mv("CPASYNC") != 0;
  return f;
}

// The parameter block of a split (sm90_decode_protocol::base_params and those below; _h2: two KV
// heads, the CTA's 0 and 1).
inline std::map<long long, uint64_t> params_of(const KernelMacros& k, const Facts& f, const Config& c) {
  std::map<long long, uint64_t> p = sm90_decode_protocol::base_params(k);
  auto at = [&](const char* m) { return k.mv(m); };
  const long long qlen = c.rows <= 16 ? 1 : 4, gqa = c.rows / qlen, heads_kv = 2 * f.heads;
  const long long D = f.D, kvb = k.mv("KV_ELEM_BYTES");
  p[at("DP_WS_O_PTR")] = 0xa00000000ull;
  p[at("DP_WS_LSE_PTR")] = 0xb00000000ull;
  p[at("DP_Q_HEAD_STRIDE")] = static_cast<uint64_t>(D);
  p[at("DP_Q_SEQ_STRIDE")] = static_cast<uint64_t>(D * gqa * heads_kv);
  p[at("DP_Q_BATCH_STRIDE")] = static_cast<uint64_t>(D * gqa * heads_kv * qlen);
  p[at("DP_O_HEAD_STRIDE")] = static_cast<uint64_t>(D);
  p[at("DP_O_SEQ_STRIDE")] = static_cast<uint64_t>(D * gqa * heads_kv);
  p[at("DP_O_BATCH_STRIDE")] = static_cast<uint64_t>(D * gqa * heads_kv * qlen);
  p[at("DP_BATCH")] = 1;
  p[at("DP_SEQLEN_Q")] = static_cast<uint64_t>(qlen);
  p[at("DP_MAX_SEQLEN_K")] = static_cast<uint64_t>(c.keys);
  p[at("DP_HEADS_Q")] = static_cast<uint64_t>(gqa * heads_kv);
  p[at("DP_HEADS_KV")] = static_cast<uint64_t>(heads_kv);
  p[at("DP_GQA_RATIO")] = static_cast<uint64_t>(gqa);
  p[at("DP_NUM_SPLITS")] = static_cast<uint64_t>(c.splits());
  p[at("DP_SPLIT_KEYS")] = static_cast<uint64_t>(c.sk());
  p[at("DP_CAUSAL")] = c.causal ? 1 : 0;
  p[at("DP_M_GROUPS")] = 1;
  p[at("DP_PACKED_ROWS")] = static_cast<uint64_t>(c.rows);
  p[at("DP_COMBINE_ROWS")] = static_cast<uint64_t>(c.rows);
  p[at("DP_KV_SCALE_STRIDE")] = 1;
  p[at("DP_BOX_SHIFT")] = 6;
  if (c.page > 0) {
    p[at("DP_BLOCK_TABLE_PTR")] = 0x600000000ull;
    p[at("DP_PAGE_SHIFT")] = static_cast<uint64_t>(log2_of(c.page));
    p[at("DP_MAX_BLOCKS_PER_SEQ")] = static_cast<uint64_t>(std::max<long long>(1, (c.keys + c.page - 1) / c.page));
    p[at("DP_BOX_SHIFT")] = static_cast<uint64_t>(std::min(log2_of(c.page), 6));
  } else if (c.cpasync) {
    p[at("DP_K_PTR")] = 0x700000000ull;
    p[at("DP_V_PTR")] = 0x800000000ull;
    p[at("DP_KV_SEQ_STRIDE")] = static_cast<uint64_t>(heads_kv * D * kvb);
    p[at("DP_KV_HEAD_STRIDE")] = static_cast<uint64_t>(D * kvb);
    p[at("DP_KV_BATCH_STRIDE")] = static_cast<uint64_t>(c.keys * heads_kv * D * kvb);
  }
  if (f.ho) p[at("DP_HO_COUNTERS_PTR")] = 0x900000000ull;
  return p;
}

// ---- shared memory -> units ----------------------------------------------------------------------
constexpr int kMaxUnits = 256;
using Units = std::bitset<kMaxUnits>;

struct Map {
  Facts f;
  // the unit of a shared-memory byte; -1: outside what the model knows (the barriers, beyond)
  int unit(uint64_t addr) const {
    if (addr == ~0ull || addr < kSmem) return -1;
    const long long off = static_cast<long long>(addr - kSmem);
    if (off < f.ring) {
      const long long s = off / f.stage_bytes, in = off % f.stage_bytes, tile = in / f.kv_tile;
      const long long row = (in % f.kv_tile) % f.cb_bytes / f.cb_row;
      return static_cast<int>(s * f.ups() + tile * 4 + row / 16);
    }
    if (f.ho && off >= f.slot_off && off < f.slot_off + 64) return f.ring_units() + static_cast<int>((off - f.slot_off) / 8);
    if (f.ho && off >= f.ml_off && off < f.ml_off + 2048) return f.ring_units() + 8 + static_cast<int>((off - f.ml_off) / 512);
    return -1;
  }
  // the ring unit of stage s, tile (K heads, then V heads) t, sub-block b
  int ring_unit(long long s, long long t, long long b) const { return static_cast<int>(s * f.ups() + t * 4 + b); }
  int slot_unit(long long s) const { return f.ring_units() + static_cast<int>(s); }
  // a unit moved by ds stages (ring units and slot words; m / l stay)
  int shifted(int u, long long ds) const {
    if (u < f.ring_units()) return static_cast<int>((u + ds * f.ups()) % f.ring_units());
    if (u < f.ring_units() + 8) return f.ring_units() + static_cast<int>((u - f.ring_units() + ds) % f.stages);
    return u;
  }
  Units shifted(const Units& x, long long ds) const {
    Units o;
    for (int u = 0; u < f.units(); ++u)
      if (x[static_cast<std::size_t>(u)]) o.set(static_cast<std::size_t>(shifted(u, ds)));
    return o;
  }
  std::string name(int u) const {
    if (u < f.ring_units()) {
      const int s = u / f.ups(), t = (u % f.ups()) / 4, b = u % 4;
      const bool v = t >= f.heads;
      return "stage " + std::to_string(s) + (v ? " V" : " K") + (f.heads > 1 ? " head " + std::to_string(t % f.heads) : "") +
             " sub-block " + std::to_string(b);
    }
    if (u < f.ring_units() + 8) return "stage " + std::to_string(u - f.ring_units()) + "'s slot words";
    return "warp " + std::to_string(u - f.ring_units() - 8) + "'s m / l";
  }
  std::string names(const Units& x) const {
    std::string o;
    for (int u = 0; u < f.units(); ++u)
      if (x[static_cast<std::size_t>(u)]) o += (o.empty() ? "" : ", ") + name(u);
    return "{" + o + "}";
  }
};

// ---- one thread ---------------------------------------------------------------------------------
struct Lane {
  std::vector<TraceEv> trace;
  std::string error;
  int unknown_branches = 0;
};
// Hooks of a lane: _ho's tickets (lane 0's atom results), the slot words the consumers load (from
// the producer's stores), a broadcast's value from lane 0's trace (shfl.sync.idx from lane 0).
struct Hooks {
  const std::vector<long long>* tickets = nullptr;
  long long ticket_end = 0;
  const std::map<long long, std::vector<std::pair<uint64_t, uint64_t>>>* slots = nullptr;  // stage -> words per slot
  const Facts* f = nullptr;
  const std::vector<TraceEv>* lane0 = nullptr;
  // the statements' decoding, shared by the lanes of one statement vector with the same hooks
  std::shared_ptr<sm100_exec::Thread::Decoding>* decoding = nullptr;
};
inline Lane run_lane(const std::vector<sm100_ptx::Stmt>& st, const KernelMacros& k, const std::map<long long, uint64_t>& params,
                     long long tid, long long ctaid_y, const Hooks& h) {
  sm100_exec::Thread th(st, k.macros);
  th.tid = static_cast<uint32_t>(tid);
  th.ctaid[1] = static_cast<uint32_t>(ctaid_y);
  th.nctaid[1] = static_cast<uint32_t>(ctaid_y + 1);
  th.smem_symbol = kSmem;
  th.smem_name = "smem_dyn";
  th.param_name = "dparams";
  th.params = params;
  th.trace_data = true;
  std::size_t drawn = 0;
  if (h.tickets != nullptr)
    th.atom_in = [&](uint64_t* v) {
      *v = static_cast<uint64_t>(drawn < h.tickets->size() ? (*h.tickets)[drawn] : h.ticket_end);
      ++drawn;
      return true;
    };
  if (h.slots != nullptr)
    th.shared_in = [&](uint64_t a, uint64_t* v) {
      // stage s's slot words of the slot this thread waited for last on full[s]
      const long long off = static_cast<long long>(a - kSmem) - h.f->slot_off;
      if (off < 0 || off >= 64) return false;
      const long long s = off / 8;
      const uint64_t bar = kSmem + static_cast<uint64_t>(h.f->bar_full + 8 * s);
      long long n = 0;
      for (const TraceEv& e : th.trace) n += e.kind == "wait" && e.addr == bar;
      auto it = h.slots->find(s);
      if (n == 0 || it == h.slots->end() || n > static_cast<long long>(it->second.size())) return false;
      const auto& w = it->second[static_cast<std::size_t>(n - 1)];
      *v = (off % 8) < 4 ? w.first : w.second;
      return true;
    };
  if (h.lane0 != nullptr)
    th.shfl_in = [&](std::size_t stmt, int lane, uint64_t* v) {
      if (lane != 0) return false;
      long long n = 0;  // this thread's shuffles at stmt so far: the lane's n-th there
      for (const TraceEv& e : th.trace) n += e.kind == "shfl" && e.stmt == stmt;
      for (const TraceEv& e : *h.lane0)
        if (e.kind == "shfl" && e.stmt == stmt && n-- == 0) {
          if (e.arg == sm100_exec::kUnknownWord) return false;
          *v = static_cast<uint64_t>(e.arg);
          return true;
        }
      return false;
    };
  if (h.decoding != nullptr && *h.decoding) th.decoding = *h.decoding;
  Lane r;
  if (!th.run()) r.error = th.error;
  if (h.decoding != nullptr) *h.decoding = th.decoding;
  r.unknown_branches = th.unknown_branches;
  r.trace = std::move(th.trace);
  return r;
}

// ---- the roles ----------------------------------------------------------------------------------
enum class Kind { Wait, Arrive, Bar };
struct Node {
  Kind kind = Kind::Wait;
  uint64_t bar = 0;     // Wait / Arrive: the mbarrier; Bar: the named barrier's id
  int parity = 0;       // Wait
  long long count = 0;  // Bar: its thread count
  int mult = 0;         // Arrive: arrivals (the lanes that arrive: 32, or lane 0's 1)
  long long tx = 0;     // Arrive: expect_tx bytes
  std::size_t stmt = 0;
};
struct Gap {
  Units rd, wr;           // units read / written (generic proxy) between the node before and after
  bool unfenced = false;  // some lane's stores here reach its next arrival without fence.proxy.async
  bool epi = false;       // the EPILOGUE's / HO_FLUSH's part stores (byte-disjoint across the warps: Template)
  bool flush = false;     // a gap of the EPILOGUE or HO_FLUSH (after a BAR_EPI)
};
struct Role {
  std::string name;
  bool consumer = false;
  int warp = 0;
  std::vector<Node> nodes;
  std::vector<Gap> gaps;  // nodes.size() + 1: gap g lies before node g
};
// A TMA box or the cp.async copies of a gap: issued in gap `gap` of role `role`, they land before
// phase `phase` of barrier `bar` completes (TMA: its transaction bytes; cp.async: the lane's
// cp.async.mbarrier.arrive.noinc, which fires once its copies landed) and order nothing else.
struct AsyncWrite {
  int role = 0, gap = 0, phase = 0;
  uint64_t bar = 0;
  Units wr;
  long long bytes = 0;
  bool tma = false;
  std::size_t stmt = 0;
};

// The warp-wide accesses of the EPILOGUE / HO_FLUSH gaps (each lane's items differ): a thread
// takes BAR_EPI `bars` times there (2: before the parts are put, before they are merged); per
// warp, the units of the gap after its k-th, and the 4-byte words stored after the first (the
// parts, which the warps put side by side).
struct Template {
  int bars = 0;
  std::vector<std::vector<Units>> rd, wr;      // [warp][k]
  std::vector<std::set<uint64_t>> part_words;  // [warp]
  std::string error;
  bool empty() const { return rd.empty(); }
};

struct Model {
  Facts f;
  Map map;
  std::vector<Role> roles;  // consumer warps 0-3, the producer
  std::vector<AsyncWrite> async;
  std::map<uint64_t, long long> inits;                         // mbarrier -> count
  Verdict pre;                                                 // problems found while building the model
  std::vector<std::vector<std::vector<TraceEv>>> lane_traces;  // [role][0 / 1]: lanes 0, 31
  std::string error;
  int unknown_branches = 0;  // the producer's (the consumers' rescale vote is data)
  long long events = 0;      // nodes + async writes
};

// Lane events that are synchronisation nodes, and their comparison across the lanes.
inline bool is_node(const TraceEv& e, const Facts& f) {
  return e.kind == "wait" || e.kind == "arrive" || e.kind == "expect_tx" || e.kind == "cp_async_arrive" ||
         (e.kind == "bar_sync" && e.arg != f.bar_cta);
}
inline Node node_of(const TraceEv& e) {
  Node n;
  n.stmt = e.stmt;
  n.bar = e.kind == "bar_sync" ? static_cast<uint64_t>(e.arg) : e.addr;
  if (e.kind == "wait") {
    n.kind = Kind::Wait;
    n.parity = static_cast<int>(e.arg);
  } else if (e.kind == "bar_sync") {
    n.kind = Kind::Bar;
    n.count = e.count;
  } else {
    n.kind = Kind::Arrive;
    n.tx = e.kind == "expect_tx" ? e.arg : 0;
  }
  return n;
}
inline bool same_node(const Node& a, const Node& b) {
  return a.kind == b.kind && a.bar == b.bar && a.parity == b.parity && a.count == b.count && a.stmt == b.stmt;
}

// Builds role `r` (name, warp) from its lanes 0 and 31: the nodes (lane 0's; an arrival both make
// is the warp's 32, one only lane 0 makes is 1; a wait or named barrier one lane misses, or an
// arrival only lane 31 makes, is a problem), each lane's reads and generic writes in the gap
// where they happen (lane 31's: the gap before its next node), and the asynchronous writes.
inline void add_role(Model* m, const std::string& name, bool consumer, int warp, const Lane& l0, const Lane& l31, long long box_bytes) {
  const Facts& f = m->f;
  Role r;
  r.name = name;
  r.consumer = consumer;
  r.warp = warp;
  const int ri = static_cast<int>(m->roles.size());
  std::vector<std::size_t> at31;  // lane 31's node k -> the role's node
  {
    std::vector<const TraceEv*> b;
    for (const TraceEv& e : l31.trace)
      if (is_node(e, f)) b.push_back(&e);
    std::size_t q = 0;
    for (const TraceEv& e : l0.trace) {
      if (!is_node(e, f)) continue;
      Node n = node_of(e);
      if (q < b.size() && same_node(n, node_of(*b[q]))) {
        n.mult = 32;
        at31.push_back(r.nodes.size());
        ++q;
      } else if (n.kind == Kind::Arrive) {
        n.mult = 1;
      } else {
        m->pre.problem(name + ": lane 31 does not take lane 0's " + (n.kind == Kind::Wait ? "wait" : "named barrier") + " (stmt " +
                       std::to_string(n.stmt) + ")");
      }
      r.nodes.push_back(n);
    }
    if (q != b.size()) m->pre.problem(name + ": lane 31 synchronises where lane 0 does not (stmt " + std::to_string(b[q]->stmt) + ")");
  }
  r.gaps.resize(r.nodes.size() + 1);
  // the role's arrivals on a barrier before node g (the phase an arrival or a TMA belongs to)
  auto arrivals_before = [&](uint64_t bar, std::size_t g) {
    int n = 0;
    for (std::size_t i = 0; i < g && i < r.nodes.size(); ++i) n += r.nodes[i].kind == Kind::Arrive && r.nodes[i].bar == bar;
    return n;
  };
  std::map<std::pair<int, std::pair<uint64_t, int>>, std::size_t> grouped;  // (gap, (bar, phase)) -> async index
  auto add_async = [&](int gap, uint64_t bar, int phase, int unit, long long bytes, bool tma, std::size_t stmt) {
    auto key = std::make_pair(gap, std::make_pair(bar, phase));
    auto it = grouped.find(key);
    if (it == grouped.end()) {
      AsyncWrite a;
      a.role = ri;
      a.gap = gap;
      a.bar = bar;
      a.phase = phase;
      a.tma = tma;
      a.stmt = stmt;
      it = grouped.emplace(key, m->async.size()).first;
      m->async.push_back(a);
    }
    AsyncWrite& a = m->async[it->second];
    if (unit >= 0) a.wr.set(static_cast<std::size_t>(unit));
    a.bytes += bytes;
  };
  for (int lane = 0; lane < 2; ++lane) {
    const Lane& L = lane == 0 ? l0 : l31;
    std::set<std::size_t> stored;                    // gaps with ring stores since the lane's last fence.proxy.async
    std::size_t k = 0;                               // the lane's nodes passed
    std::vector<std::pair<int, long long>> pending;  // cp.async copies not yet arrived for: (unit, bytes)
    std::vector<std::size_t> pending_stmt;
    for (const TraceEv& e : L.trace) {
      const std::size_t gap = lane == 0 ? k : (k < at31.size() ? at31[k] : r.nodes.size());
      if (e.kind == "fence_proxy") stored.clear();
      if (is_node(e, f) && e.kind != "wait" && e.kind != "bar_sync") {  // an arrival: the stores it releases unfenced
        for (std::size_t g : stored) r.gaps[g].unfenced = true;
        stored.clear();
      }
      if (is_node(e, f)) {
        if (e.kind == "cp_async_arrive") {
          const std::size_t node = lane == 0 ? k : at31.at(k);
          const int phase = arrivals_before(e.addr, node);
          for (std::size_t i = 0; i < pending.size(); ++i)
            add_async(static_cast<int>(node), e.addr, phase, pending[i].first, pending[i].second, false, pending_stmt[i]);
          pending.clear();
          pending_stmt.clear();
        }
        ++k;
        continue;
      }
      if (e.kind == "init") {
        m->inits[e.addr] = e.arg;
        continue;
      }
      if (e.kind == "ld_shared" || e.kind == "st_shared") {
        const int u = m->map.unit(e.addr);
        if (u < 0) {
          m->pre.problem(name + ": a shared-memory " + (e.kind == "ld_shared" ? "load" : "store") + " outside the ring" +
                         (f.ho ? " and the slot words / m, l" : "") + " (stmt " + std::to_string(e.stmt) + ")");
          continue;
        }
        (e.kind == "ld_shared" ? r.gaps[gap].rd : r.gaps[gap].wr).set(static_cast<std::size_t>(u));
        if (e.kind == "st_shared" && u < f.ring_units()) stored.insert(gap);
      } else if (e.kind == "tma") {
        // a box of box_bytes from its destination, landing in the phase of the role's last arrival on its barrier
        const int phase = arrivals_before(e.addr, gap) - 1;
        if (phase < 0) m->pre.problem(name + ": a TMA load before any arrival on its barrier (stmt " + std::to_string(e.stmt) + ")");
        if (e.dst == ~0ull) m->pre.problem(name + ": a TMA load to an unknown address (stmt " + std::to_string(e.stmt) + ")");
        for (long long b = 0; b < box_bytes; b += f.cb_row) {
          const int u = m->map.unit(e.dst + static_cast<uint64_t>(b));
          if (u < 0 || u >= f.ring_units()) m->pre.problem(name + ": a TMA load outside the ring (stmt " + std::to_string(e.stmt) + ")");
          add_async(static_cast<int>(gap), e.addr, std::max(phase, 0), u < f.ring_units() ? u : -1, f.cb_row, true, e.stmt);
        }
      } else if (e.kind == "cp_async") {
        const int u = m->map.unit(e.addr);
        if (u < 0 || u >= f.ring_units()) m->pre.problem(name + ": a cp.async copy outside the ring (stmt " + std::to_string(e.stmt) + ")");
        pending.push_back({u < f.ring_units() ? u : -1, e.arg});
        pending_stmt.push_back(e.stmt);
      }
    }
    if (!pending.empty())
      m->pre.problem(name + ": cp.async copies no cp.async.mbarrier.arrive follows (stmt " + std::to_string(pending_stmt[0]) + ")");
  }
  m->lane_traces.push_back({l0.trace, l31.trace});
  m->roles.push_back(std::move(r));
}

// The EPILOGUE / HO_FLUSH gaps of a consumer role: those after the BAR_EPI nodes, in pairs.
inline std::vector<std::size_t> epi_nodes(const Role& r, const Facts& f) {
  std::vector<std::size_t> o;
  for (std::size_t i = 0; i < r.nodes.size(); ++i)
    if (r.nodes[i].kind == Kind::Bar && r.nodes[i].bar == static_cast<uint64_t>(f.bar_epi)) o.push_back(i);
  return o;
}

// The warp-wide accesses of the EPILOGUE (an empty split: every consumer thread goes there at
// once) or of one HO_FLUSH (_ho: one chunk of one tile, stage 0), every consumer thread executed.
inline Template make_template(const std::vector<sm100_ptx::Stmt>& st, const KernelMacros& k, long long rows) {
  const Facts f = facts_of(k);
  Map map{f};
  Config c;
  c.rows = rows;
  c.keys = f.ho ? 64 : 0;
  if (f.ho) {
    c.split_keys = 64;
    c.tickets = {0};
  }
  const std::map<long long, uint64_t> p = params_of(k, f, c);
  Template t;
  t.rd.resize(4);
  t.wr.resize(4);
  t.part_words.resize(4);
  Hooks h;
  std::map<long long, std::vector<std::pair<uint64_t, uint64_t>>> slots;
  if (f.ho) {  // the producer's slot words: {key 0, chunk 0 | last}, then the end
    Hooks hp;
    hp.tickets = &c.tickets;
    hp.ticket_end = c.splits();
    const Lane prod = run_lane(st, k, p, f.producer_thread, 0, hp);
    for (const TraceEv& e : prod.trace)
      if (e.kind == "st_shared" && e.words.size() == 2 && map.unit(e.addr) >= f.ring_units() && map.unit(e.addr) < f.ring_units() + 8)
        slots[map.unit(e.addr) - f.ring_units()].push_back({static_cast<uint64_t>(e.words[0]), static_cast<uint64_t>(e.words[1])});
    h.slots = &slots;
    h.f = &f;
  }
  std::shared_ptr<sm100_exec::Thread::Decoding> dec;
  h.decoding = &dec;
  for (long long tid = 0; tid < f.consumer_threads; ++tid) {
    const Lane l = run_lane(st, k, p, tid, 0, h);
    if (!l.error.empty()) t.error = "thread " + std::to_string(tid) + ": " + l.error;
    const std::size_t w = static_cast<std::size_t>(tid / 32);
    int epi = 0;        // BAR_EPI passed
    bool open = false;  // in the gap after one (it ends at the next mbarrier node)
    for (const TraceEv& e : l.trace) {
      if (e.kind == "bar_sync" && e.arg == f.bar_epi) {
        ++epi;
        open = true;
        if (t.rd[w].size() < static_cast<std::size_t>(epi)) {
          t.rd[w].resize(static_cast<std::size_t>(epi));
          t.wr[w].resize(static_cast<std::size_t>(epi));
        }
      } else if (is_node(e, f)) {
        open = false;
      }
      if (!open || (e.kind != "ld_shared" && e.kind != "st_shared")) continue;
      const int u = map.unit(e.addr);
      if (u < 0) {
        t.error = "thread " + std::to_string(tid) + ": an access outside the map (stmt " + std::to_string(e.stmt) + ")";
        continue;
      }
      (e.kind == "ld_shared" ? t.rd[w] : t.wr[w])[static_cast<std::size_t>(epi - 1)].set(static_cast<std::size_t>(u));
      if (epi == 1 && e.kind == "st_shared")
        for (long long b = 0; b < e.arg; b += 4) t.part_words[w].insert(e.addr + static_cast<uint64_t>(b));
    }
    if (tid == 0) t.bars = epi;
    if (epi != t.bars || epi == 0)
      t.error = "thread " + std::to_string(tid) + " takes BAR_EPI " + std::to_string(epi) + " times, thread 0 " + std::to_string(t.bars);
  }
  for (std::size_t a = 0; a < 4; ++a)
    for (std::size_t b = a + 1; b < 4; ++b)
      for (uint64_t x : t.part_words[a])
        if (t.part_words[b].count(x)) {
          t.error = "warps " + std::to_string(a) + " and " + std::to_string(b) + " store their parts into the same word +" +
                    std::to_string(x - kSmem);
          break;
        }
  return t;
}

// Every role of a split: the producer's lanes 0 and 31 (lane 31's broadcasts from lane 0's
// trace), then each consumer warp's (the slot words from the producer's stores), the roles
// built from them, the EPILOGUE / HO_FLUSH gaps replaced by the warps' (tpl; a lane's own must lie
// within them; HO_FLUSH's moved to the stage of the chunk's last slot).
inline Model build_model(const std::vector<sm100_ptx::Stmt>& st, const KernelMacros& k, const Config& c, const Template& tpl) {
  Model m;
  m.f = facts_of(k);
  m.map = Map{m.f};
  const Facts& f = m.f;
  REQUIRE(f.units() <= kMaxUnits);
  const std::map<long long, uint64_t> p = params_of(k, f, c);
  const long long box_bytes = (1ll << static_cast<int>(p.at(k.mv("DP_BOX_SHIFT")))) * f.cb_row;
  const long long y = f.ho ? 0 : c.split;
  std::shared_ptr<sm100_exec::Thread::Decoding> dec_p, dec_c;  // the lanes' decodings
  Hooks hp;
  hp.tickets = &c.tickets;
  hp.ticket_end = c.splits();
  hp.decoding = &dec_p;
  const Lane p0 = run_lane(st, k, p, f.producer_thread, y, hp);
  std::map<long long, std::vector<std::pair<uint64_t, uint64_t>>> slots;
  for (const TraceEv& e : p0.trace) {
    const int u = m.map.unit(e.addr);
    if (e.kind == "st_shared" && u >= f.ring_units() && u < f.ring_units() + 8)
      slots[u - f.ring_units()].push_back(
          {static_cast<uint64_t>(e.words.at(0)), static_cast<uint64_t>(e.words.size() > 1 ? e.words[1] : 0)});
  }
  hp.lane0 = &p0.trace;
  const Lane p31 = run_lane(st, k, p, f.producer_thread + 31, y, hp);
  Hooks hc;
  hc.slots = &slots;
  hc.f = &f;
  hc.decoding = &dec_c;
  std::vector<Lane> cl;
  for (int w = 0; w < 4; ++w)
    for (int lane : {0, 31}) cl.push_back(run_lane(st, k, p, 32 * w + lane, y, hc));
  for (int w = 0; w < 4; ++w)
    add_role(&m, "consumer warp " + std::to_string(w), true, w, cl[static_cast<std::size_t>(2 * w)],
             cl[static_cast<std::size_t>(2 * w + 1)], box_bytes);
  add_role(&m, "producer", false, 4, p0, p31, box_bytes);
  for (const Lane* l : {&p0, &p31}) m.unknown_branches += l->unknown_branches;
  for (std::size_t i = 0; i < cl.size(); ++i)
    if (!cl[i].error.empty()) m.error = "consumer thread " + std::to_string(32 * (i / 2) + 31 * (i % 2)) + ": " + cl[i].error;
  if (!p0.error.empty() || !p31.error.empty()) m.error = "producer: " + p0.error + p31.error;
  if (!tpl.error.empty()) m.pre.problem("epilogue template: " + tpl.error);
  for (Role& r : m.roles) {
    if (!r.consumer || tpl.empty() || tpl.bars == 0) continue;
    const std::vector<std::size_t> eps = epi_nodes(r, f);
    if (eps.size() % static_cast<std::size_t>(tpl.bars) != 0)
      m.pre.problem(r.name + ": BAR_EPI taken " + std::to_string(eps.size()) + " times, not in groups of " + std::to_string(tpl.bars));
    for (std::size_t j = 0; j < eps.size(); ++j) {
      long long ds = 0;  // _ho: the stage of the role's last wait on a full barrier
      for (std::size_t n = 0; f.ho && n < eps[j]; ++n)
        if (r.nodes[n].kind == Kind::Wait && r.nodes[n].bar < kSmem + static_cast<uint64_t>(f.bar_empty))
          ds = static_cast<long long>(r.nodes[n].bar - kSmem - static_cast<uint64_t>(f.bar_full)) / 8;
      const std::size_t w = static_cast<std::size_t>(r.warp), kth = j % static_cast<std::size_t>(tpl.bars);
      Gap& g = r.gaps[eps[j] + 1];
      const Units rd = m.map.shifted(tpl.rd[w][kth], ds), wr = m.map.shifted(tpl.wr[w][kth], ds);
      if ((g.rd & ~rd).any() || (g.wr & ~wr).any())
        m.pre.problem(r.name + ": lane 0's or 31's accesses after BAR_EPI outside its warp's " + m.map.names((g.rd & ~rd) | (g.wr & ~wr)));
      g.rd = rd;
      g.wr = wr;
      g.flush = true;
      g.epi = kth == 0;
    }
  }
  for (const Role& r : m.roles) m.events += static_cast<long long>(r.nodes.size());
  m.events += static_cast<long long>(m.async.size());
  return m;
}

}  // namespace sm90_decode_plain
