// The injected bugs of the "sm90 decode protocol model" (tests/sm90_decode_protocol.h, whose
// header comment says what the model checks): edits of the executed PTX that each break one rule
// of the converter-warp rows' mbarrier protocol, and the loop that checks every one is caught.
//   Mutation, mutate   one edit and its application to the executed statements
//   common_mutations   the edits both rows share (their labels from Row)
//   run_mutations      each edit checked on splits of several key counts
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "sm90_decode_protocol.h"

namespace sm90_decode_protocol {

// An edit of the executed PTX:
//   Edit        the first statement (at or after the one with label `after`, if given; `skip`
//               matches passed over) whose text starts with `prefix` (white space runs as one
//               blank) becomes `replacement` (empty: removed)
//   EmptyInit   the mbarrier.inits of the ring's empty[s] count `a` (found by executing
//   VemptyInit  the init thread), or those of the copies' vempty[c]
//   Parity      the try_wait labelled `after` waits for parity 1
//   BarCount    every bar.sync of named barrier `a` counts `b` threads
struct Mutation {
  enum Kind { Edit, EmptyInit, VemptyInit, Parity, BarCount } kind;
  std::string what;
  const char* after = nullptr;
  const char* prefix = "";
  const char* replacement = "";
  int skip = 0;
  long long a = 0, b = 0;  // EmptyInit / VemptyInit: the new count (a); BarCount: id a, count b
};

// `t` with every run of white space one blank
inline std::string squash(const std::string& t) {
  std::string o;
  for (char c : t)
    if (!std::isspace(static_cast<unsigned char>(c))) o += c;
    else if (!o.empty() && o.back() != ' ') o += ' ';
  return o;
}

inline bool mutate(std::vector<sm100_ptx::Stmt>* st, const Mutation& m, const KernelMacros& k) {
  const Layout L = layout_of(k);
  bool applied = false;
  auto set_count = [&](sm100_ptx::Stmt& s, long long n) {
    const std::size_t comma = s.text.rfind(',');
    s.text = s.text.substr(0, comma) + ", " + std::to_string(n);
    applied = true;
  };
  switch (m.kind) {
    case Mutation::Edit: {
      bool armed = m.after == nullptr;
      int skip = m.skip;
      for (sm100_ptx::Stmt& s : *st) {
        if (!armed)
          for (const std::string& l : s.labels)
            if (l == m.after) armed = true;
        if (armed && squash(s.text).rfind(squash(m.prefix), 0) == 0 && skip-- == 0) {
          s.text = m.replacement;
          return true;
        }
      }
      return false;
    }
    case Mutation::EmptyInit:
    case Mutation::VemptyInit: {
      // the init thread's mbarrier.inits of the ring's empty slots / the copies' vempty slots
      const Raw r = run_thread(*st, k, params_for(k, 64), k.mv("INIT_THREAD"));
      for (const sm100_exec::TraceEv& e : r.trace) {
        if (e.kind != "init") continue;
        const long long slot = (static_cast<long long>(e.addr - kSmem) - L.bar_empty) / 8;
        const bool empty_slot = static_cast<long long>(e.addr - kSmem) >= L.bar_empty && slot < L.stages;
        const bool vempty_slot = slot >= L.stages && slot < L.stages + 2;
        if (m.kind == Mutation::EmptyInit ? empty_slot : vempty_slot) set_count((*st)[e.stmt], m.a);
      }
      return applied;
    }
    case Mutation::Parity:
      for (sm100_ptx::Stmt& s : *st)
        for (const std::string& l : s.labels)
          if (l == m.after && s.text.rfind("mbarrier.try_wait", 0) == 0 && !applied) set_count(s, 1);
      return applied;
    case Mutation::BarCount:
      for (sm100_ptx::Stmt& s : *st) {
        std::string op;
        const std::vector<std::string> o = sm100_ptx::operands(s.text, &op);
        if (op == "bar.sync" && o.size() == 2 && o[0] == std::to_string(m.a)) set_count(s, m.b);
      }
      return applied;
  }
  return false;
}

// The mutations of both rows (the labels from `row`): each must be caught.
inline std::vector<Mutation> common_mutations(const Row& row, const KernelMacros& k) {
  const long long conv = k.mv("CONVERTER_THREADS");
  std::vector<Mutation> m(7);
  // the converters convert into a copy without waiting for the P V that still reads it
  m[0] = {Mutation::Edit, "converter: vempty not awaited", "CV_WAIT_VEMPTY_LOOP", "mbarrier.try_wait", "setp.eq.u32 %p, 0, 0"};
  // the stage's empty barrier counts the consumers only: the producer overwrites V under the converters
  m[1] = {Mutation::EmptyInit, "empty[s] without the converters' " + std::to_string(conv) + " arrivals"};
  m[1].a = k.mv("EMPTY_ARRIVALS") - conv;
  // the consumers never free a copy
  m[2] = {Mutation::Edit, "consumer: no vempty arrive", row.vfree_after, "mbarrier.arrive", ""};
  // the consumers' vfull wait with parity 1: passes before the copy is written
  m[3] = {Mutation::Parity, "consumer: vfull parity forced to 1", row.vfull_loop};
  // the converters publish a copy without arriving on vfull
  m[4] = {Mutation::Edit, "converter: no vfull arrive", "CV_PUBLISH", "mbarrier.arrive", ""};
  // the consumers free the copy without waiting for the P V that reads it
  m[5] = {Mutation::Edit, "consumer: vempty arrive before the P V's wait", row.pv_wait_after, "wgmma.wait_group", ""};
  // the converters publish the copy without the proxy fence (the wgmma would read stale data)
  m[6] = {Mutation::Edit, "converter: no fence.proxy.async", "CV_PUBLISH", "fence.proxy.async", ""};
  return m;
}

// Applies each mutation to `st0` and checks it on splits of `keys`: returns how many were caught
// (each not caught fails the test case; an edit that finds nothing to change stops it).
// `epi`: the unmutated kernel's epilogue regions (no mutation changes an epilogue store), or null.
inline int run_mutations(const Row& row, const std::vector<sm100_ptx::Stmt>& st0, const KernelMacros& k,
                         const std::vector<Mutation>& muts, const std::vector<long long>& keys, const EpiRegions* epi) {
  int caught = 0;
  for (const Mutation& m : muts) {
    CAPTURE(m.what);
    std::vector<sm100_ptx::Stmt> st = st0;
    REQUIRE_MESSAGE(mutate(&st, m, k), "the edit found nothing to change");
    bool found = false;
    for (long long n : keys) {
      const Run r = check_protocol(row, st, k, n, epi);
      if (!r.verdict.problems.empty() || !r.error.empty()) {
        found = true;
        MESSAGE(m.what << ": " << (r.error.empty() ? r.verdict.problems.front() : r.error));
        break;
      }
    }
    if (found) ++caught;
    CHECK_MESSAGE(found, m.what << ": not caught");
  }
  return caught;
}

}  // namespace sm90_decode_protocol
