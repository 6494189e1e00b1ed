// The "sm90 decode protocol model" of the plain mma.sync decode rows, part 3: the exhaustive
// exploration of the interleavings, state by state, as the converter rows' model explores
// (sm90_decode_protocol.h explore), on the roles of a split (sm90_decode_plain.h Model). A state
// is every role's step (each role's nodes done are a prefix, arrivals commute; a named barrier is
// two steps: reached, then passed) and which of the TMA / cp.async copies issued have landed
// (each any time after its issue): an mbarrier's completed phases follow from the arrivals so far
// over its count, as the hardware counts them, a phase completing once its copies landed too (a
// phase expecting more bytes than its copies bring never, one expecting fewer without them); a
// wait passes on the parity it names (not the one the role means: a wrong parity shows as what it
// lets happen); a named barrier's k-th bar.sync passes once every warp that takes it reached its
// k-th (one whose count is not those warps' threads orders nothing). In every reachable state:
//   * no deadlock: some role can move or a copy land, or every role is done;
//   * no barrier two phases ahead of a role that still waits on it;
//   * no two roles accessing a common unit in the gaps they are in, one of them writing (the
//     warps' EPILOGUE / HO_FLUSH part stores apart: byte-disjoint); no copy in flight (issued,
//     not landed) writing a unit a role accesses there or another copy in flight writes; no TMA
//     load in flight into a unit a role stored into without fence.proxy.async before its next
//     arrival (such stores may reach the async proxy any time later);
//   * no EPILOGUE store into a unit another role (or copy) will still write.
// The states are the product of the four consumer warps' positions (a 15-tile split of the
// 6-stage e4m3 row: 4.5 x 10^5): the tests explore the splits of up to 5 tiles (check_plain) and
// the mutations' splits up to a cap, and require the same verdict as the happens-before check
// (sm90_decode_plain_hb.h), which decides every split.
//
//   explore           one split's roles, every state
//   plain_statements, plain_template  the unmutated rows' statements and templates, made once
//   check_plain       one split of an unmutated row: executed, checked, explored if short
#pragma once
#include <doctest/doctest.h>

#include <deque>
#include <map>
#include <string>
#include <unordered_set>
#include <vector>

#include "sm90_decode_plain_hb.h"

namespace sm90_decode_plain {

struct Explored {
  Verdict verdict;
  std::size_t states = 0;
  bool capped = false;  // more states than the cap: the exploration stopped (no verdict)
};

inline Explored explore(const Model& m, std::size_t cap = 2000000) {
  Explored out;
  Verdict& v = out.verdict;
  const std::size_t R = m.roles.size(), A = m.async.size();
  REQUIRE(R <= 5);
  // dense mbarriers and named barriers
  std::map<uint64_t, std::size_t> bi, ni;
  for (const Role& r : m.roles)
    for (const Node& e : r.nodes) {
      if (e.kind == Kind::Bar)
        ni.emplace(e.bar, ni.size());
      else
        bi.emplace(e.bar, bi.size());
    }
  for (const AsyncWrite& a : m.async) bi.emplace(a.bar, bi.size());
  const std::size_t B = bi.size(), N = ni.size();
  std::vector<long long> count(B, 0);
  std::vector<uint64_t> addr(B, 0);
  for (const auto& kv : bi) {
    auto it = m.inits.find(kv.first);
    count[kv.second] = it == m.inits.end() ? 0 : it->second;
    addr[kv.second] = kv.first;
  }
  // per barrier and phase: its copies, its expected and loaded bytes
  struct Ph {
    std::vector<std::size_t> cp;
    long long tx = 0, landed = 0;
  };
  std::vector<std::map<int, Ph>> phs(B);
  for (std::size_t a = 0; a < A; ++a) {
    Ph& p = phs[bi[m.async[a].bar]][m.async[a].phase];
    p.cp.push_back(a);
    if (m.async[a].tma) p.landed += m.async[a].bytes;
  }
  for (std::size_t i = 0; i < R; ++i) {
    std::map<uint64_t, int> k;
    for (const Node& e : m.roles[i].nodes)
      if (e.kind == Kind::Arrive) phs[bi[e.bar]][k[e.bar]++].tx += e.tx;
  }
  // A role's steps: each node, a named barrier's in two (the role reaches it, done with the gap
  // before it; then it passes); per role and step position: the node, whether the gap before it
  // is still going on, the arrivals, waits, bars passed before it, a wait at or after it, the
  // units of its unfenced stores before it.
  struct Pos {
    std::size_t node = 0;
    bool in_gap = true;  // false: at a named barrier, reached
    std::vector<long long> arr, waits, bars;
    std::vector<char> future_wait;
    Units lingering;
  };
  std::vector<std::vector<Pos>> tab(R);
  std::vector<std::vector<std::size_t>> takers(N);
  std::vector<long long> named_threads(N, 0);
  for (std::size_t i = 0; i < R; ++i) {
    const Role& r = m.roles[i];
    Pos p;
    p.arr.assign(B, 0);
    p.waits.assign(B, 0);
    p.bars.assign(N, 0);
    std::vector<char> takes(N, 0);
    for (std::size_t j = 0; j <= r.nodes.size(); ++j) {
      p.node = j;
      p.in_gap = true;
      tab[i].push_back(p);
      if (r.gaps[j].unfenced) p.lingering |= r.gaps[j].wr;
      if (j == r.nodes.size()) break;
      const Node& e = r.nodes[j];
      if (e.kind == Kind::Bar) {
        p.in_gap = false;
        tab[i].push_back(p);
        ++p.bars[ni[e.bar]];
        takes[ni[e.bar]] = 1;
      }
      if (e.kind == Kind::Arrive) p.arr[bi[e.bar]] += e.mult;
      if (e.kind == Kind::Wait) ++p.waits[bi[e.bar]];
    }
    REQUIRE(tab[i].size() < 4095);
    for (std::size_t n = 0; n < N; ++n)
      if (takes[n]) {
        takers[n].push_back(i);
        named_threads[n] += 32;
      }
    std::vector<char> fut(B, 0);
    for (std::size_t j = tab[i].size(); j-- > 0;) {
      const std::size_t n = tab[i][j].node;
      if (n < r.nodes.size() && r.nodes[n].kind == Kind::Wait) fut[bi[r.nodes[n].bar]] = 1;
      tab[i][j].future_wait = fut;
    }
  }
  // the units each role writes from a gap on (the EPILOGUE's reuse check)
  std::vector<std::vector<Units>> writes_from(R);
  for (std::size_t i = 0; i < R; ++i) {
    const Role& r = m.roles[i];
    writes_from[i].assign(r.gaps.size() + 1, Units());
    for (std::size_t g = r.gaps.size(); g-- > 0;) writes_from[i][g] = writes_from[i][g + 1] | r.gaps[g].wr;
  }
  auto gap_of = [&](std::size_t i, std::size_t q) -> const Gap* {  // the gap role i is in at step q, or none
    static const Gap idle;
    return tab[i][q].in_gap ? &m.roles[i].gaps[tab[i][q].node] : &idle;
  };
  auto node_at = [&](std::size_t i, std::size_t q) { return tab[i][q].node; };
  // a state: the roles' step positions (12 bits each), and per copy whether it landed (it may once
  // issued)
  REQUIRE(A <= 64);
  struct Key {
    uint64_t pos = 0, landed = 0;
    bool operator==(const Key& o) const { return pos == o.pos && landed == o.landed; }
  };
  struct Hash {
    std::size_t operator()(const Key& k) const { return std::hash<uint64_t>()(k.pos * 0x9e3779b97f4a7c15ull ^ k.landed); }
  };
  auto shift = [&](std::size_t i) { return 12 * (R - 1 - i); };
  std::unordered_set<Key, Hash> seen;
  std::deque<Key> todo;
  seen.insert(Key());
  todo.push_back(Key());
  std::vector<long long> phases(B);
  std::vector<char> issued(A), flying(A);
  std::vector<std::size_t> s(R);
  const Units none;
  while (!todo.empty()) {
    if (seen.size() > cap) {
      out.capped = true;
      break;
    }
    const Key st = todo.front();
    todo.pop_front();
    for (std::size_t i = 0; i < R; ++i) s[i] = (st.pos >> shift(i)) & 0xfff;
    auto landed_bit = [&](std::size_t x) { return (st.landed >> x) & 1; };
    for (std::size_t x = 0; x < A; ++x) {
      issued[x] = node_at(static_cast<std::size_t>(m.async[x].role), s[static_cast<std::size_t>(m.async[x].role)]) >=
                  static_cast<std::size_t>(m.async[x].gap);
      flying[x] = issued[x] && !landed_bit(x);
    }
    // completed phases: the arrivals reach the count and the phase's copies landed (a phase
    // expecting more bytes than its TMA loads bring never completes, one expecting fewer
    // completes without them)
    for (std::size_t b = 0; b < B; ++b) {
      long long a = 0;
      for (std::size_t i = 0; i < R; ++i) a += tab[i][s[i]].arr[b];
      long long c = 0;
      while (count[b] > 0 && a >= (c + 1) * count[b]) {
        auto it = phs[b].find(static_cast<int>(c));
        if (it != phs[b].end()) {
          if (it->second.tx > it->second.landed) break;
          bool landed = true;
          for (std::size_t x : it->second.cp) landed = landed && landed_bit(x);
          if (!landed && it->second.tx == it->second.landed) break;
        }
        ++c;
      }
      phases[b] = c;
    }
    for (std::size_t i = 0; i < R; ++i) {
      const Pos& p = tab[i][s[i]];
      for (std::size_t b = 0; b < B; ++b)
        if (p.future_wait[b] && phases[b] > p.waits[b] + 1)
          v.problem(m.roles[i].name + ": " + bar_name(m, addr[b]) + " ran two phases ahead of its wait " + std::to_string(p.waits[b]));
    }
    // the accesses of this state
    for (std::size_t i = 0; i < R; ++i) {
      const Gap& gi = *gap_of(i, s[i]);
      for (std::size_t o = i + 1; o < R; ++o) {
        const Gap& go = *gap_of(o, s[o]);
        const Units ww = gi.epi && go.epi ? Units() : gi.wr & go.wr, rw = (gi.wr & go.rd) | (go.wr & gi.rd);
        if ((ww | rw).any())
          v.problem(m.roles[i].name + " (gap " + std::to_string(node_at(i, s[i])) + ") and " + m.roles[o].name + " (gap " +
                    std::to_string(node_at(o, s[o])) + ") access " + m.map.names(ww | rw) + " together, " +
                    (ww.any() ? "both writing" : "one writing"));
      }
      for (std::size_t x = 0; x < A; ++x) {
        if (!flying[x]) continue;
        const Units w = m.async[x].wr & (gi.wr | gi.rd | (m.async[x].tma ? tab[i][s[i]].lingering : none));
        if (w.any())
          v.problem(std::string(m.async[x].tma ? "a TMA load" : "cp.async copies") + " of " + bar_name(m, m.async[x].bar) + " phase " +
                    std::to_string(m.async[x].phase) + " in flight into " + m.map.names(w) + " while " + m.roles[i].name + " (gap " +
                    std::to_string(node_at(i, s[i])) + ") accesses it or its stores are not fenced");
      }
      if (gi.flush && !m.f.ho && gi.wr.any())
        for (std::size_t o = 0; o < R; ++o) {
          if (o == i) continue;
          const std::size_t go = node_at(o, s[o]) + (tab[o][s[o]].in_gap ? 0 : 1);  // its gaps still to come
          Units later = writes_from[o][go];
          if (gi.epi) {  // another warp's parts: byte-disjoint
            later.reset();
            for (std::size_t g = go; g < m.roles[o].gaps.size(); ++g)
              if (!m.roles[o].gaps[g].epi) later |= m.roles[o].gaps[g].wr;
          }
          for (std::size_t x = 0; x < A; ++x)
            if (m.async[x].role == static_cast<int>(o) && !landed_bit(x)) later |= m.async[x].wr;
          if ((gi.wr & later).any())
            v.problem(m.roles[i].name + " (gap " + std::to_string(node_at(i, s[i])) + ") reuses " + m.map.names(gi.wr & later) +
                      " (the EPILOGUE) while " + m.roles[o].name + " will still write it");
        }
    }
    for (std::size_t x = 0; x < A; ++x)
      for (std::size_t y = x + 1; y < A; ++y)
        if (flying[x] && flying[y] && (m.async[x].wr & m.async[y].wr).any())
          v.problem("two copies in flight into " + m.map.names(m.async[x].wr & m.async[y].wr));
    bool any = false, done = true;
    for (std::size_t x = 0; x < A; ++x) {  // a copy lands
      if (!flying[x]) continue;
      done = false;
      Key nx = st;
      nx.landed |= uint64_t{1} << x;
      any = true;
      if (seen.insert(nx).second) todo.push_back(nx);
    }
    for (std::size_t i = 0; i < R; ++i) {
      const Role& r = m.roles[i];
      if (s[i] + 1 == tab[i].size()) continue;
      done = false;
      const Node& e = r.nodes[node_at(i, s[i])];
      if (e.kind == Kind::Wait) {
        auto it = bi.find(e.bar);
        if ((phases[it->second] & 1) == e.parity) continue;  // try_wait.parity passes once the parity differs
      }
      if (e.kind == Kind::Bar && !tab[i][s[i]].in_gap) {
        // passing the k-th: every other warp that takes the barrier reached its k-th
        const std::size_t n = ni[e.bar];
        const bool open =
            e.count != named_threads[n] ||
            sm90_decode_protocol::named_bar_open(
                i, tab[i][s[i]].bars[n], takers[n], [&](std::size_t o) { return tab[o][s[o]].bars[n]; },
                [&](std::size_t o) { return !tab[o][s[o]].in_gap && m.roles[o].nodes[node_at(o, s[o])].bar == e.bar; });
        if (!open) continue;
      }
      Key nx = st;
      nx.pos += uint64_t{1} << shift(i);
      any = true;
      if (seen.insert(nx).second) todo.push_back(nx);
    }
    if (!done && !any) {
      std::string at;
      for (std::size_t i = 0; i < R; ++i)
        at += " " + m.roles[i].name + " at " + std::to_string(node_at(i, s[i])) + "/" + std::to_string(m.roles[i].nodes.size());
      v.problem("deadlock:" + at);
    }
  }
  out.states = seen.size();
  return out;
}

// ---- the splits of a row ----------------------------------------------------------------------
// The unmutated row's statements and templates, made once.
inline const std::vector<sm100_ptx::Stmt>& plain_statements(const std::string& row) {
  static std::map<std::string, std::vector<sm100_ptx::Stmt>> cache;
  auto it = cache.find(row);
  if (it == cache.end()) it = cache.emplace(row, sm90_decode_protocol::statements(row)).first;
  return it->second;
}
inline const Template& plain_template(const std::string& row, long long rows) {
  static std::map<std::pair<std::string, long long>, Template> cache;
  auto it = cache.find({row, rows});
  if (it == cache.end())
    it = cache.emplace(std::make_pair(row, rows), make_template(plain_statements(row), sm90_decode_protocol::kernel(row), rows)).first;
  return it->second;
}

struct Tally {
  std::size_t splits = 0, explored = 0, states = 0;
  long long events = 0;
  std::string counts() const {  // the test cases' summary line
    return std::to_string(events) + " events; " + std::to_string(explored) + " explored, " + std::to_string(states) +
           " states, no problem";
  }
};
// One split of the unmutated row: its roles executed, checked (static_checks, happens_before)
// and, when it has at most `explore_tiles` tiles (_ho: slots), explored (every state: at most
// kExploreCap); none may find a problem. Its run (the roles' nodes: the causal flag's comparison).
constexpr std::size_t kExploreCap = 200000;
inline Run check_plain(const std::string& row, const Config& c, long long explore_tiles, Tally* t) {
  CAPTURE(row);
  CAPTURE(c.str());
  const Template& tpl = plain_template(row, c.rows);
  REQUIRE_MESSAGE(tpl.error.empty(), tpl.error);
  const Model m = build_model(plain_statements(row), sm90_decode_protocol::kernel(row), c, tpl);
  const Run r = check_model(m, c);
  CHECK_MESSAGE(r.error.empty(), r.error);
  CHECK(r.unknown_branches == 0);
  for (const std::string& p : r.verdict.problems) FAIL_CHECK(p);
  ++t->splits;
  t->events += r.events;
  if (static_cast<long long>(expected_slots(m.f, c).size()) <= explore_tiles) {
    const Explored e = explore(m, kExploreCap);
    CHECK_MESSAGE(!e.capped, "the exploration passed " << kExploreCap << " states");
    ++t->explored;
    t->states += e.states;
    for (const std::string& p : e.verdict.problems) FAIL_CHECK("exploration: " << p);
  }
  return r;
}

// The causal flag changes the rows' limits and the masked sub-blocks, not one node: the split
// with it (checked, not explored) has the sequences of `plain`, its run without it.
inline void check_causal_same(const std::string& row, Config c, const Run& plain, Tally* t) {
  c.causal = true;
  CHECK_MESSAGE(check_plain(row, c, 0, t).sequences == plain.sequences, c.str());
}

}  // namespace sm90_decode_plain
