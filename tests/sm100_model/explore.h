// Interleaving explorer for the protocol models of model.h: random (seeded, reproducible)
// schedules and an exhaustive depth-first search with state hashing for tiny configurations.
// The first violation of a run stops it and is returned with the schedule's seed and step.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <unordered_set>
#include <vector>

#include "model.h"

namespace sm100_model {

struct Violation {
  bool found = false;
  std::string kind;  // deadlock, hazard-raw, hazard-war, stale-read, phase, fence-after, fence-before,
                     // tx, tmem, exit, barrier-count
  std::string msg;
  long step = -1;
};

struct Op {
  enum Type : uint8_t { Mma, TmaLoad, TmaStore, Commit } type;
  int role, ev;
  int seq;                   // issue order (global)
  std::vector<int> tracked;  // Commit: seqs of the MMAs it waits for
};

struct RegionState {
  int64_t tag = 0;
  int writer = -1;            // seq of a pending async writer (-1: none)
  int64_t pending_tag = 0;    // what that writer will leave
  std::vector<int> readers;   // seqs of pending async readers
  bool operator==(const RegionState& o) const {
    return tag == o.tag && writer == o.writer && pending_tag == o.pending_tag && readers == o.readers;
  }
};

struct BarState {
  int pending = 0;   // arrivals still missing in the current phase
  int64_t tx = 0;    // transaction bytes still expected
  int phase = 0;     // completed phases
  bool inited = false;
};

struct RoleState {
  int pc = 0;
  bool need_after = false;    // acquired since the last fence::after_thread_sync
  bool dirty_before = false;  // tcgen05 op since the last fence::before_thread_sync
  bool bar_arrived = false;   // inside a bar.sync: arrived, waiting for the generation
  bool proxy_dirty = false;   // generic-proxy smem writes the async proxy reads, not yet fenced
  int bar_gen = 0;
};

struct NamedBarState {
  int arrived = 0;
  int gen = 0;
  int total = 0;
};

struct State {
  std::vector<RoleState> roles;
  std::vector<BarState> bars;
  std::vector<RegionState> regions;
  std::vector<Op> ops;  // pending asynchronous operations and commits
  std::map<int, NamedBarState> named;
  int next_seq = 0;
  bool tmem_live = false;
  bool tmem_freed = false;
};

class Explorer {
 public:
  explicit Explorer(const Model& m) : m_(m) {}

  State initial() const {
    State s;
    s.roles.resize(m_.roles.size());
    s.bars.resize(m_.bars.size());
    s.regions.resize(m_.regions.size());
    return s;
  }

  // An action: a role's next event (role >= 0) or the completion of pending op `op` (role < 0).
  struct Action {
    int role = -1;
    int op = -1;
  };

  std::vector<Action> enabled(const State& s) const {
    std::vector<Action> a;
    for (std::size_t r = 0; r < m_.roles.size(); ++r)
      if (role_enabled(s, static_cast<int>(r))) a.push_back({static_cast<int>(r), -1});
    for (std::size_t i = 0; i < s.ops.size(); ++i)
      if (op_enabled(s, static_cast<int>(i))) a.push_back({-1, static_cast<int>(i)});
    return a;
  }

  bool finished(const State& s) const {
    for (std::size_t r = 0; r < m_.roles.size(); ++r)
      if (s.roles[r].pc < static_cast<int>(m_.roles[r].ev.size())) return false;
    return true;
  }

  // Executes an action; returns false (and fills v) on a violation.
  bool apply(State& s, const Action& a, Violation& v) const {
    if (a.role >= 0) return step_role(s, a.role, v);
    return complete_op(s, a.op, v);
  }

  // Final checks once no action is enabled.
  void final_check(const State& s, Violation& v) const {
    if (!finished(s)) {
      std::ostringstream o;
      o << "deadlock:";
      for (std::size_t r = 0; r < m_.roles.size(); ++r) {
        const RoleState& rs = s.roles[r];
        if (rs.pc >= static_cast<int>(m_.roles[r].ev.size())) continue;
        const Event& e = m_.roles[r].ev[rs.pc];
        o << " [" << m_.roles[r].role << " blocked at #" << rs.pc << " " << ev_name(e.kind);
        if (e.bar >= 0) {
          const BarState& b = s.bars[e.bar];
          o << " " << m_.bars[e.bar].name << " parity " << e.parity << " (phase " << b.phase << ", " << b.pending
            << " arrivals and " << b.tx << " bytes missing";
          if (e.ghost >= 0 && b.phase >= e.ghost + 1) o << "; parity aliasing: the barrier ran past the phase this wait means";
          o << ")";
        }
        if (!e.what.empty()) o << " " << e.what;
        o << "]";
      }
      if (!s.ops.empty()) o << " with " << s.ops.size() << " async op(s) pending";
      fail(v, "deadlock", o.str());
      return;
    }
    if (!s.ops.empty()) {
      fail(v, "exit", "CTA exits with " + std::to_string(s.ops.size()) + " asynchronous operation(s) or commit arrival(s) in flight (" + op_str(s, 0) + ")");
      return;
    }
    if (s.tmem_live) fail(v, "tmem", "CTA exits without tcgen05.dealloc");
  }

  // ---- random exploration -------------------------------------------------------------------
  // One schedule: every actor (role or pending-op kind) gets a random weight for the whole run,
  // so some are starved and others rushed; completions of asynchronous ops are delayed with a
  // per-run probability. Returns the first violation (found == false: clean run).
  Violation run_random(uint64_t seed, long* steps_out = nullptr, long max_steps = 2000000) const {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::vector<double> w_role(m_.roles.size());
    for (double& w : w_role) w = std::exp(6.0 * u(rng) - 3.0);
    const double w_op_scale = std::exp(6.0 * u(rng) - 3.0);
    State s = initial();
    Violation v;
    long step = 0;
    std::vector<Action> acts;
    std::vector<double> ws;
    for (; step < max_steps; ++step) {
      if (finished(s)) break;  // every role ran its last instruction: the CTA exits now
      acts = enabled(s);
      if (acts.empty()) break;
      ws.clear();
      double tot = 0;
      for (const Action& a : acts) {
        double w;
        if (a.role >= 0) {
          w = w_role[a.role];
        } else {
          // Each asynchronous op gets its own per-run speed (log-uniform over 5 decades), so
          // some complete at once and others stay in flight for a long time.
          const Op& o = s.ops[a.op];
          uint64_t h = seed ^ (static_cast<uint64_t>(o.role) << 32 | static_cast<uint64_t>(o.ev)) ^ (static_cast<uint64_t>(o.seq) << 48);
          h ^= h >> 33; h *= 0xff51afd7ed558ccdull; h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53ull; h ^= h >> 33;
          const double uu = static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0);
          w = w_op_scale * std::exp(11.5 * uu - 9.0);
        }
        ws.push_back(w);
        tot += w;
      }
      double x = u(rng) * tot;
      std::size_t pick = 0;
      while (pick + 1 < acts.size() && x >= ws[pick]) x -= ws[pick++];
      if (!apply(s, acts[pick], v)) {
        v.step = step;
        break;
      }
    }
    if (!v.found) {
      if (step >= max_steps) fail(v, "deadlock", "no progress bound reached");
      else final_check(s, v);
      if (v.found) v.step = step;
    }
    if (steps_out) *steps_out = step;
    return v;
  }

  // ---- exhaustive exploration ---------------------------------------------------------------
  struct ExhaustiveResult {
    Violation v;
    long states = 0;
    bool complete = true;  // false: stopped at max_states
  };
  ExhaustiveResult run_exhaustive(long max_states) const {
    ExhaustiveResult res;
    std::unordered_set<std::string> seen;
    std::vector<State> stack{initial()};
    while (!stack.empty()) {
      State s = std::move(stack.back());
      stack.pop_back();
      const std::string key = encode(s);
      if (!seen.insert(key).second) continue;
      if (static_cast<long>(seen.size()) > max_states) {
        res.complete = false;
        break;
      }
      std::vector<Action> acts = finished(s) ? std::vector<Action>{} : enabled(s);
      if (acts.empty()) {
        final_check(s, res.v);
        if (res.v.found) break;
        continue;
      }
      // Partial-order reduction: a fence touches only its own thread's state and stays enabled,
      // so it commutes with every other action: take it alone.
      for (const Action& a : acts)
        if (a.role >= 0) {
          const Ev k = m_.roles[a.role].ev[s.roles[a.role].pc].kind;
          if (k == Ev::FenceBefore || k == Ev::FenceAfter || k == Ev::FenceProxy) {
            acts = {a};
            break;
          }
        }
      for (const Action& a : acts) {
        State n = s;
        Violation v;
        if (!apply(n, a, v)) {
          res.v = v;
          res.states = static_cast<long>(seen.size());
          return res;
        }
        stack.push_back(std::move(n));
      }
    }
    res.states = static_cast<long>(seen.size());
    return res;
  }

 private:
  const Model& m_;

  static void fail(Violation& v, const std::string& kind, const std::string& msg) {
    if (v.found) return;
    v.found = true;
    v.kind = kind;
    v.msg = msg;
  }

  std::string where(int role, int pc) const {
    const Event& e = m_.roles[role].ev[pc];
    std::string s = m_.roles[role].role + " #" + std::to_string(pc) + " " + ev_name(e.kind);
    if (e.bar >= 0) s += " " + m_.bars[e.bar].name;
    if (!e.what.empty()) s += " (" + e.what + ")";
    return s;
  }

  std::string op_str(const State& s, int i) const {
    const Op& o = s.ops[i];
    return where(o.role, o.ev);
  }

  bool role_enabled(const State& s, int r) const {
    const RoleState& rs = s.roles[r];
    if (rs.pc >= static_cast<int>(m_.roles[r].ev.size())) return false;
    const Event& e = m_.roles[r].ev[rs.pc];
    switch (e.kind) {
      case Ev::Wait: {
        const BarState& b = s.bars[e.bar];
        return b.inited && (b.phase & 1) != e.parity;
      }
      case Ev::BarSync: {
        if (!rs.bar_arrived) return true;
        auto it = s.named.find(e.named);
        return it != s.named.end() && it->second.gen > rs.bar_gen;
      }
      case Ev::BulkWaitRead:
        for (const Op& o : s.ops)
          if (o.type == Op::TmaStore && o.role == r) return false;
        return true;
      default:
        return true;
    }
  }

  bool op_enabled(const State& s, int i) const {
    const Op& o = s.ops[i];
    if (o.type == Op::Mma) {
      const int acc = m_.roles[o.role].ev[o.ev].acc;
      for (const Op& p : s.ops)  // pipelined: an earlier MMA of the same thread and accumulator first
        if (p.type == Op::Mma && p.role == o.role && p.seq < o.seq && m_.roles[p.role].ev[p.ev].acc == acc) return false;
      return true;
    }
    if (o.type == Op::Commit) {
      for (int t : o.tracked)
        for (const Op& p : s.ops)
          if (p.seq == t) return false;
      return true;
    }
    return true;
  }

  // mbarrier arrival (count arrivals) and transaction bytes.
  bool bar_arrive(State& s, int bar, int arrivals, const std::string& who, Violation& v) const {
    BarState& b = s.bars[bar];
    if (!b.inited) {
      fail(v, "barrier-count", who + ": arrives on " + m_.bars[bar].name + " before mbarrier.init");
      return false;
    }
    if (arrivals > b.pending) {
      fail(v, "barrier-count", who + ": " + std::to_string(arrivals) + " arrivals on " + m_.bars[bar].name +
                                   " where only " + std::to_string(b.pending) + " remain in the phase");
      return false;
    }
    b.pending -= arrivals;
    maybe_complete(b, bar);
    return true;
  }
  void maybe_complete(BarState& b, int bar) const {
    if (b.pending == 0 && b.tx == 0) {
      ++b.phase;
      b.pending = m_.bars[bar].count;
    }
  }

  bool check_read(const State& s, const Access& a, const std::string& who, bool async_reader, Violation& v) const {
    const RegionState& rg = s.regions[a.region];
    const std::string rn = m_.regions[a.region].name;
    if (m_.regions[a.region].tmem && !s.tmem_live) {
      fail(v, "tmem", who + " reads TMEM region " + rn + (s.tmem_freed ? " after tcgen05.dealloc" : " before tcgen05.alloc"));
      return false;
    }
    if (rg.writer >= 0) {
      fail(v, "hazard-raw", who + " reads " + rn + " while an asynchronous write of " + tag_str(rg.pending_tag) +
                                " into it may still be in flight");
      return false;
    }
    if (rg.tag != a.tag) {
      fail(v, "stale-read", who + " reads " + rn + " expecting " + tag_str(a.tag) + " but it holds " + tag_str(rg.tag));
      return false;
    }
    (void)async_reader;
    return true;
  }

  // A write (sync or async). `pipelined_acc`: an MMA may follow a pending MMA of the same thread
  // and accumulator into the same region.
  bool check_write(const State& s, const Access& a, const std::string& who, int role, int pipelined_acc,
                   Violation& v) const {
    const RegionState& rg = s.regions[a.region];
    const std::string rn = m_.regions[a.region].name;
    if (m_.regions[a.region].tmem && !s.tmem_live) {
      fail(v, "tmem", who + " writes TMEM region " + rn + (s.tmem_freed ? " after tcgen05.dealloc" : " before tcgen05.alloc"));
      return false;
    }
    if (a.prior != -1) {  // accumulating write: it adds onto what the region holds (or will hold)
      const int64_t cur = rg.writer >= 0 ? rg.pending_tag : rg.tag;
      if (cur != a.prior) {
        fail(v, "stale-read", who + " accumulates into " + rn + " expecting " + tag_str(a.prior) + " but it holds " + tag_str(cur));
        return false;
      }
    }
    if (rg.writer >= 0) {
      bool ok = false;
      if (pipelined_acc >= 0)
        for (const Op& o : s.ops)
          if (o.seq == rg.writer && o.type == Op::Mma && o.role == role && m_.roles[o.role].ev[o.ev].acc == pipelined_acc) ok = true;
      if (!ok) {
        fail(v, "hazard-waw", who + " writes " + rn + " while an asynchronous write of " + tag_str(rg.pending_tag) +
                                  " into it may still be in flight");
        return false;
      }
    }
    for (int rd : rg.readers) {
      (void)rd;
      fail(v, "hazard-war", who + " overwrites " + rn + " (holding " + tag_str(rg.tag) +
                                ") while an asynchronous reader may still use it");
      return false;
    }
    return true;
  }

  bool step_role(State& s, int r, Violation& v) const {
    RoleState& rs = s.roles[r];
    const Event& e = m_.roles[r].ev[rs.pc];
    const std::string who = where(r, rs.pc);
    // Fence rules.
    if (is_tcgen05(e.kind) && rs.need_after) {
      fail(v, "fence-after", who + ": tcgen05 operation after a thread-sync acquire without tcgen05.fence::after_thread_sync");
      return false;
    }
    const bool release = e.kind == Ev::Arrive || e.kind == Ev::ExpectTxArrive ||
                         (e.kind == Ev::BarSync && !rs.bar_arrived) || e.kind == Ev::BarArrive;
    if (release && rs.dirty_before) {
      fail(v, "fence-before", who + ": thread-sync release after a tcgen05 operation without tcgen05.fence::before_thread_sync");
      return false;
    }
    if (release && rs.proxy_dirty) {
      fail(v, "fence-proxy", who + ": thread-sync release after st.shared of data the async proxy reads, without fence.proxy.async");
      return false;
    }
    if (is_tcgen05(e.kind)) rs.dirty_before = true;

    switch (e.kind) {
      case Ev::Init: {
        BarState& b = s.bars[e.bar];
        if (b.inited) { fail(v, "barrier-count", who + ": mbarrier initialised twice"); return false; }
        if (e.count != m_.bars[e.bar].count) {
          fail(v, "barrier-count", who + ": init count " + std::to_string(e.count) + " differs from the table's " + std::to_string(m_.bars[e.bar].count));
          return false;
        }
        b.inited = true;
        b.pending = e.count;
        break;
      }
      case Ev::Arrive:
        if (!bar_arrive(s, e.bar, e.count, who, v)) return false;
        break;
      case Ev::ExpectTxArrive: {
        if (!s.bars[e.bar].inited) { fail(v, "barrier-count", who + ": expect_tx before init"); return false; }
        s.bars[e.bar].tx += e.count;
        if (!bar_arrive(s, e.bar, 1, who, v)) return false;
        break;
      }
      case Ev::Wait: {
        const BarState& b = s.bars[e.bar];
        if (e.ghost >= 0 && b.phase != e.ghost) {
          fail(v, "phase", who + ": wait passed with " + std::to_string(b.phase) + " completed phases but means to see " +
                               std::to_string(e.ghost) + (b.phase < e.ghost ? " (early: wrong parity)" : " (lapped: parity aliasing)"));
          return false;
        }
        rs.need_after = true;
        break;
      }
      case Ev::TmaLoad: {
        for (const Access& a : e.writes)
          if (!check_write(s, a, who, r, -1, v)) return false;
        Op o{Op::TmaLoad, r, rs.pc, s.next_seq++, {}};
        for (const Access& a : e.writes) {
          s.regions[a.region].writer = o.seq;
          s.regions[a.region].pending_tag = a.tag;
        }
        s.ops.push_back(o);
        break;
      }
      case Ev::TmaStore: {
        for (const Access& a : e.reads)
          if (!check_read(s, a, who, true, v)) return false;
        Op o{Op::TmaStore, r, rs.pc, s.next_seq++, {}};
        for (const Access& a : e.reads) s.regions[a.region].readers.push_back(o.seq);
        s.ops.push_back(o);
        break;
      }
      case Ev::BulkWaitRead:
        break;  // enabled only when this role's TMA stores have read their source
      case Ev::Mma: {
        for (const Access& a : e.reads)
          if (!check_read(s, a, who, true, v)) return false;
        for (const Access& a : e.writes) {
          if (!check_write(s, a, who, r, e.acc, v)) return false;
        }
        Op o{Op::Mma, r, rs.pc, s.next_seq++, {}};
        for (const Access& a : e.reads) s.regions[a.region].readers.push_back(o.seq);
        for (const Access& a : e.writes) {
          s.regions[a.region].writer = o.seq;
          s.regions[a.region].pending_tag = a.tag;
        }
        s.ops.push_back(o);
        break;
      }
      case Ev::Commit: {
        if (!s.bars[e.bar].inited) { fail(v, "barrier-count", who + ": commit to an uninitialised mbarrier"); return false; }
        Op o{Op::Commit, r, rs.pc, s.next_seq++, {}};
        for (const Op& p : s.ops)
          if (p.type == Op::Mma && p.role == r) o.tracked.push_back(p.seq);
        s.ops.push_back(o);
        break;
      }
      case Ev::TcLd:
      case Ev::SmemRead:
        for (const Access& a : e.reads)
          if (!check_read(s, a, who, false, v)) return false;
        break;
      case Ev::TcSt:
      case Ev::SmemWrite:
        for (const Access& a : e.writes) {
          if (!check_write(s, a, who, r, -1, v)) return false;
          s.regions[a.region].tag = a.tag;
          if (e.kind == Ev::SmemWrite && m_.regions[a.region].async_read) rs.proxy_dirty = true;
        }
        break;
      case Ev::FenceBefore:
        rs.dirty_before = false;
        break;
      case Ev::FenceAfter:
        rs.need_after = false;
        break;
      case Ev::FenceProxy:
        rs.proxy_dirty = false;
        break;
      case Ev::BarSync:
      case Ev::BarArrive: {
        NamedBarState& nb = s.named[e.named];
        if (e.kind == Ev::BarSync && rs.bar_arrived) {  // released
          rs.bar_arrived = false;
          rs.need_after = true;
          break;
        }
        if (nb.total != 0 && nb.total != e.total) {
          fail(v, "barrier-count", who + ": named barrier " + std::to_string(e.named) + " used with " + std::to_string(e.total) +
                                       " and " + std::to_string(nb.total) + " threads");
          return false;
        }
        nb.total = e.total;
        const int gen = nb.gen;
        nb.arrived += e.count;
        if (nb.arrived > nb.total) {
          fail(v, "barrier-count", who + ": more threads than " + std::to_string(nb.total) + " at named barrier " + std::to_string(e.named));
          return false;
        }
        if (nb.arrived == nb.total) {
          nb.arrived = 0;
          ++nb.gen;
        }
        if (e.kind == Ev::BarSync) {
          rs.bar_arrived = true;
          rs.bar_gen = gen;
          return true;  // pc stays: the role now waits for the generation
        }
        break;
      }
      case Ev::Alloc:
        if (s.tmem_live || s.tmem_freed) { fail(v, "tmem", who + ": second tcgen05.alloc"); return false; }
        s.tmem_live = true;
        break;
      case Ev::Dealloc: {
        if (!s.tmem_live) { fail(v, "tmem", who + ": tcgen05.dealloc without allocation"); return false; }
        for (const Op& o : s.ops)
          if (o.type == Op::Mma || o.type == Op::Commit) {
            fail(v, "tmem", who + ": tcgen05.dealloc while " + where(o.role, o.ev) + " is still in flight");
            return false;
          }
        for (std::size_t q = 0; q < m_.roles.size(); ++q) {
          if (static_cast<int>(q) == r) continue;
          const RoleState& os = s.roles[q];
          for (int k = os.pc; k < static_cast<int>(m_.roles[q].ev.size()); ++k)
            if (m_.roles[q].ev[k].kind == Ev::TcLd || m_.roles[q].ev[k].kind == Ev::TcSt || m_.roles[q].ev[k].kind == Ev::Mma) {
              fail(v, "tmem", who + ": tcgen05.dealloc before " + where(static_cast<int>(q), k) + " used TMEM");
              return false;
            }
        }
        s.tmem_live = false;
        s.tmem_freed = true;
        break;
      }
    }
    ++rs.pc;
    return true;
  }

  bool complete_op(State& s, int i, Violation& v) const {
    const Op o = s.ops[i];
    s.ops.erase(s.ops.begin() + i);
    const Event& e = m_.roles[o.role].ev[o.ev];
    auto drop_reader = [&](int region) {
      auto& rd = s.regions[region].readers;
      rd.erase(std::remove(rd.begin(), rd.end(), o.seq), rd.end());
    };
    switch (o.type) {
      case Op::Mma:
        for (const Access& a : e.reads) drop_reader(a.region);
        for (const Access& a : e.writes) {
          RegionState& rg = s.regions[a.region];
          rg.tag = a.tag;
          if (rg.writer == o.seq) {
            rg.writer = -1;
            rg.pending_tag = 0;
          }
        }
        break;
      case Op::TmaLoad: {
        for (const Access& a : e.writes) {
          RegionState& rg = s.regions[a.region];
          rg.tag = a.tag;
          rg.writer = -1;
          rg.pending_tag = 0;
        }
        BarState& b = s.bars[e.bar];
        b.tx -= e.count;
        if (b.tx < 0) {
          fail(v, "tx", where(o.role, o.ev) + ": complete_tx of " + std::to_string(e.count) + " bytes exceeds what " +
                            m_.bars[e.bar].name + " expects");
          return false;
        }
        maybe_complete(b, e.bar);
        break;
      }
      case Op::TmaStore:
        for (const Access& a : e.reads) drop_reader(a.region);
        break;
      case Op::Commit:
        if (!bar_arrive(s, e.bar, 1, where(o.role, o.ev) + " (commit arrival)", v)) return false;
        break;
    }
    return true;
  }

  static void put(std::string& k, int64_t x) { k.append(reinterpret_cast<const char*>(&x), sizeof(x)); }
  std::string encode(const State& s) const {
    std::string k;
    k.reserve(512);
    for (const RoleState& r : s.roles) {
      put(k, r.pc);
      put(k, (r.need_after ? 1 : 0) | (r.dirty_before ? 2 : 0) | (r.bar_arrived ? 4 : 0) | (r.proxy_dirty ? 8 : 0));
      put(k, r.bar_gen);
    }
    for (const BarState& b : s.bars) {
      put(k, b.pending);
      put(k, b.tx);
      put(k, b.phase);
      put(k, b.inited);
    }
    // Op identity is (role, event): seqs are renamed to their op's (role, event) so that two
    // interleavings reaching the same situation hash alike.
    std::map<int, int64_t> ren;
    for (const Op& o : s.ops) ren[o.seq] = (static_cast<int64_t>(o.role) << 32) | o.ev;
    auto rn = [&](int seq) -> int64_t { auto it = ren.find(seq); return it == ren.end() ? -1 : it->second; };
    for (const RegionState& r : s.regions) {
      put(k, r.tag);
      put(k, rn(r.writer));
      put(k, r.pending_tag);
      std::vector<int64_t> rd;
      for (int x : r.readers) rd.push_back(rn(x));
      std::sort(rd.begin(), rd.end());
      put(k, static_cast<int64_t>(rd.size()));
      for (int64_t x : rd) put(k, x);
    }
    std::vector<int64_t> ops;
    for (const Op& o : s.ops) ops.push_back(rn(o.seq));
    std::sort(ops.begin(), ops.end());
    for (int64_t x : ops) put(k, x);
    for (const auto& kv : s.named) {
      put(k, kv.first);
      put(k, kv.second.arrived);
      put(k, kv.second.gen);
    }
    put(k, (s.tmem_live ? 1 : 0) | (s.tmem_freed ? 2 : 0));
    return k;
  }
};

}  // namespace sm100_model
