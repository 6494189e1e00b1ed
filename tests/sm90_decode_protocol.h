// The "sm90 decode protocol model" (tests/test_cpu_sm90_decode_protocol.cpp: the WG 3 row;
// tests/test_cpu_sm90_decode_protocol_pair.cpp: the WG 4 row): the mbarrier protocol of the
// converter-warp decode rows checked on their PTX, on the CPU. What it checks and why: the header
// comment of test_cpu_sm90_decode_protocol.cpp. This file is the model both test files share:
//
//   Row               a row and the labels its mutations edit
//   reduce            a thread's trace (sm100_model/ptx_exec.h) -> its synchronisation events
//   static_checks     per role: parities, copies freed / published, named barriers' counts
//   explore           every interleaving the mbarriers and named barriers allow
//   epilogue_regions  where a consumer warpgroup's EPILOGUE stores land (all its threads)
//   q_tile_checks     Q's tiles stored, fenced, and a barrier of all consumers before a wgmma
//   tile_map_checks   every role waits on its tiles' stages and copies
//   check_protocol    one split: each role's thread executed and reduced, then the above
//   check_splits      the unmutated row on splits of several key counts
// The injected bugs (Mutation, mutate, run_mutations): tests/sm90_decode_protocol_mut.h.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "ptx_util.h"
#include "sm100_model/ptx_exec.h"
#include "sm100_model/ptx_roles.h"

namespace sm90_decode_protocol {

using ptxfmha_test::KernelMacros;

constexpr uint64_t kSmem = 0x400;  // the dynamic window (the kernel rounds it up to 1024)

// A row and the labels of the statements its mutations edit (the consumers' loops differ).
struct Row {
  const char* name;
  int consumer_wgs;           // consumer warpgroups: one role each
  const char* vfree_after;    // the consumers' vempty arrive: the first mbarrier.arrive after it
  const char* vfull_loop;     // the consumers' vfull try_wait (its loop label)
  const char* pv_wait_after;  // the P V's wgmma.wait_group: the first after it
};
// WG 3: producer warp, one consumer warpgroup, 2 converter warps (mainloop_wg_e4m3_pipe.ptxh;
// its _cl twin runs the same loop, its cluster merge after it: test_cpu_decode_cluster.cpp)
inline const Row kWgc{"fmha_decode_d256_e4m3_wgc_sm90a", 1, "PV_WAIT", "EP_VFULL_LOOP_L", "PV_WAIT"};
// WG 4: two consumer warpgroups (even / odd tiles), producer warp, 4 converter warps
// (mainloop_wg_e4m3_pair.ptxh)
inline const Row kWg2c{"fmha_decode_d256_e4m3_wg2c_sm90a", 2, "V_FREE", "PAIR_VFULL_LOOP", "PV_WGMMA"};

struct Layout {
  long long stages = 0, stage_bytes = 0, copy_off = 0, copy_tile_bytes = 0, bar_full = 0, bar_empty = 0;
  long long consumer_threads = 0, converter_threads = 0, converter0 = 0, producer_thread = 0;
  long long wg_threads = 0, q_tile_off = 0, q_tile_bytes = 0, bar_cta = 0, bar_epi = 0;
};

enum class Role { Consumer, Producer, Converter };

// A role's synchronisation event, reduced to what the model needs.
struct Ev {
  enum Kind { Wait, Arrive, ArriveTx, Write, MmaIssue, MmaWait0, Fence, Bar } kind;
  uint64_t bar = 0;      // Wait / Arrive / ArriveTx: the barrier; Bar: the named barrier's id
  int parity = 0;        // Wait
  int region = -1;       // Write: stage s (0..STAGES-1) or copy c (STAGES + c)
  long long count = 0;   // Bar: its thread count (0: every thread of the CTA)
  std::size_t stmt = 0;
};

struct RoleTrace {
  std::string name;
  Role kind = Role::Consumer;
  int mult = 1;  // arrivals per arrive (the role's threads)
  std::vector<Ev> ev;
};

// The region of a shared-memory byte: stage s, copy STAGES + c, or -1 (Q's tiles, barriers).
inline int region_of(const Layout& L, uint64_t addr) {
  if (addr < kSmem) return -1;
  const long long off = static_cast<long long>(addr - kSmem);
  if (off < L.stages * L.stage_bytes) return static_cast<int>(off / L.stage_bytes);
  if (off >= L.copy_off && off < L.copy_off + 2 * L.copy_tile_bytes)
    return static_cast<int>(L.stages + (off - L.copy_off) / L.copy_tile_bytes);
  return -1;
}
inline bool in_q_tiles(const Layout& L, uint64_t addr) {
  const long long off = static_cast<long long>(addr) - static_cast<long long>(kSmem);
  return addr != ~0ull && off >= L.q_tile_off && off < L.q_tile_off + L.q_tile_bytes;
}

// A bar.sync's thread count (its second operand; 0 when it has none: every thread).
inline long long bar_count(const std::string& text, const KernelMacros& k) {
  std::string op;
  const std::vector<std::string> o = sm100_ptx::operands(text, &op);
  if (o.size() < 2) return 0;
  ptxfmha_test::IntExpr ev(k.macros);
  long long n = -1;
  std::string err;
  return ev.eval(o[1], &n, &err) ? n : -1;
}

// One thread executed: its raw trace.
struct Raw {
  std::vector<sm100_exec::TraceEv> trace;
  std::string error;
  int unknown_branches = 0;
};
inline Raw run_thread(const std::vector<sm100_ptx::Stmt>& st, const KernelMacros& k,
                      const std::map<long long, uint64_t>& params, long long tid) {
  sm100_exec::Thread th(st, k.macros);
  th.tid = static_cast<uint32_t>(tid);
  th.smem_symbol = kSmem;
  th.smem_name = "smem_dyn";
  th.param_name = "dparams";
  th.params = params;
  Raw r;
  if (!th.run()) r.error = th.error;
  r.unknown_branches = th.unknown_branches;
  r.trace = std::move(th.trace);
  return r;
}

// Reduces a thread's trace: mbarrier events, TMA loads (a write of the stage of their barrier),
// shared-memory stores into a stage or copy (consecutive stores into one region are one write),
// the named barriers of `named` (bar.sync id -> Bar). Inits go to `inits` (barrier -> count).
inline RoleTrace reduce(const Raw& raw, const std::vector<sm100_ptx::Stmt>& st, const KernelMacros& k, const Layout& L,
                        const std::string& name, Role kind, int mult, const std::set<long long>& named,
                        std::map<uint64_t, long long>* inits) {
  RoleTrace r;
  r.name = name;
  r.kind = kind;
  r.mult = mult;
  for (const sm100_exec::TraceEv& e : raw.trace) {
    Ev x;
    x.stmt = e.stmt;
    if (e.kind == "init") {
      (*inits)[e.addr] = e.arg;
      continue;
    }
    if (e.kind == "wait") {
      x.kind = Ev::Wait;
      x.bar = e.addr;
      x.parity = static_cast<int>(e.arg);
    } else if (e.kind == "arrive") {
      x.kind = Ev::Arrive;
      x.bar = e.addr;
    } else if (e.kind == "expect_tx") {
      x.kind = Ev::ArriveTx;
      x.bar = e.addr;
    } else if (e.kind == "tma") {  // a load into the stage whose full barrier it completes
      x.kind = Ev::Write;
      x.region = static_cast<int>((static_cast<long long>(e.addr) - static_cast<long long>(kSmem) - L.bar_full) / 8);
    } else if (e.kind == "wgmma") {
      x.kind = Ev::MmaIssue;
    } else if (e.kind == "wgmma_wait") {
      if (e.arg != 0) continue;
      x.kind = Ev::MmaWait0;
    } else if (e.kind == "fence_proxy") {
      x.kind = Ev::Fence;
    } else if (e.kind == "st_shared") {
      x.kind = Ev::Write;
      x.region = region_of(L, e.addr);
      if (x.region < 0) continue;
    } else if (e.kind == "bar_sync" && named.count(e.arg)) {
      x.kind = Ev::Bar;
      x.bar = static_cast<uint64_t>(e.arg);
      x.count = bar_count(st[e.stmt].text, k);
    } else {
      continue;
    }
    if (!r.ev.empty() && r.ev.back().kind == x.kind && (x.kind != Ev::Write || r.ev.back().region == x.region) &&
        x.kind != Ev::Wait && x.kind != Ev::Arrive && x.kind != Ev::ArriveTx && x.kind != Ev::Bar)
      continue;
    r.ev.push_back(x);
  }
  // The producer's expect_tx completes its phase only when the tile's TMA loads land: the model
  // puts the arrival after the loads' writes (the same thing to every waiter).
  for (std::size_t i = 0; i + 1 < r.ev.size(); ++i)
    if (r.ev[i].kind == Ev::ArriveTx && r.ev[i + 1].kind == Ev::Write) std::swap(r.ev[i], r.ev[i + 1]);
  return r;
}

// The problems found (empty: none; at most 8, each once) and the number of states explored.
struct Verdict {
  std::vector<std::string> problems;
  std::size_t states = 0;
  void problem(const std::string& p) {
    if (problems.size() < 8 && std::find(problems.begin(), problems.end(), p) == problems.end()) problems.push_back(p);
  }
};

// A named barrier's rule in the explorations: a role's k-th bar.sync on it passes once every
// other role that takes it has passed its k-th (count_of(o) > k) or waits at it (count_of(o) == k
// and at(o)).
template <class CountOf, class At>
bool named_bar_open(std::size_t i, long long k, const std::vector<std::size_t>& takers, CountOf count_of, At at) {
  for (std::size_t o : takers) {
    if (o == i) continue;
    const long long ko = count_of(o);
    if (!(ko > k || (ko == k && at(o)))) return false;
  }
  return true;
}

// The static checks, per role: every wait's parity that of the completion the role means (its
// k-th wait on a barrier: completion k); a copy freed (vempty[c]) only after the wgmmas issued
// since its vfull wait completed (wgmma.wait_group 0), and published (vfull[c]) only after a
// fence.proxy.async that follows the last store into it; a named barrier's thread count the
// threads of the roles that take it.
inline void static_checks(const std::vector<RoleTrace>& roles, const std::map<uint64_t, long long>& inits, const Layout& L,
                          Verdict* v) {
  for (const RoleTrace& r : roles) {
    std::map<uint64_t, int> k;
    for (const Ev& e : r.ev) {
      if (e.kind != Ev::Wait) continue;
      if (!inits.count(e.bar)) v->problem(r.name + ": waits on an uninitialised barrier (stmt " + std::to_string(e.stmt) + ")");
      if (e.parity != (k[e.bar] & 1))
        v->problem(r.name + ": wait " + std::to_string(k[e.bar]) + " on barrier +" + std::to_string(e.bar - kSmem) +
                   " with parity " + std::to_string(e.parity) + " (stmt " + std::to_string(e.stmt) + ")");
      ++k[e.bar];
    }
  }
  for (const RoleTrace& r : roles) {
    bool pending = false, stored = false;
    for (const Ev& e : r.ev) {
      const bool copy_bar = e.kind != Ev::Bar && e.bar >= kSmem + L.bar_full + 8 * L.stages && e.bar < kSmem + L.bar_full + 64;
      const bool vempty = e.kind != Ev::Bar && e.bar >= kSmem + L.bar_empty + 8 * L.stages && e.bar < kSmem + L.bar_empty + 64;
      if (e.kind == Ev::MmaIssue) pending = true;
      if (e.kind == Ev::MmaWait0) pending = false;
      if (e.kind == Ev::Write && e.region >= L.stages) stored = true;
      if (e.kind == Ev::Fence) stored = false;
      if (e.kind == Ev::Arrive && vempty && pending)
        v->problem(r.name + ": frees a copy before its P V completed (stmt " + std::to_string(e.stmt) + ")");
      if (e.kind == Ev::Arrive && copy_bar && stored)
        v->problem(r.name + ": publishes a copy without a proxy fence after its stores (stmt " + std::to_string(e.stmt) + ")");
    }
  }
  std::map<uint64_t, long long> threads;  // named barrier -> threads of the roles that take it
  for (const RoleTrace& r : roles) {
    std::set<uint64_t> ids;
    for (const Ev& e : r.ev)
      if (e.kind == Ev::Bar) ids.insert(e.bar);
    for (uint64_t id : ids) threads[id] += r.mult;
  }
  for (const RoleTrace& r : roles)
    for (const Ev& e : r.ev)
      if (e.kind == Ev::Bar && e.count != threads[e.bar])
        v->problem(r.name + ": named barrier " + std::to_string(e.bar) + " counts " + std::to_string(e.count) +
                   " threads, its roles have " + std::to_string(threads[e.bar]) + " (stmt " + std::to_string(e.stmt) + ")");
}

// Explores every interleaving of the roles' events the barriers allow (static_checks first). A
// state is every role's position (each role's executed events are a prefix, and arrivals
// commute): the barriers' completed phases follow from the positions (an mbarrier's completed
// phases are the arrivals so far over its count, whatever their order, as the hardware counts
// them). A role's k-th bar.sync on a named barrier passes once every role that takes the barrier
// reached its k-th (a barrier whose count is not those roles' threads orders nothing:
// static_checks reports it, and the exploration shows what the missing order allows).
inline Verdict explore(const std::vector<RoleTrace>& roles, const std::map<uint64_t, long long>& inits, const Layout& L) {
  Verdict v;
  const std::size_t R = roles.size();
  REQUIRE(R <= 4);
  static_checks(roles, inits, L, &v);
  // Dense barrier indices and, per role and position, prefix sums (the exploration's state is
  // only the positions; these tables make each state's barriers a sum over the roles).
  std::map<uint64_t, int> bidx;
  std::map<uint64_t, int> nidx;  // named barriers
  for (const RoleTrace& r : roles)
    for (const Ev& e : r.ev) {
      if (e.kind == Ev::Bar) nidx.emplace(e.bar, static_cast<int>(nidx.size()));
      else if (e.kind == Ev::Wait || e.kind == Ev::Arrive || e.kind == Ev::ArriveTx) bidx.emplace(e.bar, static_cast<int>(bidx.size()));
    }
  const std::size_t B = bidx.size(), N = nidx.size();
  const int G = static_cast<int>(L.stages + 2);
  std::vector<long long> count(B, 0);
  for (const auto& kv : bidx) {
    auto it = inits.find(kv.first);
    count[static_cast<std::size_t>(kv.second)] = it == inits.end() ? 0 : it->second;
  }
  struct Pos {
    std::vector<long long> arrivals;  // [B] arrivals by the role before this position
    std::vector<long long> waits;     // [B] waits passed before this position
    std::vector<long long> bars;      // [N] bar.syncs passed before this position
    std::vector<char> future_wait;    // [B] a wait at or after this position
    std::vector<char> reading;        // [G] reading region g here
  };
  std::vector<std::vector<Pos>> tab(R);
  std::vector<long long> last_wait(R, -1);  // the role's last wait (-1: none)
  std::vector<std::vector<std::size_t>> takers(N);  // per named barrier: the roles that take it
  std::vector<long long> named_threads(N, 0);        // and their threads
  for (std::size_t i = 0; i < R; ++i) {
    const std::vector<Ev>& ev = roles[i].ev;
    std::vector<Pos>& t = tab[i];
    t.resize(ev.size() + 1);
    Pos p;
    p.arrivals.assign(B, 0);
    p.waits.assign(B, 0);
    p.bars.assign(N, 0);
    p.reading.assign(static_cast<std::size_t>(G), 0);
    std::set<uint64_t> ids;
    for (std::size_t j = 0; j <= ev.size(); ++j) {
      t[j] = p;
      if (j == ev.size()) break;
      const Ev& e = ev[j];
      if (e.kind == Ev::Arrive || e.kind == Ev::ArriveTx) p.arrivals[static_cast<std::size_t>(bidx[e.bar])] += roles[i].mult;
      if (e.kind == Ev::Wait) {
        ++p.waits[static_cast<std::size_t>(bidx[e.bar])];
        last_wait[i] = static_cast<long long>(j);
      }
      if (e.kind == Ev::Bar) {
        ++p.bars[static_cast<std::size_t>(nidx[e.bar])];
        ids.insert(e.bar);
      }
      // reading: a consumer or converter reads stage s from its wait on full[s] to its next
      // arrive; a consumer reads copy c from its wait on vfull[c] to its arrive on vempty[c], or
      // to its end
      for (int g = 0; g < G; ++g) {
        const uint64_t want_wait = kSmem + L.bar_full + 8 * static_cast<uint64_t>(g);  // full[s] / vfull[c]
        const uint64_t release = kSmem + L.bar_empty + 8 * static_cast<uint64_t>(g);   // empty[s] / vempty[c]
        char& in = p.reading[static_cast<std::size_t>(g)];
        if (e.kind == Ev::Wait && e.bar == want_wait) in = roles[i].kind != Role::Producer;
        else if (in && e.kind == Ev::Arrive && (g >= L.stages ? e.bar == release : true)) in = 0;
      }
    }
    for (uint64_t id : ids) {
      takers[static_cast<std::size_t>(nidx[id])].push_back(i);
      named_threads[static_cast<std::size_t>(nidx[id])] += roles[i].mult;
    }
    std::vector<char> fut(B, 0);
    for (std::size_t j = ev.size() + 1; j-- > 0;) {
      if (j < ev.size() && ev[j].kind == Ev::Wait) fut[static_cast<std::size_t>(bidx[ev[j].bar])] = 1;
      t[j].future_wait = fut;
    }
  }
  using State = std::vector<std::size_t>;
  auto key = [&](const State& s) {
    uint64_t x = 0;
    for (std::size_t i = 0; i < R; ++i) x = (x << 16) | s[i];
    return x;
  };
  for (std::size_t i = 0; i < R; ++i) REQUIRE(roles[i].ev.size() < 65536);
  std::unordered_set<uint64_t> seen;
  std::deque<State> todo;
  State s0(R, 0);
  seen.insert(key(s0));
  todo.push_back(s0);
  std::vector<long long> phases(B);
  while (!todo.empty()) {
    const State s = todo.front();
    todo.pop_front();
    for (std::size_t b = 0; b < B; ++b) {
      long long a = 0;
      for (std::size_t i = 0; i < R; ++i) a += tab[i][s[i]].arrivals[b];
      phases[b] = count[b] > 0 ? a / count[b] : 0;
    }
    // no barrier two phases ahead of a role that still waits on it (the parity test would be fooled)
    for (std::size_t i = 0; i < R; ++i) {
      const Pos& p = tab[i][s[i]];
      for (const auto& kv : bidx) {
        const std::size_t b = static_cast<std::size_t>(kv.second);
        if (p.future_wait[b] && phases[b] > p.waits[b] + 1)
          v.problem(roles[i].name + ": barrier +" + std::to_string(kv.first - kSmem) + " ran two phases ahead of its wait " +
                    std::to_string(p.waits[b]));
      }
    }
    bool any = false, done = true;
    for (std::size_t i = 0; i < R; ++i) {
      if (s[i] == roles[i].ev.size()) continue;
      done = false;
      const Ev& e = roles[i].ev[s[i]];
      // try_wait.parity passes once the barrier's completed phases differ in parity from e.parity
      if (e.kind == Ev::Wait && (phases[static_cast<std::size_t>(bidx[e.bar])] & 1) == e.parity) continue;
      if (e.kind == Ev::Bar) {
        const std::size_t n = static_cast<std::size_t>(nidx[e.bar]);
        const bool open =
            e.count != named_threads[n] ||
            named_bar_open(
                i, tab[i][s[i]].bars[n], takers[n], [&](std::size_t o) { return tab[o][s[o]].bars[n]; },
                [&](std::size_t o) {
                  return s[o] < roles[o].ev.size() && roles[o].ev[s[o]].kind == Ev::Bar && roles[o].ev[s[o]].bar == e.bar;
                });
        if (!open) continue;
      }
      if (e.kind == Ev::Write) {
        // a write after the role's last wait (the consumers' epilogue reusing the ring and the
        // copies): nobody else may still write the region (but another consumer warpgroup's
        // epilogue: its own warps' parts, disjoint)
        const bool last_phase = static_cast<long long>(s[i]) > last_wait[i];
        for (std::size_t o = 0; o < R; ++o) {
          if (o == i) continue;
          if (tab[o][s[o]].reading[static_cast<std::size_t>(e.region)])
            v.problem(roles[i].name + " writes region " + std::to_string(e.region) + " (stmt " + std::to_string(e.stmt) +
                      ") while " + roles[o].name + " reads it");
          if (last_phase && roles[i].kind == Role::Consumer)
            for (std::size_t j = s[o]; j < roles[o].ev.size(); ++j)
              if (roles[o].ev[j].kind == Ev::Write && roles[o].ev[j].region == e.region &&
                  !(roles[o].kind == Role::Consumer && static_cast<long long>(j) > last_wait[o])) {
                v.problem(roles[i].name + " reuses region " + std::to_string(e.region) + " while " + roles[o].name +
                          " will still write it");
                break;
              }
        }
      }
      State n = s;
      ++n[i];
      any = true;
      if (seen.insert(key(n)).second) todo.push_back(n);
    }
    if (!done && !any) {
      std::string where;
      for (std::size_t i = 0; i < R; ++i)
        where += " " + roles[i].name + " at " + std::to_string(s[i]) + "/" + std::to_string(roles[i].ev.size());
      v.problem("deadlock:" + where);
    }
  }
  v.states = seen.size();
  return v;
}

// A sm90a decode kernel's macros (read once) and its preprocessed statements, by name (also the
// plain rows' model, tests/sm90_decode_plain.h).
inline const KernelMacros& kernel(const std::string& name) {
  static std::map<std::string, KernelMacros> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  for (const ptxfmha_test::PtxSource& src : ptxfmha_test::ptx_sources())
    if (src.name == name) {
      bool ok = false;
      std::string err;
      KernelMacros m{src.name, src.path, ptxfmha_test::cpp_macros(src.path, &ok, &err)};
      REQUIRE_MESSAGE(ok, err);
      return cache.emplace(name, std::move(m)).first->second;
    }
  FAIL("no PTX source of " << name);
  static const KernelMacros none;
  return none;
}
inline const KernelMacros& kernel(const Row& row) { return kernel(std::string(row.name)); }

inline std::vector<sm100_ptx::Stmt> statements(const std::string& name) {
  bool ok = false;
  const std::string text = ptxfmha_test::read_text_file(ptxfmha_test::preprocessed_path("sm90a", name), &ok);
  REQUIRE_MESSAGE(ok, "missing preprocessed PTX of " << name << " (run make)");
  return sm100_ptx::parse_statements(text);
}
inline std::vector<sm100_ptx::Stmt> statements(const Row& row) { return statements(std::string(row.name)); }

inline Layout layout_of(const KernelMacros& k) {
  Layout L;
  L.stages = k.mv("STAGES");
  L.stage_bytes = k.mv("STAGE_BYTES");
  L.copy_off = k.mv("COPY_OFF");
  L.copy_tile_bytes = k.mv("COPY_TILE_BYTES");
  L.bar_full = k.mv("BAR_FULL_OFF");
  L.bar_empty = k.mv("BAR_EMPTY_OFF");
  L.consumer_threads = k.mv("CONSUMER_THREADS");
  L.converter_threads = k.mv("CONVERTER_THREADS");
  L.converter0 = k.mv("CONVERTER_THREAD0");
  L.producer_thread = 32 * k.mv("PRODUCER_WARP");
  L.wg_threads = k.mv("WG_THREADS");
  L.q_tile_off = k.mv("Q_TILE_OFF");
  L.q_tile_bytes = k.mv("Q_TILE_BYTES");
  L.bar_cta = k.mv("BAR_CTA");
  L.bar_epi = k.mv("BAR_EPI");
  return L;
}

// The parameter block every model starts from: every field 0 (no seqlens, no page table, not
// causal; the TMA descriptors are the kernel's .param space, not read), Q, O, LSE and the scales at
// distinct fake addresses. The callers set the shape.
inline std::map<long long, uint64_t> base_params(const KernelMacros& k) {
  std::map<long long, uint64_t> p;
  for (const auto& kv : k.macros)
    if (kv.first.rfind("DP_", 0) == 0 && kv.first != "DP_TMA_K" && kv.first != "DP_TMA_V") p[k.mv(kv.first.c_str())] = 0;
  p[k.mv("DP_Q_PTR")] = 0x100000000ull;
  p[k.mv("DP_O_PTR")] = 0x200000000ull;
  p[k.mv("DP_LSE_PTR")] = 0x300000000ull;
  p[k.mv("DP_K_SCALE_PTR")] = 0x400000000ull;
  p[k.mv("DP_V_SCALE_PTR")] = 0x500000000ull;
  return p;
}

// One split of `keys` keys (contiguous cache, 64 packed rows: 4 tokens x GQA 16, one KV head).
inline std::map<long long, uint64_t> params_for(const KernelMacros& k, long long keys) {
  std::map<long long, uint64_t> p = base_params(k);
  auto at = [&](const char* m) { return k.mv(m); };
  p[at("DP_Q_HEAD_STRIDE")] = 256;
  p[at("DP_Q_SEQ_STRIDE")] = 256 * 16;
  p[at("DP_Q_BATCH_STRIDE")] = 256 * 16 * 4;
  p[at("DP_O_HEAD_STRIDE")] = 256;
  p[at("DP_O_SEQ_STRIDE")] = 256 * 16;
  p[at("DP_O_BATCH_STRIDE")] = 256 * 16 * 4;
  p[at("DP_BATCH")] = 1;
  p[at("DP_SEQLEN_Q")] = 4;
  p[at("DP_MAX_SEQLEN_K")] = static_cast<uint64_t>(keys);
  p[at("DP_HEADS_Q")] = 16;
  p[at("DP_HEADS_KV")] = 1;
  p[at("DP_GQA_RATIO")] = 16;
  p[at("DP_BOX_SHIFT")] = 6;
  p[at("DP_NUM_SPLITS")] = 1;
  p[at("DP_SPLIT_KEYS")] = static_cast<uint64_t>(std::max<long long>(keys, 64));
  p[at("DP_M_GROUPS")] = 1;
  p[at("DP_PACKED_ROWS")] = 64;
  p[at("DP_COMBINE_ROWS")] = 64;
  p[at("DP_KV_SCALE_STRIDE")] = 1;
  return p;
}

// The regions the EPILOGUE's stores of a whole consumer warpgroup fall in (EPI_STORE_PARTS:
// every thread its warp's rows of O and its m / l): each of the warpgroup's threads executed on an
// empty split, where it goes straight to the EPILOGUE (its stores' addresses depend on the thread
// only; they are its only stores into the ring or the copies). The model gives each consumer
// role these writes after its last wait, not only its own thread's (WG 4: warpgroup 1's parts
// lie in warpgroup 0's stage 2 and copy 0, warpgroup 0's in warpgroup 1's stage 1).
struct EpiRegions {
  std::vector<std::set<int>> of_wg;
  std::string error;
};
inline EpiRegions epilogue_regions(const Row& row, const std::vector<sm100_ptx::Stmt>& st, const KernelMacros& k) {
  const Layout L = layout_of(k);
  const std::map<long long, uint64_t> p = params_for(k, 0);
  EpiRegions out;
  out.of_wg.resize(static_cast<std::size_t>(row.consumer_wgs));
  for (int w = 0; w < row.consumer_wgs; ++w)
    for (long long tid = w * L.wg_threads; tid < (w + 1) * L.wg_threads; ++tid) {
      const Raw r = run_thread(st, k, p, tid);
      if (!r.error.empty()) out.error = "thread " + std::to_string(tid) + ": " + r.error;
      for (const sm100_exec::TraceEv& e : r.trace) {
        if (e.kind == "wait") out.error = "thread " + std::to_string(tid) + ": waits on an empty split";
        if (e.kind != "st_shared") continue;
        if (e.addr == ~0ull) out.error = "thread " + std::to_string(tid) + ": a store to an unknown address";
        const int g = region_of(L, e.addr);
        if (g >= 0) out.of_wg[static_cast<std::size_t>(w)].insert(g);
      }
    }
  return out;
}

struct Run {
  Verdict verdict;
  std::string error;
  std::size_t events = 0;
  int unknown_branches = 0;
};

// The tiles' stages and copies: the consumer role of warpgroup w (of W) waits, tile by tile of
// its own (t = w, w + W, ...), on full[t % STAGES] and vfull[t % 2]; the converters on
// full[t % STAGES] for every tile and on vempty[t % 2] from t = 2 on; the producer on
// empty[t % STAGES] from t = STAGES on (the barriers' slots in the order waited; what the
// parities and counts do not show: a role waiting on another tile's barrier reads its data).
inline void tile_map_checks(const std::vector<RoleTrace>& roles, const Layout& L, long long n_tiles, int W, Verdict* v) {
  for (std::size_t i = 0, w = 0; i < roles.size(); ++i) {
    const RoleTrace& r = roles[i];
    std::vector<long long> ring, copy, want_ring, want_copy;
    const uint64_t base = r.kind == Role::Producer ? kSmem + L.bar_empty : kSmem + L.bar_full;
    const uint64_t cbase = r.kind == Role::Converter ? kSmem + L.bar_empty : kSmem + L.bar_full;
    for (const Ev& e : r.ev) {
      if (e.kind != Ev::Wait) continue;
      if (e.bar >= base && e.bar < base + 8 * static_cast<uint64_t>(L.stages)) ring.push_back(static_cast<long long>(e.bar - base) / 8);
      const uint64_t c0 = cbase + 8 * static_cast<uint64_t>(L.stages);
      if (e.bar >= c0 && e.bar < c0 + 16) copy.push_back(static_cast<long long>(e.bar - c0) / 8);
    }
    for (long long t = 0; t < n_tiles; ++t) {
      if (r.kind == Role::Consumer && t % W == static_cast<long long>(w)) {
        want_ring.push_back(t % L.stages);
        want_copy.push_back(t % 2);
      }
      if (r.kind == Role::Converter) {
        want_ring.push_back(t % L.stages);
        if (t >= 2) want_copy.push_back(t % 2);
      }
      if (r.kind == Role::Producer && t >= L.stages) want_ring.push_back(t % L.stages);
    }
    auto str = [](const std::vector<long long>& x) {
      std::string o;
      for (long long y : x) o += (o.empty() ? "" : " ") + std::to_string(y);
      return "{" + o + "}";
    };
    if (ring != want_ring) v->problem(r.name + ": waits on the ring's slots " + str(ring) + ", its tiles' are " + str(want_ring));
    if (copy != want_copy) v->problem(r.name + ": waits on the copies' slots " + str(copy) + ", its tiles' are " + str(want_copy));
    if (r.kind == Role::Consumer) ++w;
  }
}

// Q's tiles (the QK wgmmas' shared-memory A, stored by the consumers before their first tile):
// some bar.sync of every consumer thread (WG 3 and 4: BAR_COPY), the k-th on its barrier in
// every consumer role that stores into the tiles or reads them (a wgmma), comes after each
// role's stores and a fence.proxy.async after them, and before each role's first wgmma; no other
// role stores there.
inline void q_tile_checks(const std::vector<Raw>& raws, const std::vector<RoleTrace>& roles, const KernelMacros& k,
                          const std::vector<sm100_ptx::Stmt>& st, const Layout& L, Verdict* v) {
  long long consumer_threads = 0;
  for (const RoleTrace& r : roles)
    if (r.kind == Role::Consumer) consumer_threads += r.mult;
  std::set<std::pair<long long, int>> common;  // (barrier, k-th) in every such role
  bool first = true;
  for (std::size_t i = 0; i < roles.size(); ++i) {
    long long last_store = -1, fence = -1;
    bool reads = false;
    std::map<long long, int> nth;
    std::set<std::pair<long long, int>> after;  // bar.syncs after the stores and their fence, before the first wgmma
    for (std::size_t j = 0; j < raws[i].trace.size() && !reads; ++j) {
      const sm100_exec::TraceEv& e = raws[i].trace[j];
      if (e.kind == "st_shared" && in_q_tiles(L, e.addr)) {
        if (roles[i].kind != Role::Consumer) v->problem(roles[i].name + ": stores into Q's tiles (stmt " + std::to_string(e.stmt) + ")");
        last_store = static_cast<long long>(j);
        after.clear();
      }
      if (e.kind == "fence_proxy") fence = static_cast<long long>(j);
      if (e.kind == "bar_sync" && e.arg != L.bar_cta) {
        const int n = nth[e.arg]++;
        if (fence >= last_store && bar_count(st[e.stmt].text, k) == consumer_threads) after.insert({e.arg, n});
      }
      if (e.kind == "wgmma") reads = true;
    }
    if (roles[i].kind != Role::Consumer || (!reads && last_store < 0)) continue;  // (a consumer without a tile)
    if (first) common = after;
    else {
      std::set<std::pair<long long, int>> both;
      for (const auto& b : after)
        if (common.count(b)) both.insert(b);
      common = both;
    }
    first = false;
  }
  if (!first && common.empty())
    v->problem("Q's tiles: no named barrier of every consumer thread after the stores and their proxy fence, before the first wgmma");
}

inline Run check_protocol(const Row& row, const std::vector<sm100_ptx::Stmt>& st, const KernelMacros& k, long long keys,
                          const EpiRegions* epi = nullptr) {
  const Layout L = layout_of(k);
  const std::map<long long, uint64_t> p = params_for(k, keys);
  struct Spec {
    std::string name;
    Role kind;
    long long tid, mult;
  };
  std::vector<Spec> specs;
  if (row.consumer_wgs == 1) {
    specs.push_back({"consumer", Role::Consumer, 0, L.consumer_threads});
  } else {
    for (int w = 0; w < row.consumer_wgs; ++w)
      specs.push_back({"consumer " + std::to_string(w), Role::Consumer, w * L.wg_threads, L.wg_threads});
  }
  specs.push_back({"producer", Role::Producer, L.producer_thread, 1});
  specs.push_back({"converter", Role::Converter, L.converter0, L.converter_threads});
  Run run;
  std::vector<Raw> raws;
  for (const Spec& s : specs) {
    raws.push_back(run_thread(st, k, p, s.tid));
    if (!raws.back().error.empty()) run.error = s.name + ": " + raws.back().error;
    if (s.kind != Role::Consumer) run.unknown_branches += raws.back().unknown_branches;  // the consumers' rescale vote only
  }
  // the named barriers the model orders: those (but BAR_CTA, before any mbarrier event) that
  // more than one role takes
  std::map<long long, int> takers;
  for (const Raw& r : raws) {
    std::set<long long> ids;
    for (const sm100_exec::TraceEv& e : r.trace)
      if (e.kind == "bar_sync" && e.arg != L.bar_cta) ids.insert(e.arg);
    for (long long id : ids) ++takers[id];
  }
  std::set<long long> named;
  for (const auto& kv : takers)
    if (kv.second > 1) named.insert(kv.first);
  std::map<uint64_t, long long> inits;
  std::vector<RoleTrace> roles;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    roles.push_back(reduce(raws[i], st, k, L, specs[i].name, specs[i].kind, static_cast<int>(specs[i].mult), named, &inits));
    run.events += roles.back().ev.size();
  }
  Verdict pre;
  q_tile_checks(raws, roles, k, st, L, &pre);
  // the consumers' epilogue writes (after their last wait): their warpgroups'
  if (epi != nullptr) {
    if (!epi->error.empty()) pre.problem("epilogue regions: " + epi->error);
    for (std::size_t i = 0, w = 0; i < roles.size(); ++i) {
      if (roles[i].kind != Role::Consumer) continue;
      std::vector<Ev>& ev = roles[i].ev;
      std::size_t last_wait = 0;
      for (std::size_t j = 0; j < ev.size(); ++j)
        if (ev[j].kind == Ev::Wait) last_wait = j + 1;
      std::vector<Ev> out(ev.begin(), ev.begin() + static_cast<std::ptrdiff_t>(last_wait));
      bool put = false;
      for (std::size_t j = last_wait; j < ev.size(); ++j) {
        const Ev& e = ev[j];
        if (e.kind != Ev::Write) {
          out.push_back(e);
          continue;
        }
        if (!epi->of_wg.at(w).count(e.region))
          pre.problem(roles[i].name + ": an epilogue write into region " + std::to_string(e.region) + " outside its warpgroup's");
        if (!put)
          for (int g : epi->of_wg.at(w)) {
            Ev x = e;
            x.region = g;
            out.push_back(x);
          }
        put = true;
      }
      run.events += out.size();
      run.events -= ev.size();
      ev = out;
      ++w;
    }
  }
  tile_map_checks(roles, L, (keys + 63) / 64, row.consumer_wgs, &pre);  // (params_for: one split from key 0)
  run.verdict = explore(roles, inits, L);
  for (const std::string& x : pre.problems) run.verdict.problem(x);
  return run;
}

// Checks the unmutated row on splits of `keys`: no error, no unknown branch, no problem, every
// tile's events there (the converters wait on full and arrive on vfull and empty per tile, the
// producer writes every tile: at least 8 events a tile); prints the explored states.
// `epi`: as run_mutations'.
inline void check_splits(const Row& row, const std::vector<sm100_ptx::Stmt>& st, const KernelMacros& k,
                         const std::vector<long long>& keys, const EpiRegions* epi) {
  std::size_t states = 0, events = 0;
  for (long long n : keys) {
    CAPTURE(n);
    const Run r = check_protocol(row, st, k, n, epi);
    CHECK_MESSAGE(r.error.empty(), r.error);
    CHECK(r.unknown_branches == 0);
    for (const std::string& p : r.verdict.problems) FAIL_CHECK(p);
    CHECK(r.events >= static_cast<std::size_t>(8 * ((n + 63) / 64)));
    states += r.verdict.states;
    events += r.events;
  }
  MESSAGE("sm90 decode protocol model (" << std::string(row.name) << "): " << keys.size() << " splits of 0-"
                                         << keys.back() << " keys, " << events << " events, " << states
                                         << " states explored, no problem");
}

}  // namespace sm90_decode_protocol
