// "sm90 decode protocol model": the mbarrier protocol of the converter-warp decode rows (WG 3,
// fmha_decode_d256_e4m3_wgc_sm90a: producer warp, 4 consumer warps, 2 converter warps; roles.ptxh,
// converter.ptxh, mainloop_wg_e4m3_pipe.ptxh) checked on the PTX itself, on the CPU:
//
//   * one thread of each role is executed (tests/sm100_model/ptx_exec.h: the integer and address
//     arithmetic, the branches, every mbarrier init / wait with its parity / arrive /
//     expect_tx, TMA loads, wgmma waits, shared-memory stores) for splits of 0..9 tiles with
//     tails, so each role's sequence of synchronisation events is the one its PTX computes;
//   * every wait's parity is checked against the phase the role means (its k-th wait on a
//     barrier waits for completion k: parity k & 1);
//   * the three sequences are then interleaved in every order the barriers allow (explicit
//     state exploration; a role's arrive counts its threads: consumers 128, converters 64, the
//     producer's elected lane 1; a full barrier's transaction bytes land when the producer goes
//     on), and in every reachable state: no deadlock (every role reaches its end), no barrier two
//     phases ahead of a role that still waits on it (the parity test would be fooled), no write
//     into a stage or a V copy that another role is still reading (a consumer or converter reads
//     stage s from its wait on full[s] to its next arrive; a consumer reads copy c from its wait
//     on vfull[c] to its arrive on vempty[c], or to its end), no write into a region another role
//     will still write (the epilogue reuses the ring and the copies);
//   * statically, per role: a copy freed (vempty) only after the P V's wgmma.wait_group 0, a
//     copy published (vfull) only after a fence.proxy.async that follows the stores;
//   * injected bugs, each of which the model must catch (an un-awaited copy, a stage released
//     with the converters' arrivals not counted, a missing vempty or vfull arrive, a vfull parity
//     forced, a copy freed before its P V completed, a copy published without the proxy fence).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "ptx_util.h"
#include "sm100_model/ptx_exec.h"
#include "sm100_model/ptx_roles.h"

namespace {

using ptxfmha_test::KernelMacros;

// the converter-warp row (its _cl twin runs the same loop; its cluster merge after it:
// test_cpu_decode_cluster.cpp)
const char* const kRow = "fmha_decode_d256_e4m3_wgc_sm90a";
constexpr uint64_t kSmem = 0x400;  // the dynamic window (the kernel rounds it up to 1024)

struct Layout {
  long long stages = 0, stage_bytes = 0, copy_off = 0, copy_tile_bytes = 0, bar_full = 0, bar_empty = 0;
  long long consumer_threads = 0, converter_threads = 0, converter0 = 0, producer_thread = 0;
};

// A role's synchronisation event, reduced to what the model needs.
struct Ev {
  enum Kind { Wait, Arrive, ArriveTx, Write, MmaIssue, MmaWait0, Fence } kind;
  uint64_t bar = 0;  // Wait / Arrive / ArriveTx: the barrier
  int parity = 0;    // Wait
  int region = -1;   // Write: stage s (0..STAGES-1) or copy c (STAGES + c)
  std::size_t stmt = 0;
};

struct RoleTrace {
  std::string name;
  int mult = 1;  // arrivals per arrive (the role's threads)
  std::vector<Ev> ev;
};

// The region of a shared-memory byte: stage s, copy STAGES + c, or -1 (Q's tiles, barriers).
int region_of(const Layout& L, uint64_t addr) {
  if (addr < kSmem) return -1;
  const long long off = static_cast<long long>(addr - kSmem);
  if (off < L.stages * L.stage_bytes) return static_cast<int>(off / L.stage_bytes);
  if (off >= L.copy_off && off < L.copy_off + 2 * L.copy_tile_bytes)
    return static_cast<int>(L.stages + (off - L.copy_off) / L.copy_tile_bytes);
  return -1;
}

// Runs thread `tid` and reduces its trace: mbarrier events, TMA loads (a write of the stage of
// their barrier), shared-memory stores into a stage or copy (consecutive stores into one region
// are one write). Inits go to `inits` (barrier -> count).
RoleTrace role_trace(const std::vector<sm100_ptx::Stmt>& st, const KernelMacros& k, const Layout& L,
                     const std::map<long long, uint64_t>& params, const char* name, long long tid, int mult,
                     std::map<uint64_t, long long>* inits, int* unknown_branches, std::string* error) {
  sm100_exec::Thread th(st, k.macros);
  th.tid = static_cast<uint32_t>(tid);
  th.smem_symbol = kSmem;
  th.smem_name = "smem_dyn";
  th.param_name = "dparams";
  th.params = params;
  if (!th.run()) *error = th.error;
  *unknown_branches = th.unknown_branches;
  RoleTrace r;
  r.name = name;
  r.mult = mult;
  for (const sm100_exec::TraceEv& e : th.trace) {
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
    } else {
      continue;
    }
    if (!r.ev.empty() && r.ev.back().kind == x.kind && (x.kind != Ev::Write || r.ev.back().region == x.region) &&
        x.kind != Ev::Wait && x.kind != Ev::Arrive && x.kind != Ev::ArriveTx)
      continue;
    r.ev.push_back(x);
  }
  // The producer's expect_tx completes its phase only when the tile's TMA loads land: the model
  // puts the arrival after the loads' writes (the same thing to every waiter).
  for (std::size_t i = 0; i + 1 < r.ev.size(); ++i)
    if (r.ev[i].kind == Ev::ArriveTx && r.ev[i + 1].kind == Ev::Write) std::swap(r.ev[i], r.ev[i + 1]);
  return r;
}

// Explores every interleaving of the roles' events the barriers allow. Returns the problems
// found (empty: none) and the number of states.
struct Verdict {
  std::vector<std::string> problems;
  std::size_t states = 0;
};

Verdict explore(const std::vector<RoleTrace>& roles, const std::map<uint64_t, long long>& inits, const Layout& L) {
  Verdict v;
  const std::size_t R = roles.size();
  auto problem = [&](const std::string& p) {
    if (v.problems.size() < 8 && std::find(v.problems.begin(), v.problems.end(), p) == v.problems.end())
      v.problems.push_back(p);
  };
  // static: every wait's parity is that of the completion the role means (its k-th wait on a
  // barrier: completion k)
  for (const RoleTrace& r : roles) {
    std::map<uint64_t, int> k;
    for (const Ev& e : r.ev) {
      if (e.kind != Ev::Wait) continue;
      if (!inits.count(e.bar)) problem(r.name + ": waits on an uninitialised barrier (stmt " + std::to_string(e.stmt) + ")");
      if (e.parity != (k[e.bar] & 1))
        problem(r.name + ": wait " + std::to_string(k[e.bar]) + " on barrier +" + std::to_string(e.bar - kSmem) +
                " with parity " + std::to_string(e.parity) + " (stmt " + std::to_string(e.stmt) + ")");
      ++k[e.bar];
    }
  }
  // static: the consumers free a copy (arrive on vempty[c]) only after the wgmmas issued since
  // its vfull wait completed (wgmma.wait_group 0), and the converters publish one (arrive on
  // vfull[c]) only after a fence.proxy.async that follows their last store into it
  for (const RoleTrace& r : roles) {
    bool pending = false, stored = false;
    for (const Ev& e : r.ev) {
      const bool copy_bar = e.bar >= kSmem + L.bar_full + 8 * L.stages && e.bar < kSmem + L.bar_full + 64;
      const bool vempty = e.bar >= kSmem + L.bar_empty + 8 * L.stages && e.bar < kSmem + L.bar_empty + 64;
      if (e.kind == Ev::MmaIssue) pending = true;
      if (e.kind == Ev::MmaWait0) pending = false;
      if (e.kind == Ev::Write && e.region >= L.stages) stored = true;
      if (e.kind == Ev::Fence) stored = false;
      if (e.kind == Ev::Arrive && vempty && pending)
        problem(r.name + ": frees a copy before its P V completed (stmt " + std::to_string(e.stmt) + ")");
      if (e.kind == Ev::Arrive && copy_bar && stored)
        problem(r.name + ": publishes a copy without a proxy fence after its stores (stmt " + std::to_string(e.stmt) + ")");
    }
  }
  // Barrier state from the role positions (each role's executed events are a prefix, and
  // arrivals commute): completed phases, arrivals in the open phase, transaction bytes pending.
  struct Bar {
    long long phases = 0, arrivals = 0;
  };
  using State = std::vector<std::size_t>;
  auto barriers = [&](const State& s) {
    std::map<uint64_t, Bar> b;
    // arrivals are counts, so the phases completed are the arrivals so far over the barrier's
    // count, whatever their order (as the hardware counts them: arrivals past a completion
    // count toward the next phase)
    for (std::size_t i = 0; i < R; ++i)
      for (std::size_t j = 0; j < s[i]; ++j) {
        const Ev& e = roles[i].ev[j];
        if (e.kind != Ev::Arrive && e.kind != Ev::ArriveTx) continue;
        Bar& x = b[e.bar];
        x.arrivals += roles[i].mult;
      }
    for (auto& kv : b) {
      auto it = inits.find(kv.first);
      const long long n = it == inits.end() ? 0 : it->second;
      if (n <= 0) continue;
      kv.second.phases = kv.second.arrivals / n;
      kv.second.arrivals %= n;
    }
    return b;
  };
  auto completed = [](const std::map<uint64_t, Bar>& b, uint64_t bar) {
    auto it = b.find(bar);
    return it == b.end() ? 0LL : it->second.phases;
  };
  // whether role i is reading region g in position s[i]
  auto reading = [&](std::size_t i, const State& s, int g) {
    const std::vector<Ev>& ev = roles[i].ev;
    const bool copy = g >= L.stages;
    const uint64_t want_wait = kSmem + L.bar_full + 8 * static_cast<uint64_t>(g);  // full[s] / vfull[c]
    const uint64_t release = kSmem + L.bar_empty + 8 * static_cast<uint64_t>(g);   // empty[s] / vempty[c]
    bool in = false;
    for (std::size_t j = 0; j < s[i]; ++j) {
      const Ev& e = ev[j];
      if (e.kind == Ev::Wait && e.bar == want_wait) in = roles[i].name != "producer";
      else if (in && e.kind == Ev::Arrive && (copy ? e.bar == release : true)) in = false;
    }
    return in;
  };
  std::set<State> seen;
  std::deque<State> todo;
  State s0(R, 0);
  seen.insert(s0);
  todo.push_back(s0);
  while (!todo.empty()) {
    const State s = todo.front();
    todo.pop_front();
    const std::map<uint64_t, Bar> b = barriers(s);
    // no barrier two phases ahead of a role that still waits on it
    for (std::size_t i = 0; i < R; ++i) {
      std::map<uint64_t, long long> k;
      for (std::size_t j = 0; j < s[i]; ++j)
        if (roles[i].ev[j].kind == Ev::Wait) ++k[roles[i].ev[j].bar];
      std::set<uint64_t> future;
      for (std::size_t j = s[i]; j < roles[i].ev.size(); ++j)
        if (roles[i].ev[j].kind == Ev::Wait) future.insert(roles[i].ev[j].bar);
      for (uint64_t bar : future)
        if (completed(b, bar) > k[bar] + 1)
          problem(roles[i].name + ": barrier +" + std::to_string(bar - kSmem) + " ran two phases ahead of its wait " +
                  std::to_string(k[bar]));
    }
    bool any = false, done = true;
    for (std::size_t i = 0; i < R; ++i) {
      if (s[i] == roles[i].ev.size()) continue;
      done = false;
      const Ev& e = roles[i].ev[s[i]];
      // try_wait.parity passes once the barrier's completed phases differ in parity from e.parity
      if (e.kind == Ev::Wait && (completed(b, e.bar) & 1) == e.parity) continue;
      if (e.kind == Ev::Write) {
        // a write after the role's last wait (the consumers' epilogue reusing the ring and the
        // copies): nobody else may still write the region
        bool last_phase = true;
        for (std::size_t q = s[i]; q < roles[i].ev.size(); ++q)
          if (roles[i].ev[q].kind == Ev::Wait) last_phase = false;
        for (std::size_t o = 0; o < R; ++o) {
          if (o == i) continue;
          if (reading(o, s, e.region))
            problem(roles[i].name + " writes region " + std::to_string(e.region) + " (stmt " + std::to_string(e.stmt) +
                    ") while " + roles[o].name + " reads it");
          if (last_phase && roles[i].name == "consumer")
            for (std::size_t j = s[o]; j < roles[o].ev.size(); ++j)
              if (roles[o].ev[j].kind == Ev::Write && roles[o].ev[j].region == e.region) {
                problem("consumer reuses region " + std::to_string(e.region) + " while " + roles[o].name +
                        " will still write it");
                break;
              }
        }
      }
      State n = s;
      ++n[i];
      any = true;
      if (seen.insert(n).second) todo.push_back(n);
    }
    if (!done && !any) {
      std::string where;
      for (std::size_t i = 0; i < R; ++i)
        where += " " + roles[i].name + " at " + std::to_string(s[i]) + "/" + std::to_string(roles[i].ev.size());
      problem("deadlock:" + where);
    }
  }
  v.states = seen.size();
  return v;
}

const KernelMacros& wgc_kernel() {
  static const KernelMacros k = [] {
    for (const ptxfmha_test::PtxSource& src : ptxfmha_test::ptx_sources())
      if (src.name == kRow) {
        bool ok = false;
        std::string err;
        KernelMacros m{src.name, src.path, ptxfmha_test::cpp_macros(src.path, &ok, &err)};
        REQUIRE_MESSAGE(ok, err);
        return m;
      }
    FAIL("no PTX source of " << kRow);
    return KernelMacros{};
  }();
  return k;
}

Layout layout_of(const KernelMacros& k) {
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
  return L;
}

// One split of `keys` keys (contiguous cache, 64 packed rows: 4 tokens x GQA 16, one KV head).
std::map<long long, uint64_t> params_for(const KernelMacros& k, long long keys) {
  std::map<long long, uint64_t> p;
  auto at = [&](const char* m) { return k.mv(m); };
  for (const auto& kv : k.macros)  // every field 0 (no seqlens, no page table, not causal) but those below
    if (kv.first.rfind("DP_", 0) == 0 && kv.first != "DP_TMA_K" && kv.first != "DP_TMA_V") p[k.mv(kv.first.c_str())] = 0;
  p[at("DP_Q_PTR")] = 0x100000000ull;
  p[at("DP_O_PTR")] = 0x200000000ull;
  p[at("DP_LSE_PTR")] = 0x300000000ull;
  p[at("DP_K_SCALE_PTR")] = 0x400000000ull;
  p[at("DP_V_SCALE_PTR")] = 0x500000000ull;
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

struct Run {
  Verdict verdict;
  std::string error;
  std::size_t events = 0;
  int unknown_branches = 0;
};

Run check_protocol(const std::vector<sm100_ptx::Stmt>& st, const KernelMacros& k, long long keys) {
  const Layout L = layout_of(k);
  const std::map<long long, uint64_t> p = params_for(k, keys);
  std::map<uint64_t, long long> inits;
  Run run;
  std::vector<RoleTrace> roles;
  struct R { const char* name; long long tid; long long mult; };
  for (const R& r : {R{"consumer", 0, L.consumer_threads}, R{"producer", L.producer_thread, 1},
                     R{"converter", L.converter0, L.converter_threads}}) {
    int ub = 0;
    std::string err;
    roles.push_back(role_trace(st, k, L, p, r.name, r.tid, static_cast<int>(r.mult), &inits, &ub, &err));
    if (!err.empty()) run.error = std::string(r.name) + ": " + err;
    if (std::string(r.name) != "consumer") run.unknown_branches += ub;  // the consumers' rescale vote only
    run.events += roles.back().ev.size();
  }
  run.verdict = explore(roles, inits, L);
  return run;
}

std::vector<sm100_ptx::Stmt> wgc_statements() {
  bool ok = false;
  const std::string text = ptxfmha_test::read_text_file(ptxfmha_test::preprocessed_path("sm90a", kRow), &ok);
  REQUIRE_MESSAGE(ok, "missing preprocessed PTX of " << kRow << " (run make)");
  return sm100_ptx::parse_statements(text);
}

// up to 15 tiles: the 4-stage ring wraps three times, each copy is reused 7 times
const long long kKeys[] = {0, 1, 64, 65, 128, 129, 256, 300, 448, 581, 900};

}  // namespace

TEST_CASE("sm90 decode protocol model: the converter-warp row's producer, consumers and converters") {
  const KernelMacros& k = wgc_kernel();
  const std::vector<sm100_ptx::Stmt> st = wgc_statements();
  CHECK(k.mv("CONVERTER_WARPS") == 2);
  CHECK(k.mv("EMPTY_ARRIVALS") == k.mv("CONSUMER_THREADS") + k.mv("CONVERTER_THREADS"));
  std::size_t states = 0, events = 0;
  for (long long keys : kKeys) {
    CAPTURE(keys);
    const Run r = check_protocol(st, k, keys);
    CHECK_MESSAGE(r.error.empty(), r.error);
    CHECK(r.unknown_branches == 0);
    for (const std::string& p : r.verdict.problems) FAIL_CHECK(p);
    // every tile's events are there: the converters wait on full and arrive on vfull and empty
    // per tile, the producer writes every tile
    const long long tiles = (keys + 63) / 64;
    CHECK(r.events >= static_cast<std::size_t>(8 * tiles));
    states += r.verdict.states;
    events += r.events;
  }
  MESSAGE("sm90 decode protocol model (" << std::string(kRow) << "): " << sizeof kKeys / sizeof kKeys[0] << " splits of 0-"
                                         << kKeys[sizeof kKeys / sizeof kKeys[0] - 1] << " keys, " << events
                                         << " events, " << states << " states explored, no problem");
}

namespace {
// An edit of one statement of the executed PTX: the first statement (at or after the one with
// label `after`, if given) whose text starts with `prefix` becomes `replacement` (empty: removed).
struct Mutation {
  const char* what;
  const char* after;
  const char* prefix;
  const char* replacement;
};

bool apply(std::vector<sm100_ptx::Stmt>* st, const Mutation& m) {
  bool armed = m.after == nullptr;
  for (sm100_ptx::Stmt& s : *st) {
    if (!armed)
      for (const std::string& l : s.labels)
        if (l == m.after) armed = true;
    if (armed && s.text.rfind(m.prefix, 0) == 0) {
      s.text = m.replacement;
      return true;
    }
  }
  return false;
}
}  // namespace

TEST_CASE("sm90 decode protocol model: broken synchronisation of the converter warps is caught") {
  const KernelMacros& k = wgc_kernel();
  const std::vector<sm100_ptx::Stmt> st0 = wgc_statements();
  const Mutation muts[] = {
      // the converters convert into a copy without waiting for the P V that still reads it
      {"converter: vempty not awaited", "CV_WAIT_VEMPTY_LOOP", "mbarrier.try_wait", "setp.eq.u32 %p, 0, 0"},
      // the stage's empty barrier counts the consumers only: the producer overwrites V under the converters
      {"empty[s] without the converters' 64 arrivals", nullptr, "mbarrier.init", ""},
      // the consumers never free a copy
      {"consumer: no vempty arrive", "PV_WAIT", "mbarrier.arrive", ""},
      // the consumers' vfull wait with parity 1: passes before the copy is written
      {"consumer: vfull parity forced to 1", "EP_VFULL_LOOP_L", "mbarrier.try_wait", ""},
      // the converters publish a copy without arriving on vfull
      {"converter: no vfull arrive", "CV_PUBLISH", "mbarrier.arrive", ""},
      // the consumers free the copy without waiting for the P V that reads it
      {"consumer: vempty arrive before the P V's wait", "PV_WAIT", "wgmma.wait_group", ""},
      // the converters publish the copy without the proxy fence (the wgmma would read stale data)
      {"converter: no fence.proxy.async", "CV_PUBLISH", "fence.proxy.async", ""},
  };
  int caught = 0, tried = 0;
  for (const Mutation& m : muts) {
    CAPTURE(m.what);
    std::vector<sm100_ptx::Stmt> st = st0;
    bool applied = false;
    if (std::string(m.what) == "empty[s] without the converters' 64 arrivals") {
      // every mbarrier.init whose count is EMPTY_ARRIVALS counts CONSUMER_THREADS instead
      ptxfmha_test::IntExpr ev(k.macros);
      for (sm100_ptx::Stmt& s : st)
        if (s.text.rfind(m.prefix, 0) == 0) {
          const std::size_t comma = s.text.rfind(',');
          std::string count = sm100_ptx::trim(s.text.substr(comma + 1));
          long long n = -1;
          std::string err;
          if (ev.eval(count, &n, &err) && n == k.mv("EMPTY_ARRIVALS")) {
            s.text = s.text.substr(0, comma) + ", " + std::to_string(k.mv("CONSUMER_THREADS"));
            applied = true;
          }
        }
    } else if (std::string(m.what) == "consumer: vfull parity forced to 1") {
      for (std::size_t i = 0; i < st.size() && !applied; ++i)
        for (const std::string& l : st[i].labels)
          if (l == m.after && st[i].text.rfind(m.prefix, 0) == 0) {
            const std::size_t comma = st[i].text.rfind(',');
            st[i].text = st[i].text.substr(0, comma) + ", 1";
            applied = true;
          }
    } else {
      applied = apply(&st, m);
    }
    REQUIRE_MESSAGE(applied, "the edit found nothing to change");
    bool found = false;
    for (long long keys : {300LL, 581LL}) {
      const Run r = check_protocol(st, k, keys);
      if (!r.verdict.problems.empty() || !r.error.empty()) found = true;
      if (found) {
        MESSAGE(std::string(m.what) << ": " << (r.error.empty() ? r.verdict.problems.front() : r.error));
        break;
      }
    }
    ++tried;
    if (found) ++caught;
    CHECK_MESSAGE(found, std::string(m.what) << ": not caught");
  }
  CHECK(tried == 7);
  MESSAGE("sm90 decode protocol mutations: " << caught << " of " << tried << " caught");
}
