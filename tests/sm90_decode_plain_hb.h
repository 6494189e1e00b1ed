// The "sm90 decode protocol model" of the plain mma.sync decode rows, part 2: the checks of one
// split (what and why: tests/test_cpu_sm90_decode_protocol_plain.cpp's header).
//
//   expected_slots    the split's tiles (_ho: the CTA's slots: each ticket's tiles or its empty
//                     chunk's marker, then the end), from the configuration alone
//   static_checks     per role: every wait's parity the completion the role means; the barriers
//                     initialised; each phase's arrivals (and TMA bytes) what its barrier counts
//                     (expects); a named barrier's count the threads of the warps that take it;
//                     the roles' mbarrier slots and the sub-blocks they read / load those of
//                     their tiles; a warp's loads of a unit its lanes stored behind bar.warp.sync
//                     or a named barrier
//   happens_before    every interleaving at once. A phase of a barrier is the arrivals each role
//                     makes as its k-th on it (and the copies issued for it); a role's k-th wait
//                     waits for phase k (one of the other parity passes on the completion its
//                     previous wait saw: it orders nothing); the k-th bar.sync of the warps that
//                     take a named barrier pass together (a count not their threads: no order).
//                     The vector clocks of the nodes in that order: a node that can never pass
//                     (a phase short of arrivals or of bytes, a named barrier a warp never
//                     reaches, a cycle) is a deadlock. Every interleaving is a linearisation of
//                     this order as long as no arrival of a phase can come before the previous
//                     phase of its barrier completed (the hardware's counting then gives each
//                     arrival the phase above) and no phase can complete two ahead of a wait for
//                     the one before it (the wait's parity then names its phase): both are checked
//                     on the clocks, and then every pair of accesses of a unit, one of them a
//                     write: ordered (a copy lands any time between its issue and its phase's
//                     completion, or after it where the phase expects fewer bytes or counts fewer
//                     arrivals than it gets; generic stores that a TMA load of the unit follows
//                     need a fence.proxy.async before the arrival that orders them), and no
//                     write of another role after an EPILOGUE store of the unit
//   check_model       one split's roles checked: static_checks, happens_before (check_split: the
//                     roles executed first)
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "sm90_decode_plain.h"

namespace sm90_decode_plain {

// ---- what the split must do ---------------------------------------------------------------------
struct Slot {
  long long stage = 0, key0 = 0, k_end = 0;
  bool tile = false;  // false: an _ho marker (an empty chunk, or the end)
};
inline std::vector<Slot> expected_slots(const Facts& f, const Config& c) {
  std::vector<Slot> o;
  auto tiles = [&](long long kb, long long ke) {
    for (long long key = kb; key < ke; key += 64) o.push_back({static_cast<long long>(o.size()) % f.stages, key, ke, true});
  };
  if (!f.ho) {
    tiles(c.split * c.sk(), std::min(c.keys, (c.split + 1) * c.sk()));
    return o;
  }
  for (long long t : c.tickets) {
    if (t >= c.splits()) break;
    const long long kb = t * c.sk(), ke = std::min(c.keys, kb + c.sk());
    if (ke > kb)
      tiles(kb, ke);
    else
      o.push_back({static_cast<long long>(o.size()) % f.stages, -1, 0, false});
  }
  o.push_back({static_cast<long long>(o.size()) % f.stages, -1, 0, false});
  return o;
}

// The warps' split of the CTA's m-tiles (roles.ptxh): WM warps along M, WN along the keys.
struct Split {
  long long wm = 1, wn = 4;
};
inline Split warps_of(const Facts& f, const Config& c) {
  const long long m_blk = f.heads > 1 ? 16 * f.heads : std::min<long long>(c.rows, 64), mtiles = (m_blk + 15) / 16;
  Split s;
  s.wm = mtiles > 2 ? 4 : mtiles;
  s.wn = 4 / s.wm;
  return s;
}

inline std::string bar_name(const Model& m, uint64_t bar) {
  const long long off = static_cast<long long>(bar - kSmem);
  if (off >= m.f.bar_full && off < m.f.bar_full + 8 * m.f.stages) return "full[" + std::to_string((off - m.f.bar_full) / 8) + "]";
  if (off >= m.f.bar_empty && off < m.f.bar_empty + 8 * m.f.stages) return "empty[" + std::to_string((off - m.f.bar_empty) / 8) + "]";
  return "barrier +" + std::to_string(off);
}
inline std::string where(const Role& r, std::size_t n) {
  return r.name + " (node " + std::to_string(n) + ", stmt " + std::to_string(r.nodes[n].stmt) + ")";
}

// ---- static checks --------------------------------------------------------------------------------
inline void static_checks(const Model& m, const Config& c, Verdict* v) {
  const Facts& f = m.f;
  // parities and initialised barriers; named barriers' takers
  std::map<uint64_t, int> takers;
  for (const Role& r : m.roles) {
    std::map<uint64_t, int> k;
    std::set<uint64_t> ids;
    for (std::size_t n = 0; n < r.nodes.size(); ++n) {
      const Node& e = r.nodes[n];
      if (e.kind == Kind::Bar) {
        ids.insert(e.bar);
        continue;
      }
      if (!m.inits.count(e.bar)) v->problem(where(r, n) + ": " + bar_name(m, e.bar) + " is not initialised");
      if (e.kind == Kind::Wait && e.parity != (k[e.bar]++ & 1))
        v->problem(where(r, n) + ": wait " + std::to_string(k[e.bar] - 1) + " on " + bar_name(m, e.bar) + " with parity " +
                   std::to_string(e.parity));
    }
    for (uint64_t id : ids) ++takers[id];
  }
  for (const Role& r : m.roles)
    for (std::size_t n = 0; n < r.nodes.size(); ++n)
      if (r.nodes[n].kind == Kind::Bar && r.nodes[n].count != 32 * takers[r.nodes[n].bar])
        v->problem(where(r, n) + ": named barrier " + std::to_string(r.nodes[n].bar) + " counts " + std::to_string(r.nodes[n].count) +
                   " threads, the warps that take it have " + std::to_string(32 * takers[r.nodes[n].bar]));
  // each phase's arrivals (the role's k-th arrival on a barrier: phase k) and TMA bytes
  std::map<std::pair<uint64_t, int>, std::pair<long long, long long>> arrived;  // -> (arrivals, expect_tx bytes)
  std::map<std::pair<uint64_t, int>, long long> landed;
  for (const Role& r : m.roles) {
    std::map<uint64_t, int> k;
    for (const Node& e : r.nodes)
      if (e.kind == Kind::Arrive) {
        auto& a = arrived[{e.bar, k[e.bar]++}];
        a.first += e.mult;
        a.second += e.tx;
      }
  }
  for (const AsyncWrite& a : m.async)
    if (a.tma) landed[{a.bar, a.phase}] += a.bytes;
  for (const auto& kv : arrived) {
    auto it = m.inits.find(kv.first.first);
    if (it != m.inits.end() && kv.second.first != it->second)
      v->problem(bar_name(m, kv.first.first) + " phase " + std::to_string(kv.first.second) + ": " + std::to_string(kv.second.first) +
                 " arrivals, it counts " + std::to_string(it->second));
    const long long tx = landed.count(kv.first) ? landed[kv.first] : 0;
    if (kv.second.second != tx)
      v->problem(bar_name(m, kv.first.first) + " phase " + std::to_string(kv.first.second) + ": expects " +
                 std::to_string(kv.second.second) + " bytes, its TMA loads bring " + std::to_string(tx));
  }
  for (const auto& kv : landed)
    if (!arrived.count(kv.first)) v->problem(bar_name(m, kv.first.first) + ": TMA bytes for a phase without arrivals");
  // the roles' mbarrier slots, in order (consumers: full then empty of each slot's stage; the
  // producer: empty from slot STAGES on, then full), and the units they read / load per slot
  const std::vector<Slot> slots = expected_slots(f, c);
  const Split sp = warps_of(f, c);
  const long long box_rows = c.page > 0 ? std::min(c.page, 64) : 64;
  auto bar_of = [&](bool full, long long s) { return kSmem + static_cast<uint64_t>((full ? f.bar_full : f.bar_empty) + 8 * s); };
  for (std::size_t ri = 0; ri < m.roles.size(); ++ri) {
    const Role& r = m.roles[ri];
    std::vector<std::string> got, want;
    for (const Node& e : r.nodes)
      if (e.kind != Kind::Bar) got.push_back(std::string(e.kind == Kind::Wait ? "wait " : "arrive ") + bar_name(m, e.bar));
    for (std::size_t i = 0; i < slots.size(); ++i) {
      const bool last = f.ho && i + 1 == slots.size();  // the end: no release
      if (r.consumer) {
        want.push_back("wait " + bar_name(m, bar_of(true, slots[i].stage)));
        if (!last) want.push_back("arrive " + bar_name(m, bar_of(false, slots[i].stage)));
      } else {
        if (static_cast<long long>(i) >= f.stages) want.push_back("wait " + bar_name(m, bar_of(false, slots[i].stage)));
        want.push_back("arrive " + bar_name(m, bar_of(true, slots[i].stage)));
      }
    }
    if (got != want) {
      std::size_t d = 0;
      while (d < got.size() && d < want.size() && got[d] == want[d]) ++d;
      v->problem(r.name + ": mbarrier " + std::to_string(d) + " is " + (d < got.size() ? got[d] : "none") + ", its slots' is " +
                 (d < want.size() ? want[d] : "none"));
      continue;
    }
    if (r.consumer) {
      // slot i's window: the gaps from its wait to the next mbarrier node (the named barriers
      // between included); the gaps after BAR_EPI (the EPILOGUE, HO_FLUSH) are the templates'
      const long long mt = r.warp % sp.wm, kp = r.warp / sp.wm, h = f.heads > 1 ? mt : 0;
      std::vector<Units> in(slots.size());
      Units outside;
      long long slot = -1;
      bool open = false;
      for (std::size_t g = 0; g < r.gaps.size(); ++g) {
        if (g > 0 && r.nodes[g - 1].kind != Kind::Bar) {
          open = r.nodes[g - 1].kind == Kind::Wait;
          slot += open;
        }
        if (r.gaps[g].flush) continue;
        (open ? in[static_cast<std::size_t>(slot)] : outside) |= r.gaps[g].rd;
      }
      for (std::size_t i = 0; i < slots.size(); ++i) {
        Units want_u;
        if (slots[i].tile)
          for (long long b = kp; b < 4; b += sp.wn) {
            want_u.set(static_cast<std::size_t>(m.map.ring_unit(slots[i].stage, h, b)));
            want_u.set(static_cast<std::size_t>(m.map.ring_unit(slots[i].stage, f.heads + h, b)));
          }
        if (f.ho) want_u.set(static_cast<std::size_t>(m.map.slot_unit(slots[i].stage)));
        if (in[i] != want_u)
          v->problem(r.name + ": slot " + std::to_string(i) + " reads " + m.map.names(in[i]) + ", its sub-blocks are " +
                     m.map.names(want_u));
      }
      Units ring;
      for (int u = 0; u < f.ring_units(); ++u) ring.set(static_cast<std::size_t>(u));
      if ((outside & ring).any()) v->problem(r.name + ": reads " + m.map.names(outside & ring) + " outside its slots");
    } else {
      // the producer's loads of each tile: its stage's K and V sub-blocks of the boxes that hold
      // keys below the split's end (cp.async: every row, those past it zero-filled)
      std::map<std::pair<uint64_t, int>, Units> wrote;
      for (const AsyncWrite& a : m.async) wrote[{a.bar, a.phase}] |= a.wr;
      std::map<long long, int> round;
      for (std::size_t i = 0; i < slots.size(); ++i) {
        const int phase = round[slots[i].stage]++;
        Units want_u;
        if (slots[i].tile) {
          const long long rows =
              c.cpasync ? 64 : std::min<long long>(64, (slots[i].k_end - slots[i].key0 + box_rows - 1) / box_rows * box_rows);
          for (long long t = 0; t < 2 * f.heads; ++t)
            for (long long b = 0; 16 * b < rows; ++b) want_u.set(static_cast<std::size_t>(m.map.ring_unit(slots[i].stage, t, b)));
        }
        const auto it = wrote.find({bar_of(true, slots[i].stage), phase});
        const Units got_u = it == wrote.end() ? Units() : it->second;
        if (got_u != want_u)
          v->problem("producer: slot " + std::to_string(i) + " loads " + m.map.names(got_u) + ", its tile's boxes are " +
                     m.map.names(want_u));
      }
      if (wrote.size() != static_cast<std::size_t>(std::count_if(slots.begin(), slots.end(), [](const Slot& s) { return s.tile; })))
        v->problem("producer: loads for phases that are not its tiles'");
    }
  }
  // per lane: a load of a unit the lane stored into behind a warp or named barrier (the other
  // lanes' stores: one thread per warp sees only its own; fence.proxy.async before a TMA load of
  // the unit: happens_before)
  for (std::size_t ri = 0; ri < m.roles.size(); ++ri)
    for (const std::vector<TraceEv>* tr : {&m.lane_traces[ri][0], &m.lane_traces[ri][1]}) {
      std::set<int> unsynced;
      for (const TraceEv& e : *tr) {
        const int u = e.kind == "st_shared" || e.kind == "ld_shared" ? m.map.unit(e.addr) : -1;
        if (e.kind == "st_shared" && u >= 0 && u < f.ring_units()) unsynced.insert(u);
        if (e.kind == "warp_sync" || e.kind == "bar_sync") unsynced.clear();
        if (e.kind == "ld_shared" && unsynced.count(u))
          v->problem(m.roles[ri].name + ": loads " + m.map.name(u) + " (stmt " + std::to_string(e.stmt) +
                     ") its lanes stored into without bar.warp.sync or a named barrier between");
      }
    }
}

// ---- every interleaving: the happens-before order ---------------------------------------------------
using Clock = std::vector<int>;
inline void join(Clock* a, const Clock& b) {
  for (std::size_t i = 0; i < a->size(); ++i) (*a)[i] = std::max((*a)[i], b[i]);
}

inline void happens_before(const Model& m, Verdict* v) {
  const int R = static_cast<int>(m.roles.size()), A = static_cast<int>(m.async.size());
  const std::size_t C = static_cast<std::size_t>(R + A);
  // phases: (barrier, k) -> its arrivals (role, node) and copies; each wait's phase; named
  // barriers' instances
  struct Phase {
    std::vector<std::pair<int, std::size_t>> arr;
    std::vector<int> cp;
    long long arrivals = 0, tx = 0, landed = 0;
  };
  std::map<std::pair<uint64_t, int>, Phase> ph;
  std::vector<std::vector<int>> ord(
      static_cast<std::size_t>(R));             // [role][node]: its ordinal on its barrier (waits / arrivals / bars apart)
  std::map<uint64_t, std::vector<int>> takers;  // named barrier -> roles
  for (int i = 0; i < R; ++i) {
    const Role& r = m.roles[static_cast<std::size_t>(i)];
    std::map<std::pair<int, uint64_t>, int> k;
    for (std::size_t n = 0; n < r.nodes.size(); ++n) {
      const Node& e = r.nodes[n];
      const int o = k[{static_cast<int>(e.kind), e.bar}]++;
      ord[static_cast<std::size_t>(i)].push_back(o);
      if (e.kind == Kind::Arrive) {
        Phase& p = ph[{e.bar, o}];
        p.arr.push_back({i, n});
        p.arrivals += e.mult;
        p.tx += e.tx;
      }
      if (e.kind == Kind::Bar && o == 0) takers[e.bar].push_back(i);
    }
  }
  for (int a = 0; a < A; ++a) {
    const AsyncWrite& w = m.async[static_cast<std::size_t>(a)];
    Phase& p = ph[{w.bar, w.phase}];
    p.cp.push_back(a);
    if (w.tma) p.landed += w.bytes;
  }
  std::map<uint64_t, bool> counted;  // named barrier -> its count is its takers' threads (else it orders nothing)
  for (const auto& kv : takers) {
    bool ok = true;
    for (int i : kv.second)
      for (const Node& e : m.roles[static_cast<std::size_t>(i)].nodes)
        if (e.kind == Kind::Bar && e.bar == kv.first && e.count != 32 * static_cast<long long>(kv.second.size())) ok = false;
    counted[kv.first] = ok;
  }
  // vector clocks: [role][node] after the node; the copies' (their issue's past and their own component)
  std::vector<std::vector<Clock>> vc(static_cast<std::size_t>(R));
  std::vector<Clock> cpast(static_cast<std::size_t>(A)), cvc(static_cast<std::size_t>(A));
  std::vector<char> cdone(static_cast<std::size_t>(A), 0);
  std::vector<std::size_t> pos(static_cast<std::size_t>(R), 0);
  auto past = [&](int i, std::size_t g) { return g == 0 ? Clock(C, 0) : vc[static_cast<std::size_t>(i)][g - 1]; };
  auto settle_copies = [&]() {
    for (int a = 0; a < A; ++a) {
      const AsyncWrite& w = m.async[static_cast<std::size_t>(a)];
      if (cdone[static_cast<std::size_t>(a)] || pos[static_cast<std::size_t>(w.role)] < static_cast<std::size_t>(w.gap)) continue;
      cpast[static_cast<std::size_t>(a)] = past(w.role, static_cast<std::size_t>(w.gap));
      cvc[static_cast<std::size_t>(a)] = cpast[static_cast<std::size_t>(a)];
      cvc[static_cast<std::size_t>(a)][static_cast<std::size_t>(R + a)] = 1;
      cdone[static_cast<std::size_t>(a)] = 1;
    }
  };
  for (bool moved = true; moved;) {
    moved = false;
    settle_copies();
    for (int i = 0; i < R; ++i) {
      const Role& r = m.roles[static_cast<std::size_t>(i)];
      std::size_t& n = pos[static_cast<std::size_t>(i)];
      if (n == r.nodes.size()) continue;
      const Node& e = r.nodes[n];
      Clock x = past(i, n);
      x[static_cast<std::size_t>(i)] = static_cast<int>(n + 1);
      if (e.kind == Kind::Wait && e.parity == (ord[static_cast<std::size_t>(i)][n] & 1)) {
        // (a wait of the other parity passes on the completion its previous wait saw: no order)
        auto it = ph.find({e.bar, ord[static_cast<std::size_t>(i)][n]});
        auto cnt = m.inits.find(e.bar);
        if (it == ph.end() || cnt == m.inits.end() || it->second.arrivals < cnt->second || it->second.tx > it->second.landed)
          continue;  // never completes
        bool ready = true;
        for (const auto& a : it->second.arr) ready = ready && pos[static_cast<std::size_t>(a.first)] > a.second;
        for (int a : it->second.cp) ready = ready && cdone[static_cast<std::size_t>(a)];
        if (!ready) continue;
        for (const auto& a : it->second.arr) join(&x, vc[static_cast<std::size_t>(a.first)][a.second]);
        // the copies: landed when the phase completes, unless it completes before them (more
        // arrivals than it counts: the warp's first lanes; fewer bytes expected than loaded)
        if (it->second.arrivals == cnt->second && it->second.tx == it->second.landed)
          for (int a : it->second.cp) join(&x, cvc[static_cast<std::size_t>(a)]);
      } else if (e.kind == Kind::Bar && counted[e.bar]) {
        // every taker at its k-th bar.sync on the id: all pass together
        const int k = ord[static_cast<std::size_t>(i)][n];
        bool ready = true;
        for (int o : takers[e.bar]) {
          const std::size_t q = pos[static_cast<std::size_t>(o)];
          const Role& ro = m.roles[static_cast<std::size_t>(o)];
          ready = ready && q < ro.nodes.size() && ro.nodes[q].kind == Kind::Bar && ro.nodes[q].bar == e.bar &&
                  ord[static_cast<std::size_t>(o)][q] == k;
        }
        if (!ready) continue;
        Clock all(C, 0);
        for (int o : takers[e.bar]) {
          const std::size_t q = pos[static_cast<std::size_t>(o)];
          Clock y = past(o, q);
          y[static_cast<std::size_t>(o)] = static_cast<int>(q + 1);
          join(&all, y);
        }
        for (int o : takers[e.bar]) {
          vc[static_cast<std::size_t>(o)].push_back(all);
          ++pos[static_cast<std::size_t>(o)];
        }
        moved = true;
        continue;
      }
      vc[static_cast<std::size_t>(i)].push_back(x);
      ++n;
      moved = true;
    }
  }
  settle_copies();
  bool stuck = false;
  std::string at;
  for (int i = 0; i < R; ++i) {
    const Role& r = m.roles[static_cast<std::size_t>(i)];
    const std::size_t n = pos[static_cast<std::size_t>(i)];
    if (n == r.nodes.size()) continue;
    stuck = true;
    const Node& e = r.nodes[n];
    at += "; " + where(r, n) + " at its " +
          (e.kind == Kind::Wait  ? "wait " + std::to_string(ord[static_cast<std::size_t>(i)][n]) + " on " + bar_name(m, e.bar)
           : e.kind == Kind::Bar ? "named barrier " + std::to_string(e.bar)
                                 : "arrival");
  }
  if (stuck) {
    v->problem("deadlock" + at);
    return;
  }
  // HB tests: node (i, n) before a clock; copy a before a clock
  auto node_before = [&](int i, std::size_t n, const Clock& c) { return c[static_cast<std::size_t>(i)] >= static_cast<int>(n + 1); };
  auto copy_before = [&](int a, const Clock& c) { return c[static_cast<std::size_t>(R + a)] >= 1; };
  // no arrival (or copy) of phase k + 1 before phase k completed; no phase k + 1 completing
  // before a wait for phase k
  for (const auto& kv : ph) {
    auto nx = ph.find({kv.first.first, kv.first.second + 1});
    if (nx == ph.end()) continue;
    std::vector<Clock> later;
    for (const auto& a : nx->second.arr) later.push_back(vc[static_cast<std::size_t>(a.first)][a.second]);
    for (int a : nx->second.cp) later.push_back(cpast[static_cast<std::size_t>(a)]);
    for (const Clock& c : later) {
      bool ok = true;
      for (const auto& a : kv.second.arr) ok = ok && node_before(a.first, a.second, c);
      for (int a : kv.second.cp) ok = ok && copy_before(a, c);
      if (!ok) {
        v->problem(bar_name(m, kv.first.first) + ": an arrival of phase " + std::to_string(kv.first.second + 1) +
                   " may come before phase " + std::to_string(kv.first.second) + " completed");
        break;
      }
    }
  }
  for (int i = 0; i < R; ++i) {
    const Role& r = m.roles[static_cast<std::size_t>(i)];
    for (std::size_t n = 0; n < r.nodes.size(); ++n) {
      if (r.nodes[n].kind != Kind::Wait || r.nodes[n].parity != (ord[static_cast<std::size_t>(i)][n] & 1)) continue;
      auto nx = ph.find({r.nodes[n].bar, ord[static_cast<std::size_t>(i)][n] + 1});
      if (nx == ph.end()) continue;
      bool after = false;
      for (const auto& a : nx->second.arr) after = after || node_before(i, n, vc[static_cast<std::size_t>(a.first)][a.second]);
      for (int a : nx->second.cp) after = after || node_before(i, n, cpast[static_cast<std::size_t>(a)]);
      if (!after)
        v->problem(where(r, n) + ": " + bar_name(m, r.nodes[n].bar) + " may complete phase " +
                   std::to_string(ord[static_cast<std::size_t>(i)][n] + 1) + " before this wait for phase " +
                   std::to_string(ord[static_cast<std::size_t>(i)][n]) + " (two phases ahead)");
    }
  }
  // accesses: the roles' gaps and the copies; a pair of them with a write to a common unit must
  // be ordered
  struct Acc {
    int role, copy;  // copy >= 0: the copy; else gap `gap` of `role`
    std::size_t gap;
    const Units *rd, *wr;
    bool epi, late;
    bool generic_unfenced;  // generic stores released without fence.proxy.async
    bool async_proxy;       // a TMA load

    Clock pre;  // what happened before it
    std::string what;
  };
  std::vector<Acc> acc;
  const Units none;
  for (int i = 0; i < R; ++i) {
    const Role& r = m.roles[static_cast<std::size_t>(i)];
    for (std::size_t g = 0; g < r.gaps.size(); ++g)
      if (r.gaps[g].rd.any() || r.gaps[g].wr.any())
        acc.push_back(
            {i, -1, g, &r.gaps[g].rd, &r.gaps[g].wr, r.gaps[g].epi, r.gaps[g].flush && !m.f.ho, r.gaps[g].unfenced, false, past(i, g),
             r.name + " (gap " + std::to_string(g) + (g < r.nodes.size() ? ", before stmt " + std::to_string(r.nodes[g].stmt) : "") + ")"});
  }
  for (int a = 0; a < A; ++a) {
    const AsyncWrite& w = m.async[static_cast<std::size_t>(a)];
    acc.push_back({w.role, a, 0, &none, &w.wr, false, false, false, w.tma, cpast[static_cast<std::size_t>(a)],
                   std::string(w.tma ? "the TMA load" : "the cp.async copies") + " of " + bar_name(m, w.bar) + " phase " +
                       std::to_string(w.phase) + " (stmt " + std::to_string(w.stmt) + ")"});
  }
  // x happens before y; `stores`: x's stores against a TMA load y, which only a fence.proxy.async
  // after them (before x's next arrival) orders
  auto before = [&](const Acc& x, const Acc& y, bool stores) {
    if (x.copy >= 0) return copy_before(x.copy, y.pre);
    const Role& r = m.roles[static_cast<std::size_t>(x.role)];
    return x.gap < r.nodes.size() && node_before(x.role, x.gap, y.pre) && !(stores && y.async_proxy && x.generic_unfenced);
  };
  // (a write against a read first, then two writes, then the EPILOGUE's reuse)
  for (int pass = 0; pass < 3; ++pass)
    for (std::size_t p = 0; p < acc.size(); ++p)
      for (std::size_t q = 0; q < acc.size(); ++q) {
        const Acc &x = acc[p], &y = acc[q];
        if (p == q || (x.copy < 0 && y.copy < 0 && x.role == y.role)) continue;
        // the EPILOGUE's / HO_FLUSH's parts of two warps: byte-disjoint stores (Template)
        const Units ww = x.epi && y.epi ? Units() : *x.wr & *y.wr, rw = *x.wr & *y.rd;
        if (pass == 0 && rw.any() && !before(x, y, false) && !before(y, x, false))
          v->problem(x.what + " writes " + m.map.names(rw) + " while " + y.what + " reads it (unordered)");
        if (pass == 1 && p < q && ww.any() && !before(x, y, true) && !before(y, x, true))
          v->problem(x.what + " writes " + m.map.names(ww) + " while " + y.what + " writes it (unordered" +
                     (x.generic_unfenced || y.generic_unfenced ? " or not fenced for the TMA load)" : ")"));
        if (pass == 2 && x.late && ww.any() && !before(y, x, true))
          v->problem(x.what + " reuses " + m.map.names(ww) + " (the EPILOGUE) while " + y.what + " may still write it");
      }
}

// ---- one split ----------------------------------------------------------------------------------
struct Run {
  Verdict verdict;  // all the problems: those of the interleavings, then the static ones
  Verdict interleaving, statics;
  std::string error;
  long long events = 0;
  int unknown_branches = 0;
  std::vector<std::string> sequences;  // per role: its nodes (the causal flag's comparison)
};
inline Run check_model(const Model& m, const Config& c) {
  Run run;
  run.error = m.error;
  run.events = m.events;
  run.unknown_branches = m.unknown_branches;
  for (const std::string& p : m.pre.problems) run.statics.problem(p);
  static_checks(m, c, &run.statics);
  happens_before(m, &run.interleaving);
  for (const Verdict* v : {&run.interleaving, &run.statics})
    for (const std::string& p : v->problems) run.verdict.problem(p);
  for (const Role& r : m.roles) {
    std::string s;
    for (const Node& e : r.nodes)
      s += std::to_string(static_cast<int>(e.kind)) + ":" + std::to_string(e.bar) + ":" + std::to_string(e.parity) + " ";
    run.sequences.push_back(s);
  }
  return run;
}
inline Run check_split(const std::vector<sm100_ptx::Stmt>& st, const KernelMacros& k, const Config& c, const Template& tpl) {
  return check_model(build_model(st, k, c, tpl), c);
}

}  // namespace sm90_decode_plain
